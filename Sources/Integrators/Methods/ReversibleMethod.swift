import DiffusionCore

/// `rex-euler`, `rex-midpoint`, `rex-rk4`, `reversible-heun`, `bdia`, `edict`: an algebraically reversible sampler
/// (docs/reversible-solvers.md) and the exact gradient of its discrete output at O(1) memory: the forward sweep keeps
/// only its last state, the backward sweep reconstructs each earlier state with the step's inverse and pulls the
/// cotangent through it (`ReversibleGradient`). Rex takes `--coupling` (zeta in (0, 1], default 0.999) and a
/// parameterization (`data`, the default, or `noise`), BDIA `--gamma` (default 1), EDICT `--mix` (default 0.93).
///
/// Cost (N steps, s stages of Rex's base step): Rex N(s forwards) to sample, then per step 2(s - 1) forwards and 2s
/// VJPs; reversible Heun 1 forward per step, then 1 forward and 1 VJP; BDIA and EDICT see their types.
/// Memory: twice the carried state (the current one and the start state kept for the round-trip check), 2 x 2
/// d-vectors. A reconstruction whose round-trip error of x_T exceeds 1e-6 is refused, naming the option that
/// decides its stability.
public struct ReversibleMethod: SweepBackMethod {
  public enum Scheme: String, CaseIterable, Sendable {
    case rexEuler = "rex-euler"
    case rexMidpoint = "rex-midpoint"
    case rexRK4 = "rex-rk4"
    case reversibleHeun = "reversible-heun"
    case bdia
    case edict

    var summary: String {
      switch self {
      case .rexEuler, .rexMidpoint, .rexRK4:
        return "Rex (reversible exponential solver, \(rawValue.dropFirst(4)) base step; --coupling, data|noise), exact gradient at O(1) memory"
      case .reversibleHeun: return "reversible Heun (Kidger et al. 2021), exact gradient at O(1) memory"
      case .bdia: return "BDIA-DDIM (Zhang et al. 2024; --gamma), exact gradient at O(1) memory"
      case .edict: return "EDICT (Wallace et al. 2023; --mix), exact gradient at O(1) memory"
      }
    }

    /// The options this scheme takes.
    var options: [GradientOption] {
      switch self {
      case .rexEuler, .rexMidpoint, .rexRK4: return [.coupling, .parameterization]
      case .reversibleHeun: return [.parameterization]
      case .bdia: return [.gamma]
      case .edict: return [.mix]
      }
    }
  }

  public static let entries: [GradientMethodEntry] = Scheme.allCases.map { scheme in
    GradientMethodEntry(name: scheme.rawValue, summary: scheme.summary, make: { try ReversibleMethod(scheme, given: $0, defaults: $1) })
  }

  public let scheme: Scheme
  /// The reversible sampler (`sampler`, from the shared settings, names no grid sampler here).
  public let reversible: any ReversibleSampler
  public var storage: ReversibleGradient.Storage = .reconstruct
  public var settings: SweepSettings

  public var name: String { scheme.rawValue }
  public var label: String { reversible.label + (storage == .stored ? "/stored" : "") }
  /// A reversible sampler integrates the probability-flow ODE.
  public var dynamics: Dynamics { .ode }

  public init(_ scheme: Scheme, given: GradientOptions, defaults: GradientOptions = GradientOptions()) throws {
    self.scheme = scheme
    try given.rejectLinearPart(method: scheme.rawValue)
    if given.sampler?.isSDE == true || given.dynamics == .sde {
      throw InvalidInput("sampler", "\(scheme.rawValue) is a probability-flow ODE sampler; it has no SDE form")
    }
    let rules = SweepRules(odeSampler: .dpmSolver1, unusedOptions: [.sampler, .states, .weight, .checkpoint, .rk45States, .seed, .noise],
                           uses: scheme.options, sweepsTheSamplersSteps: true)
    var ode = defaults
    ode.dynamics = .ode  // a study's SDE default does not make this an SDE method: the study refuses it by its dynamics
    ode.sampler = nil
    settings = try SweepSettings(method: scheme.rawValue, rules: rules, given: given, defaults: ode)
    let o = GradientOptions.resolve(given, over: defaults)
    let parameterization = o.parameterization ?? .data
    switch scheme {
    case .rexEuler: reversible = try Rex(tableau: .euler, parameterization: parameterization, coupling: o.coupling ?? 0.999)
    case .rexMidpoint: reversible = try Rex(tableau: .midpoint, parameterization: parameterization, coupling: o.coupling ?? 0.999)
    case .rexRK4: reversible = try Rex(tableau: .rk4, parameterization: parameterization, coupling: o.coupling ?? 0.999)
    case .reversibleHeun: reversible = ReversibleHeun(parameterization: parameterization)
    case .bdia: reversible = try BDIA(gamma: o.gamma ?? 1)
    case .edict: reversible = try EDICT(mix: o.mix ?? 0.93)
    }
  }

  public func validateMethod<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws {
    try PureNoise.refuse(p, method: name, because: PureNoise.reversible)
  }

  var reversibleGradient: ReversibleGradient {
    get throws { try ReversibleGradient(sampler: reversible, storage: storage, wantParameters: settings.wantParameters) }
  }

  /// The exact gradient of the same sampler with every state stored (no inverse): equal to this one to rounding.
  public var discreteReference: (any GradientMethod)? {
    var stored = self
    stored.storage = .stored
    return stored
  }

  /// x_0 as this method's gradient sees it: its own sampler from x_T on its grid (N sampling forwards, O(1) memory),
  /// for callers that show or score the sample (the morph experiment, guided generation).
  public func sample<M: NoisePredictor>(model: M, schedule: NoiseSchedule, tEps: Double, T: Double, xT: [Double], z: Conditioning) throws -> [Double] {
    let grid = try TimeGrid(schedule: schedule, tEps: tEps, T: T, steps: settings.samplerSteps, spacing: settings.grid)
    var count = EvaluationCount()
    return reversible.output(try reversible.sample(xT: xT, grid: grid, schedule: schedule, model: model, z: z, count: &count))
  }

  public func forward<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>, grids: SweepGrids) throws -> ForwardPass {
    let pass = try reversibleGradient.forward(model: p.model, schedule: p.schedule, grid: grids.sampling, xT: p.xT, z: p.z)
    return ForwardPass(x0: pass.x0, states: nil, sampling: pass.sampling, storedStates: 0, carry: pass)
  }

  public func sweep<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>, forward: ForwardPass, grids: SweepGrids,
                                                       aX0: [Double]) throws -> SweepResult {
    guard let pass = forward.carry as? ReversibleGradient.Forward else {
      throw InvalidInput("solver", "\(name): the forward pass did not come from its own sampler")  // invariant: `forward` above
    }
    let back = try reversibleGradient.backward(pass, model: p.model, schedule: p.schedule, grid: grids.sampling, xT: p.xT, z: p.z, gx0: aX0)
    let solution = AdjointSolution(ax: back.gradXT, az: back.gradZ, atheta: back.gradTheta, evaluations: back.evaluations)
    return SweepResult(solution: solution, storedStates: back.storedStates, roundTripError: back.roundTripError)
  }
}
