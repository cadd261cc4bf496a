import DiffusionCore

/// `dto`: discretize-then-optimize (docs/math.md#dto), the exact gradient of the sampler's discrete output by reverse
/// mode through its N steps (so M = N).
///
/// Cost: N eps (sampling) + N VJPs; checkpointing every k-th state adds N - ceil(N/k) eps (each segment recomputed),
/// binomial with S slots 1 + p(N, S) - N (Griewank's optimum). Memory: N states, O(k + N/k) every k-th, at most S
/// binomial (docs/math.md#checkpointing).
public struct DTOMethod: GradientMethod {
  public static let entry = GradientMethodEntry(
    name: "dto", summary: "discretize-then-optimize through the sampler's steps (--checkpoint K | binomial:S)",
    make: { try GaussianLinearDTOMethod.replacing(given: $0, defaults: $1) ?? DTOMethod($0, defaults: $1) })

  public var sampler: SamplerKind
  public var samplerSteps: Int
  public var grid: GridSpacing
  public var noise: NoiseSource
  public var checkpoint: CheckpointPolicy
  public var wantParameters: Bool

  public var name: String { Self.entry.name }
  public var label: String { "dto/\(sampler.rawValue)" }
  public var dynamics: Dynamics { sampler.dynamics }
  /// DTO is the exact gradient of its own sampler.
  public var discreteReference: (any GradientMethod)? { self }

  public init(_ given: GradientOptions, defaults: GradientOptions = GradientOptions()) throws {
    try given.reject([.states, .weight, .rk45States, .rtol, .atol] + GradientOption.reversibleSampler + [.adjointForm], method: "dto")
    try given.rejectLinearPart(method: "dto")
    let o = GradientOptions.resolve(given, over: defaults)
    sampler = try GradientOptions.sampler(given, over: defaults, odeDefault: .dpmSolver1)
    samplerSteps = o.samplerSteps ?? 20
    let adjointSteps = o.adjointSteps ?? samplerSteps
    grid = o.grid ?? .timeUniform
    noise = o.noise ?? .seeded(0)
    checkpoint = o.checkpoint ?? .all
    wantParameters = o.wantParameters ?? true
    if given.noise != nil && !sampler.isSDE {
      throw InvalidInput(given.set.contains(.seed) ? "seed" : "noise", "only the sde sampler draws noise")
    }
    try Budget.count(samplerSteps, "sampler-steps", maximum: Budget.Limit.steps)
    try Budget.count(adjointSteps, "steps", maximum: Budget.Limit.steps)
    if adjointSteps != samplerSteps {
      throw InvalidInput("steps", "dto differentiates the sampler's own steps: M must equal N (got M = \(adjointSteps), N = \(samplerSteps))")
    }
    try checkpoint.validate(steps: samplerSteps)
  }

  public func validate<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws {
    try Budget.checkPathMemory(steps: checkpoint.keptStates(steps: samplerSteps), dimension: p.model.dataDimension)
    try Sampler.checkPureNoise(try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: samplerSteps, spacing: grid), sampler)
    try p.z.validate(dimension: p.model.conditionDimension, steps: samplerSteps)
  }

  public func gradient<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws -> GradientResult {
    try validate(p)
    let grid = try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: samplerSteps, spacing: self.grid)
    let draws = sampler.isSDE ? try noise.draws(grid: grid, dimension: p.model.dataDimension) : []
    var result = try DiscretizeThenOptimize(sampler: sampler, checkpoint: checkpoint, wantParameters: wantParameters)
      .gradient(model: p.model, grid: grid, xT: p.xT, z: p.z, noise: draws, loss: p.loss)
    result.hMax = grid.hMax
    return result
  }
}
