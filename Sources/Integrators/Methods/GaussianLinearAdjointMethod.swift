import DiffusionCore

/// `adjointdeis-gl-1`, `-2m`, `-3m` (also reached as `adjointdeis-1` / `adjointdeis-2m` with `--linear-part
/// isotropic|gaussian`): the adjoint with a Gaussian linear part (docs/gaussian-linear-part.md#a-x), k = 1, 2M, 3M,
/// on the probability-flow ODE or, along a recorded SDE path, the SDE (docs/gaussian-linear-part.md#sde). Recorded ODE
/// states come from the matching sampler (docs/gaussian-linear-part.md#sampler; k = 1 for dpm-solver-1, 2M for
/// dpm-solver-2m), so that recorded states carry the same linear part; SDE states from the SDE sampler.
///
/// Cost: N eps (sampling; exact states: the RK45 forward solve instead) + M VJPs, plus d x (10 per lambda-panel)
/// exponentials and two products with Q per step. Memory: recorded states O(N d), Q (d x d), the last k residuals.
public struct GaussianLinearAdjointMethod: SweepBackMethod {
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
  public var settings: SweepSettings


  public var label: String {
    "adjointdeis-gl-\(order == 1 ? "1" : "\(order)m")[\(linearPart.rawValue)]/\(sampler.isSDE ? "sde" : "ode")/\(states.rawValue)"
  }

  public init(name: String, order: Int, given: GradientOptions, defaults: GradientOptions = GradientOptions()) throws {
    self.name = name
    self.order = order
    let o = GradientOptions.resolve(given, over: defaults)
    linearPart = o.linearPart ?? .gaussian
    if linearPart == .none {
      throw InvalidInput("linear-part", "none is the paper's solver: use adjointdeis-1 or adjointdeis-2m, or give isotropic or gaussian")
    }
    statistics = o.statistics
    let rules = SweepRules(odeSampler: order == 1 ? .dpmSolver1 : .dpmSolver2M, unusedOptions: [.checkpoint, .rk45States, .weight],
                           unavailableStates: [.resolved: "re-solved states are not available with a linear part (use exact or recorded)"])
    settings = try SweepSettings(method: name, rules: rules, given: given, defaults: defaults)
  }

  /// DTO through the same Gaussian-linear sampler (dto-gl) for recorded ODE states; DTO through the SDE sampler on
  /// the SDE; nil for exact states.
  public var discreteReference: (any GradientMethod)? {
    guard states == .recorded, !sampler.isSDE else { return settings.dtoThroughSampler }
    var o = GradientOptions()
    (o.sampler, o.samplerSteps, o.grid, o.wantParameters) = (sampler, samplerSteps, grid, settings.wantParameters)
    (o.linearPart, o.statistics) = (linearPart, statistics)
    return try? GaussianLinearDTOMethod(o)
  }

  public func validateMethod<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws {
    try GaussianLinearDTOMethod.refusePureNoise(p, method: name)
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

  /// Recorded ODE states come from the Gaussian-linear sampler of the method's order, so that they carry the same
  /// linear part (docs/gaussian-linear-part.md#sampler); exact states and the SDE path from the shared forward pass.
  public func forward<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>, grids: SweepGrids) throws -> ForwardPass {
    if states == .exact || sampler.isSDE { return try settings.forward(p, grids: grids) }
    let part = try Self.linearPart(linearPart, model: p.model, z: p.z, given: statistics)
    let path = try linearSampler(part).sample(model: p.model, grid: grids.sampling, xT: p.xT, z: p.z)
    return ForwardPass(x0: path.x0, states: .recorded(path.states), sampling: path.evaluations, storedStates: path.states.count)
  }

  public func sweep<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>, forward: ForwardPass, grids: SweepGrids,
                                                       aX0: [Double]) throws -> SweepResult {
    let part = try Self.linearPart(linearPart, model: p.model, z: p.z, given: statistics)
    var adjoint = try GaussianLinearAdjoint(order: order, linearPart: part, dynamics: dynamics, wantParameters: settings.wantParameters)
    if !p.schedule.isVariancePreserving {  // sigma(lambda) = sigma(t(lambda)) (docs/math.md#beyond-vp)
      let schedule = p.schedule
      adjoint.sigmaOfLambda = { schedule.sigma(schedule.t(lambda: $0)) }
    }
    let solution = try adjoint.solve(model: p.model, grid: grids.sweep, states: forward.states!, z: p.z,  // invariant: the forward pass sets states
                                     samplingGrid: grids.schedule, aX0: aX0)
    try Check.finite(solution.ax, "dL/dx_T")
    return SweepResult(solution: solution, storedStates: order)
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
