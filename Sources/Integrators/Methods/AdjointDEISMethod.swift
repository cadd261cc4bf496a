import DiffusionCore

/// `adjointdeis-k`: sample x_0 with an exponential-integrator sampler on N steps, then solve the adjoint equations
/// with AdjointDEIS-k on M steps (docs/math.md#adjointdeis-1, #adjointdeis-2m, #adjointdeis-3m), x_t from exact,
/// recorded or re-solved states. One type for every k: the registry entries differ only in their `MultistepRule`.
///
/// Cost: N eps (sampling; exact states: the RK45 forward solve instead) + M VJPs (the adjoint), + N eps for
/// re-solved SDE states (the Cycle-SDE re-run). Memory: recorded states O(N d); exact states the RK45 dense output;
/// re-solved ODE states O(k d) in the sweep (the current state and the sampler's k-deep history of eps).
public struct AdjointDEISMethod: SweepBackMethod {
  public static let firstOrder = GradientMethodEntry(
    name: "adjointdeis-1", summary: "AdjointDEIS-1 (first order)",
    make: { try GaussianLinearAdjointMethod.replacing("adjointdeis-1", order: 1, given: $0, defaults: $1)
      ?? AdjointDEISMethod(name: "adjointdeis-1", rule: FirstOrderRule(), odeSampler: .dpmSolver1, given: $0, defaults: $1) })
  public static let secondOrderMultistep = GradientMethodEntry(
    name: "adjointdeis-2m", summary: "AdjointDEIS-2M (second-order multistep; --weight paper|phi2)",
    make: { try GaussianLinearAdjointMethod.replacing("adjointdeis-2m", order: 2, given: $0, defaults: $1)
      ?? AdjointDEISMethod(name: "adjointdeis-2m", rule: SecondOrderMultistep(weight: .paper), odeSampler: .dpmSolver2M, weightOption: true,
                           given: $0, defaults: $1) })
  public static let secondOrderMultistepPhi2 = GradientMethodEntry(
    name: "adjointdeis-2m-phi2", summary: "AdjointDEIS-2M with the exact phi_2 weight",
    make: { try AdjointDEISMethod(name: "adjointdeis-2m-phi2", rule: SecondOrderMultistep(weight: .phi2), odeSampler: .dpmSolver2M,
                                  given: $0, defaults: $1) })

  public let name: String
  /// The adjoint's form: `noise` (the paper's eps form, the default) or `data` (docs/math.md#adjoint-data-form;
  /// k = 1 and 2M, ODE).
  public var parameterization: Parameterization = .noise
  /// How the adjoint extrapolates its integrand (the `--weight` option sets a 2M rule's weight).
  public var rule: any MultistepRule
  public var settings: SweepSettings
  /// The paper's form, or the angle form for the network's output (docs/math.md#angle-form).
  public var form: AdjointForm = .standard
  public var output: NetworkOutput = .epsilon
  /// Whether the user named the angle form (then it is refused where it has no meaning, instead of falling back).
  public var angleAsked = false

  /// The name with the 2M weight in brackets, the dynamics and the states, e.g. `adjointdeis-2m[phi2]/ode/exact`.
  public var label: String {
    var base = name
    if let twoM = rule as? SecondOrderMultistep {
      base = "adjointdeis-2m" + (twoM.weight == .phi2 ? "[phi2]" : "")
    }
    let suffix = parameterization == .data ? "/data" : (form == .angle ? "/angle" : "")
    return "\(base)/\(sampler.isSDE ? "sde" : "ode")/\(states.rawValue)" + suffix
  }

  /// `odeSampler`: the ODE sampler it pairs with unless the context or the user names one; `weightOption`: whether
  /// `--weight` may change the rule's 2M weight.
  public init(name: String, rule: any MultistepRule, odeSampler: SamplerKind, weightOption: Bool = false, given: GradientOptions,
              defaults: GradientOptions = GradientOptions()) throws {
    self.name = name
    try given.rejectLinearPart(method: name)
    let unused: [GradientOption] = [.checkpoint, .rk45States] + (weightOption ? [] : [.weight])
    let usesData = rule.order <= 2
    settings = try SweepSettings(method: name, rules: SweepRules(odeSampler: odeSampler, unusedOptions: unused,
                                                                 uses: (usesData ? [.parameterization] : []) + [.adjointForm]),
                                 given: given, defaults: defaults)
    let resolved = GradientOptions.resolve(given, over: defaults)
    self.rule = weightOption ? SecondOrderMultistep(weight: resolved.weight ?? .paper) : rule
    // a context's default data form (a flow-matching or EDM pipeline's, PipelineDefaults.adjoint) where that form exists
    parameterization = given.parameterization ?? (usesData && !settings.sampler.isSDE ? defaults.parameterization : nil) ?? .noise
    if parameterization == .data && settings.sampler.isSDE {
      throw InvalidInput("parameterization", "\(name)'s data-prediction form is written for the probability-flow ODE; the SDE adjoint has the eps form only")
    }
    form = resolved.adjointForm ?? .standard
    output = resolved.networkOutput ?? .epsilon
    angleAsked = given.adjointForm == .angle
    if form == .angle {
      // a form the user asked for is checked; a context default (a pipeline's) falls back to the paper's where it has no meaning
      if settings.sampler.isSDE || self.rule.order > 2 || parameterization == .data {
        guard !angleAsked else {
          let why = parameterization == .data ? "with the data-prediction form (--parameterization data), which is another adjoint"
            : (settings.sampler.isSDE ? "with the SDE" : "")
          throw InvalidInput("adjoint-form", "the angle form is an ODE adjoint of order 1 or 2M in the eps form; \(name) \(why) has none")
        }
        form = .standard
      }
    }
  }

  /// The angle form the user named needs a variance-preserving schedule; checked before any work.
  public func validateMethod<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws {
    if form == .angle && angleAsked && !p.schedule.isVariancePreserving {
      throw InvalidInput("adjoint-form", "the angle form assumes alpha^2 + sigma^2 = 1 (docs/math.md#angle-form); \(p.schedule.name) is not variance preserving: use --parameterization data")
    }
  }

  public func sweep<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>, forward: ForwardPass, grids: SweepGrids,
                                                       aX0: [Double]) throws -> SweepResult {
    if form == .angle && p.schedule.isVariancePreserving {
      let angle = try AngleAdjoint(order: rule.order, output: output, wantParameters: settings.wantParameters)
      let solution = try angle.solve(model: p.model, grid: grids.sweep, states: forward.states!, z: p.z,  // invariant: the shared forward sets states
                                     samplingGrid: grids.schedule, aX0: aX0)
      return SweepResult(solution: solution, storedStates: forward.states!.sweepStates(order: rule.order))  // invariant: as above
    }
    let solution = parameterization == .data
      ? try AdjointDEISData(rule: rule, wantParameters: settings.wantParameters)
        .solve(model: p.model, grid: grids.sweep, states: forward.states!, z: p.z, samplingGrid: grids.schedule, aX0: aX0)  // invariant: as below
      : try AdjointDEIS(rule: rule, dynamics: dynamics, wantParameters: settings.wantParameters).solve(model: p.model, grid: grids.sweep, states: forward.states!, z: p.z,  // invariant: the shared forward sets states
                                     samplingGrid: grids.schedule, aX0: aX0)
    return SweepResult(solution: solution, storedStates: forward.states!.sweepStates(order: rule.order))  // invariant: as above
  }
}
