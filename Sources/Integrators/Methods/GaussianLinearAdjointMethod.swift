import DiffusionCore

/// `adjointdeis-gl-1`, `-2m`, `-3m` (also reached as `adjointdeis-1` / `adjointdeis-2m` with `--linear-part
/// isotropic|gaussian`): the adjoint with a Gaussian linear part (docs/gaussian-linear-part.md#a-x), k = 1, 2M, 3M,
/// on the probability-flow ODE or, along a recorded SDE path, the SDE (docs/gaussian-linear-part.md#sde). Recorded ODE
/// states come from the matching sampler (docs/gaussian-linear-part.md#sampler; k = 1 for dpm-solver-1, 2M for
/// dpm-solver-2m), so that recorded states carry the same linear part; SDE states from the SDE sampler.
///
/// Cost: N eps (sampling; exact states: the RK45 forward solve instead) + M VJPs, plus d x (10 per lambda-panel)
/// exponentials and two products with Q per step. Memory: recorded states O(N d), Q (d x d), the last k residuals.
public struct GaussianLinearAdjointMethod: GradientMethod {
  public static let firstOrder = entry("adjointdeis-gl-1", order: 1, "adjoint with a Gaussian linear part, k = 1 (--linear-part isotropic|gaussian)")
  public static let secondOrderMultistep = entry("adjointdeis-gl-2m", order: 2, "adjoint with a Gaussian linear part, 2M")
  public static let thirdOrderMultistep = entry("adjointdeis-gl-3m", order: 3, "adjoint with a Gaussian linear part, 3M")

  static func entry(_ name: String, order: Int, _ summary: String) -> GradientMethodEntry {
    GradientMethodEntry(name: name, summary: summary, make: { try GaussianLinearAdjointMethod(name: name, order: order, given: $0, defaults: $1) })
  }

  /// The method `adjointdeis-k` becomes with a linear part other than none; nil for none (the paper's solver).
  public static func replacing(_ name: String, order: Int, given: GradientOptions, defaults: GradientOptions) throws -> (any GradientMethod)? {
    let part = given.linearPart ?? defaults.linearPart ?? .none
    guard part != .none else {
      try given.rejectStatisticsWithoutLinearPart()
      return nil
    }
    return try GaussianLinearAdjointMethod(name: name, order: order, given: given, defaults: defaults)
  }

  public let name: String
  public var order: Int
  public var linearPart: LinearPartKind
  public var statistics: DataStatistics?
  public var sampler: SamplerKind
  public var samplerSteps: Int
  public var adjointSteps: Int
  public var states: StateChoice
  public var grid: GridSpacing
  public var noise: NoiseSource
  public var rtol: Double
  public var atol: Double
  public var wantParameters: Bool

  public var dynamics: Dynamics { sampler.dynamics }
  public var label: String {
    "adjointdeis-gl-\(order == 1 ? "1" : "\(order)m")[\(linearPart.rawValue)]/\(sampler.isSDE ? "sde" : "ode")/\(states.rawValue)"
  }

  public init(name: String, order: Int, given: GradientOptions, defaults: GradientOptions = GradientOptions()) throws {
    self.name = name
    self.order = order
    try given.reject([.checkpoint, .rk45States, .weight], method: name)
    let o = GradientOptions.resolve(given, over: defaults)
    linearPart = o.linearPart ?? .gaussian
    if linearPart == .none {
      throw InvalidInput("linear-part", "none is the paper's solver: use adjointdeis-1 or adjointdeis-2m, or give isotropic or gaussian")
    }
    statistics = o.statistics
    sampler = try GradientOptions.sampler(given, over: defaults, odeDefault: order == 1 ? .dpmSolver1 : .dpmSolver2M)
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
    try Check.positive(samplerSteps, "sampler-steps")
    try Check.positive(adjointSteps, "steps")
    guard rtol > 0, atol > 0, rtol.isFinite, atol.isFinite else { throw InvalidInput("rtol", "rtol and atol must be positive and finite") }
    switch (states, sampler.isSDE) {
    case (.exact, true):
      throw InvalidInput("states", "exact states come from the probability-flow ODE; the SDE path has no exact form (use recorded)")
    case (.resolved, _):
      throw InvalidInput("states", "re-solved states are not available with a linear part (use exact or recorded)")
    case (.recorded, _):
      if adjointSteps != samplerSteps {
        throw InvalidInput("steps", "recorded states of the \(sampler.rawValue) sampler exist only on its grid: M must equal N (got M = \(adjointSteps), N = \(samplerSteps))")
      }
    default: break
    }
  }

  public func validate<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws {
    _ = try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: samplerSteps, spacing: grid)
    try p.z.validate(dimension: p.model.conditionDimension, steps: samplerSteps)
    _ = try Self.linearPart(linearPart, model: p.model, z: p.z, given: statistics)
  }

  /// The linear part from the given statistics, else the model's own; an error naming the option when neither exists.
  public static func linearPart<M: NoisePredictor>(_ kind: LinearPartKind, model: M, z: Conditioning, given: DataStatistics?) throws -> GaussianLinearPart {
    let statistics: DataStatistics
    if let given {
      guard given.dimension == model.dataDimension else {
        throw InvalidInput("statistics", "the statistics have dimension \(given.dimension), the model \(model.dataDimension)")
      }
      statistics = given
    } else if let provider = model as? DataStatisticsProvider {
      // with a z schedule: the statistics of the first step's z (docs/gaussian-linear-part.md#the-split)
      statistics = try provider.dataStatistics(z: z.z(step: 0))
    } else {
      throw InvalidInput("linear-part", "\(kind.rawValue) needs the data statistics, which this model cannot supply: give --statistics FILE (mean and covariance, or mean and variance)")
    }
    return try GaussianLinearPart(statistics: statistics, kind: kind)
  }

  public func gradient<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws -> GradientResult {
    try validate(p)
    let (model, z) = (p.model, p.z)
    let part = try Self.linearPart(linearPart, model: model, z: z, given: statistics)
    let samplingGrid = try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: samplerSteps, spacing: grid)
    let scheduleGrid: TimeGrid? = z.count > 1 ? samplingGrid : nil
    let adjoint = try GaussianLinearAdjoint(order: order, linearPart: part, dynamics: dynamics, wantParameters: wantParameters)
    let adjointGrid = adjointSteps == samplerSteps
      ? samplingGrid : try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: adjointSteps, spacing: grid)
    let x0: [Double], source: AdjointStates, sampling: EvaluationCount
    if states == .exact {
      let reference = try ReferenceAdjoint(rtol: rtol, atol: atol, wantParameters: wantParameters)
      let forward = try reference.sampleODE(model: model, schedule: p.schedule, T: p.T, tEps: p.tEps, xT: p.xT, z: z, samplingGrid: scheduleGrid)
      (x0, source, sampling) = (forward.x0, .exact(forward.state), EvaluationCount(eps: forward.statistics.rhsEvaluations))
    } else if sampler.isSDE {
      let draws = try noise.draws(grid: samplingGrid, dimension: model.dataDimension)
      let path = try Sampler(kind: .sde).sample(model: model, grid: samplingGrid, xT: p.xT, z: z, noise: draws)
      (x0, source, sampling) = (path.x0, .recorded(path.states), path.evaluations)
    } else {
      let path = try linearSampler(part).sample(model: model, grid: samplingGrid, xT: p.xT, z: z)
      (x0, source, sampling) = (path.x0, .recorded(path.states), path.evaluations)
    }
    let lossValue = p.loss.value(x0)
    try Check.finite(lossValue, "loss")
    let solution = try adjoint.solve(model: model, grid: adjointGrid, states: source, z: z, samplingGrid: scheduleGrid,
                                     aX0: p.loss.gradient(x0))
    try Check.finite(solution.ax, "dL/dx_T")
    var result = GradientResult(x0: x0, loss: lossValue, gradXT: solution.ax, gradZ: solution.az, gradTheta: solution.atheta,
                                sampling: sampling, adjoint: solution.evaluations)
    result.hMax = adjointGrid.hMax
    return result
  }
}

extension GradientOptions {
  /// `--statistics` means nothing without a linear part.
  public func rejectStatisticsWithoutLinearPart() throws {
    if statistics != nil { throw InvalidInput("statistics", "has no meaning without --linear-part isotropic or gaussian") }
  }

  /// For methods with no linear part: only `none` (or nothing) is accepted.
  public func rejectLinearPart(method: String) throws {
    if let part = linearPart, part != .none {
      throw InvalidInput("linear-part", "\(method) has no linear part (only none)")
    }
    try rejectStatisticsWithoutLinearPart()
  }
}
