import DiffusionCore

/// The settings of every gradient method that samples x_0 and then sweeps back from dL/dx_0 (`SweepBackMethod`):
/// the sampler, N and M, the grid, where the sweep takes x_t from, the SDE noise, the RK45 tolerances of exact states.
/// Read from the options and checked here, once, for every such method: each method states only what differs
/// (`SweepRules`).
public struct SweepSettings: Sendable {
  public var sampler: SamplerKind
  /// N, the sampling steps, and M, the steps of the backward sweep.
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

  /// Reads and checks the options (`given` are the user's, each unused one an error; `defaults` the context's).
  public init(method name: String, rules: SweepRules, given: GradientOptions, defaults: GradientOptions) throws {
    try given.reject(rules.unusedOptions, method: name)
    let o = GradientOptions.resolve(given, over: defaults)
    sampler = try GradientOptions.sampler(given, over: defaults, odeDefault: rules.odeSampler)
    if let only = rules.onlySampler, sampler != only.kind { throw InvalidInput("sampler", only.reason) }
    samplerSteps = o.samplerSteps ?? 20
    adjointSteps = o.adjointSteps ?? samplerSteps
    states = o.states ?? rules.defaultStates
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
    if let reason = rules.unavailableStates[states] { throw InvalidInput("states", reason) }
    switch (states, sampler.isSDE) {
    case (.exact, true):
      let others = StateChoice.allCases.filter { $0 != .exact && rules.unavailableStates[$0] == nil }.map(\.rawValue)
      throw InvalidInput("states", "exact states come from the probability-flow ODE; the SDE path has no exact form (use \(others.joined(separator: " or ")))")
    case (.recorded, _), (.resolved, true):
      if adjointSteps != samplerSteps {
        throw InvalidInput("steps", "\(states.rawValue) states of the \(sampler.rawValue) sampler exist only on its grid: M must equal N (got M = \(adjointSteps), N = \(samplerSteps))")
      }
    default: break
    }
    if rules.sweepsTheSamplersSteps && adjointSteps != samplerSteps {
      throw InvalidInput("steps", "\(name) differentiates the sampler's own steps: M must equal N (got M = \(adjointSteps), N = \(samplerSteps))")
    }
  }

  /// Whether the forward pass keeps the sampler's path: recorded states, and the SDE path re-run for re-solved states.
  public var recordsPath: Bool { states == .recorded || (states == .resolved && sampler.isSDE) }

  /// The checks that need the problem: the grid, the z schedule against N, and the memory of a recorded path.
  public func validate<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws {
    if recordsPath { try Budget.checkPathMemory(steps: samplerSteps, dimension: p.model.dataDimension) }
    try Sampler.checkPureNoise(try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: samplerSteps, spacing: grid), sampler)
    try p.z.validate(dimension: p.model.conditionDimension, steps: samplerSteps)
  }

  /// The sampling grid (N steps), the grid of a z schedule (the sampling grid, nil for a constant z) and the grid
  /// of the backward sweep (M steps; the sampling grid itself when M = N).
  public func grids<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws -> SweepGrids {
    let sampling = try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: samplerSteps, spacing: grid)
    let sweep = adjointSteps == samplerSteps
      ? sampling : try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: adjointSteps, spacing: grid)
    return SweepGrids(sampling: sampling, schedule: p.z.count > 1 ? sampling : nil, sweep: sweep)
  }
}

/// What a sweep-back method accepts beyond the shared settings: its defaults and the options it has no use for.
public struct SweepRules: Sendable {
  /// The ODE sampler it pairs with unless the context or the user names one.
  public var odeSampler: SamplerKind
  public var defaultStates: StateChoice = .recorded
  /// Options it rejects as meaningless (the checkpoint, the 2M weight, ...).
  public var unusedOptions: [GradientOption]
  /// State sources it cannot use, each with the reason the error gives.
  public var unavailableStates: [StateChoice: String] = [:]
  /// The one sampler it runs, if any, with the reason the error gives for another.
  public var onlySampler: (kind: SamplerKind, reason: String)? = nil
  /// Whether the sweep differentiates the sampler's own steps (M = N always: DTO-like and reversible methods).
  public var sweepsTheSamplersSteps = false

  /// `uses`: the reversible samplers' options (and AdjointDEIS's `adjoint-form`) the method takes (every other one is rejected with `unusedOptions`).
  public init(odeSampler: SamplerKind, defaultStates: StateChoice = .recorded, unusedOptions: [GradientOption], uses: [GradientOption] = [],
              unavailableStates: [StateChoice: String] = [:], onlySampler: (kind: SamplerKind, reason: String)? = nil,
              sweepsTheSamplersSteps: Bool = false) {
    self.odeSampler = odeSampler
    self.defaultStates = defaultStates
    self.unusedOptions = unusedOptions + (GradientOption.reversibleSampler + [.adjointForm]).filter { !uses.contains($0) }
    self.unavailableStates = unavailableStates
    self.onlySampler = onlySampler
    self.sweepsTheSamplersSteps = sweepsTheSamplersSteps
  }
}

/// The grids of one gradient: sampling (N steps), the z schedule's (nil for a constant z), the sweep's (M steps).
public struct SweepGrids: Sendable {
  public let sampling: TimeGrid
  public let schedule: TimeGrid?
  public let sweep: TimeGrid
}
