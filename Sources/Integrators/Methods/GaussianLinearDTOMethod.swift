import DiffusionCore

/// `dto-gl` (also `dto --linear-part isotropic|gaussian`): discretize-then-optimize through the sampler with a Gaussian
/// linear part (docs/gaussian-linear-part.md#sampler), k = 1 (sampler dpm-solver-1) or 2M (dpm-solver-2m): the
/// exact gradient of that sampler's discrete output. ODE only.
///
/// Cost: N eps (sampling) + N VJPs. Memory: O(N d) states and Q.
public struct GaussianLinearDTOMethod: GradientMethod {
  public static let entry = GradientMethodEntry(
    name: "dto-gl", summary: "discretize-then-optimize through the sampler with a Gaussian linear part",
    make: { try GaussianLinearDTOMethod($0, defaults: $1) })

  /// The method `dto` becomes with a linear part other than none; nil for none.
  public static func replacing(given: GradientOptions, defaults: GradientOptions) throws -> (any GradientMethod)? {
    guard (given.linearPart ?? defaults.linearPart ?? .none) != .none else {
      try given.rejectStatisticsWithoutLinearPart()
      return nil
    }
    return try GaussianLinearDTOMethod(given, defaults: defaults)
  }

  public var linearPart: LinearPartKind
  public var statistics: DataStatistics?
  public var sampler: SamplerKind
  public var samplerSteps: Int
  public var grid: GridSpacing
  public var wantParameters: Bool

  public var name: String { Self.entry.name }
  public var label: String { "dto/gl-\(sampler.rawValue)[\(linearPart.rawValue)]" }
  public var dynamics: Dynamics { .ode }
  /// DTO is the exact gradient of its own sampler.
  public var discreteReference: (any GradientMethod)? { self }

  public init(_ given: GradientOptions, defaults: GradientOptions = GradientOptions()) throws {
    try given.reject([.states, .weight, .rk45States, .rtol, .atol, .checkpoint, .seed, .noise] + GradientOption.reversibleSampler + [.adjointForm], method: "dto-gl")
    let o = GradientOptions.resolve(given, over: defaults)
    linearPart = o.linearPart ?? .gaussian
    if linearPart == .none { throw InvalidInput("linear-part", "none is the paper's sampler: use dto") }
    statistics = o.statistics
    sampler = try GradientOptions.sampler(given, over: defaults, odeDefault: .dpmSolver1)
    if sampler.isSDE { throw InvalidInput("sampler", "the Gaussian-linear sampler is implemented for the probability-flow ODE only") }
    samplerSteps = o.samplerSteps ?? 20
    let adjointSteps = o.adjointSteps ?? samplerSteps
    grid = o.grid ?? .timeUniform
    wantParameters = o.wantParameters ?? true
    try Check.positive(samplerSteps, "sampler-steps")
    try Check.positive(adjointSteps, "steps")
    if adjointSteps != samplerSteps {
      throw InvalidInput("steps", "dto differentiates the sampler's own steps: M must equal N (got M = \(adjointSteps), N = \(samplerSteps))")
    }
  }

  /// The Gaussian-linear weights are quadratures over the step's lambda interval, infinite at pure noise
  /// (docs/math.md#noise-end).
  static func refusePureNoise<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>, method: String) throws {
    try PureNoise.refuse(p, method: method, because: PureNoise.gaussianLinear)
  }

  public func validate<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws {
    try Self.refusePureNoise(p, method: name)
    _ = try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: samplerSteps, spacing: grid)
    try p.z.validate(dimension: p.model.conditionDimension, steps: samplerSteps)
    _ = try GaussianLinearAdjointMethod.linearPart(linearPart, model: p.model, z: p.z, given: statistics)
  }

  public func gradient<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws -> GradientResult {
    try validate(p)
    let part = try GaussianLinearAdjointMethod.linearPart(linearPart, model: p.model, z: p.z, given: statistics)
    let grid = try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: samplerSteps, spacing: self.grid)
    return try linearSampler(part).gradient(model: p.model, grid: grid, xT: p.xT, z: p.z, loss: p.loss, wantParameters: wantParameters)
  }
}
