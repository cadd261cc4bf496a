import DiffusionCore

/// `adjointdeis-k`: sample x_0 with an exponential-integrator sampler on N steps, then solve the adjoint equations
/// with AdjointDEIS-k on M steps (docs/math.md#adjointdeis-1, #adjointdeis-2m), x_t from exact, recorded or
/// re-solved states.
///
/// Cost: N eps (sampling; exact states: the RK45 forward solve instead) + M VJPs (the adjoint), + N eps for
/// re-solved SDE states (the Cycle-SDE re-run). Memory: recorded states O(N d); exact states the RK45 dense output;
/// re-solved ODE states O(k d) (the current state and the sampler's k-deep history of eps).
public struct AdjointDEISMethod: GradientMethod {
  public static let firstOrder = GradientMethodEntry(
    name: "adjointdeis-1", summary: "AdjointDEIS-1 (first order)",
    make: { try AdjointDEISMethod(name: "adjointdeis-1", order: 1, weight: nil, given: $0, defaults: $1) })
  public static let secondOrderMultistep = GradientMethodEntry(
    name: "adjointdeis-2m", summary: "AdjointDEIS-2M (second-order multistep; --weight paper|phi2)",
    make: { try AdjointDEISMethod(name: "adjointdeis-2m", order: 2, weight: nil, given: $0, defaults: $1) })
  public static let secondOrderMultistepPhi2 = GradientMethodEntry(
    name: "adjointdeis-2m-phi2", summary: "AdjointDEIS-2M with the exact phi_2 weight",
    make: { try AdjointDEISMethod(name: "adjointdeis-2m-phi2", order: 2, weight: .phi2, given: $0, defaults: $1) })

  public let name: String
  public var order: Int
  public var weight: MultistepWeight
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
  public var label: String {
    let w = order == 2 && weight == .phi2 ? "[phi2]" : ""
    return "adjointdeis-\(order == 1 ? "1" : "2m")\(w)/\(sampler.isSDE ? "sde" : "ode")/\(states.rawValue)"
  }

  /// `fixedWeight`: the weight the registry name implies (then `weight` is not an option).
  public init(name: String, order: Int, weight fixedWeight: MultistepWeight?, given: GradientOptions,
              defaults: GradientOptions = GradientOptions()) throws {
    self.name = name
    self.order = order
    try given.reject([.checkpoint, .rk45States], method: name)
    if order == 1 || fixedWeight != nil { try given.reject([.weight], method: name) }
    let o = GradientOptions.resolve(given, over: defaults)
    sampler = try GradientOptions.sampler(given, over: defaults, odeDefault: order == 1 ? .dpmSolver1 : .dpmSolver2M)
    weight = fixedWeight ?? o.weight ?? .paper
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
    let adjoint = try AdjointDEIS(order: order, weight: weight, dynamics: dynamics, wantParameters: wantParameters)
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
      default: source = .resolved(x0: x0, order: sampler == .dpmSolver2M ? 2 : 1)
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
