import DiffusionCore

/// `adjointdeis-k`: sample x_0 with an exponential-integrator sampler on N steps, then solve the adjoint equations
/// with AdjointDEIS-k on M steps (docs/math.md#adjointdeis-1, #adjointdeis-2m, #adjointdeis-3m), x_t from exact,
/// recorded or re-solved states. One type for every k: the registry entries differ only in their `MultistepRule`.
///
/// Cost: N eps (sampling; exact states: the RK45 forward solve instead) + M VJPs (the adjoint), + N eps for
/// re-solved SDE states (the Cycle-SDE re-run). Memory: recorded states O(N d); exact states the RK45 dense output;
/// re-solved ODE states O(k d) (the current state and the sampler's k-deep history of eps).
public struct AdjointDEISMethod: GradientMethod {
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
  /// How the adjoint extrapolates its integrand (the `--weight` option sets a 2M rule's weight).
  public var rule: any MultistepRule
  public var sampler: SamplerKind
  /// N, the sampling steps, and M, the adjoint steps.
  public var samplerSteps: Int
  public var adjointSteps: Int
  public var states: StateChoice
  public var grid: GridSpacing
  public var noise: NoiseSource
  /// RK45 tolerances of the exact states.
  public var rtol: Double
  public var atol: Double
  public var wantParameters: Bool

  public var dynamics: Dynamics { sampler.dynamics }
  /// The name with the 2M weight in brackets, the dynamics and the states, e.g. `adjointdeis-2m[phi2]/ode/exact`.
  public var label: String {
    var base = name
    if let twoM = rule as? SecondOrderMultistep {
      base = "adjointdeis-2m" + (twoM.weight == .phi2 ? "[phi2]" : "")
    }
    return "\(base)/\(sampler.isSDE ? "sde" : "ode")/\(states.rawValue)"
  }

  /// `odeSampler`: the ODE sampler it pairs with unless the context or the user names one; `weightOption`: whether
  /// `--weight` may change the rule's 2M weight.
  public init(name: String, rule: any MultistepRule, odeSampler: SamplerKind, weightOption: Bool = false, given: GradientOptions,
              defaults: GradientOptions = GradientOptions()) throws {
    self.name = name
    try given.reject([.checkpoint, .rk45States], method: name)
    try given.rejectLinearPart(method: name)
    if !weightOption { try given.reject([.weight], method: name) }
    let o = GradientOptions.resolve(given, over: defaults)
    sampler = try GradientOptions.sampler(given, over: defaults, odeDefault: odeSampler)
    self.rule = weightOption ? SecondOrderMultistep(weight: o.weight ?? .paper) : rule
    samplerSteps = o.samplerSteps ?? 20
    adjointSteps = o.adjointSteps ?? samplerSteps
    states = o.states ?? .recorded
    grid = o.grid ?? .timeUniform
    noise = o.noise ?? .seeded(0)
    rtol = o.rtol ?? 1e-12
    atol = o.atol ?? 1e-12
    wantParameters = o.wantParameters ?? true
    if given.noise != nil && !sampler.isSDE {
      throw InvalidInput(given.set.contains(.seed) ? "seed" : "noise", "only the sde sampler draws noise")
    }
    if states != .exact { try given.reject([.rtol, .atol], method: "\(name) without exact states") }
    try Budget.count(samplerSteps, "sampler-steps", maximum: Budget.Limit.steps)
    try Budget.count(adjointSteps, "steps", maximum: Budget.Limit.steps)
    guard rtol > 0, atol > 0, rtol.isFinite, atol.isFinite else { throw InvalidInput("rtol", "rtol and atol must be positive and finite") }
    switch (states, sampler.isSDE) {
    case (.exact, true):
      throw InvalidInput("states", "exact states come from the probability-flow ODE; the SDE path has no exact form (use recorded or resolved)")
    case (.recorded, _), (.resolved, true):
      if adjointSteps != samplerSteps {
        throw InvalidInput("steps", "\(states.rawValue) states of the \(sampler.rawValue) sampler exist only on its grid: M must equal N (got M = \(adjointSteps), N = \(samplerSteps))")
      }
    default: break
    }
  }

  public func validate<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws {
    try Budget.checkPathMemory(steps: samplerSteps, dimension: p.model.dataDimension)
    _ = try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: samplerSteps, spacing: grid)
    try p.z.validate(dimension: p.model.conditionDimension, steps: samplerSteps)
  }

  public func gradient<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws -> GradientResult {
    try validate(p)
    let (model, z) = (p.model, p.z)
    let samplingGrid = try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: samplerSteps, spacing: grid)
    let scheduleGrid: TimeGrid? = z.count > 1 ? samplingGrid : nil
    let adjoint = AdjointDEIS(rule: rule, dynamics: dynamics, wantParameters: wantParameters)
    let adjointGrid = adjointSteps == samplerSteps
      ? samplingGrid : try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: adjointSteps, spacing: grid)
    let x0: [Double], source: AdjointStates, sampling: EvaluationCount
    var resampled = 0
    if states == .exact {
      let reference = try ReferenceAdjoint(rtol: rtol, atol: atol, wantParameters: wantParameters)
      let forward = try reference.sampleODE(model: model, schedule: p.schedule, T: p.T, tEps: p.tEps, xT: p.xT, z: z, samplingGrid: scheduleGrid)
      (x0, source, sampling) = (forward.x0, .exact(forward.state), EvaluationCount(eps: forward.statistics.rhsEvaluations))
    } else {
      let draws = sampler.isSDE ? try noise.draws(grid: samplingGrid, dimension: model.dataDimension) : []
      var path = try Sampler(kind: sampler).sample(model: model, grid: samplingGrid, xT: p.xT, z: z, noise: draws)
      sampling = path.evaluations
      x0 = path.x0
      switch (states, sampler) {
      case (.recorded, _): source = .recorded(path.states)
      case (.resolved, .sde):
        // Cycle-SDE (docs/math.md#cycle-sde): recover the noise from the recorded path and re-run the same path from it.
        let recovered = Sampler.recoverNoise(path)
        path = try Sampler(kind: .sde).sample(model: model, grid: samplingGrid, xT: p.xT, z: z, noise: recovered)
        source = .recorded(path.states)
        resampled = samplerSteps
      default: source = .resolved(x0: x0, sampler: sampler)
      }
    }
    let lossValue = p.loss.value(x0)
    try Check.finite(lossValue, "loss")
    let solution = try adjoint.solve(model: model, grid: adjointGrid, states: source, z: z,
                                     samplingGrid: scheduleGrid, aX0: p.loss.gradient(x0))
    var adjointCount = solution.evaluations
    adjointCount.eps += resampled
    var result = GradientResult(x0: x0, loss: lossValue, gradXT: solution.ax, gradZ: solution.az, gradTheta: solution.atheta,
                                sampling: sampling, adjoint: adjointCount)
    result.hMax = adjointGrid.hMax
    return result
  }
}
