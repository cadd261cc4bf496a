import DiffusionCore

/// The settings a gradient method may take, each named as the CLI and the configs name it.
public enum GradientOption: String, CaseIterable, Sendable {
  case sampler
  case samplerSteps = "sampler-steps"
  case steps
  case states
  case weight
  case grid
  case seed
  case noise
  case rtol
  case atol
  case checkpoint
  case rk45States = "rk45-states"
  /// The Gaussian linear part (docs/gaussian-linear-part.md#the-split) and a file of data statistics for it.
  case linearPart = "linear-part"
  case statistics
  /// The reversible samplers' settings (docs/reversible-solvers.md): Rex's coupling zeta and parameterization,
  /// BDIA's gamma, EDICT's mixing weight p.
  case coupling
  case parameterization
  case gamma
  case mix
  /// AdjointDEIS's form: the paper's or the angle form (docs/math.md#angle-form).
  case adjointForm = "adjoint-form"

  /// The options only reversible samplers take: every other method rejects them.
  public static let reversibleSampler: [GradientOption] = [.coupling, .parameterization, .gamma, .mix]
}

/// Where AdjointDEIS takes x_t from.
public enum StateChoice: String, CaseIterable, Sendable {
  /// Exact: the dense RK45 solution of the probability-flow ODE (Theorem 1's assumption; ODE only).
  case exact
  /// The states the sampler recorded (N = M, as in the paper's experiments).
  case recorded
  /// ODE: re-solved from x_0 towards T with the sampler's own step alongside the adjoint (any M).
  /// SDE: the recorded path re-run from its recovered noise (Cycle-SDE, docs/math.md#cycle-sde).
  case resolved

  public static func named(_ name: String) throws -> StateChoice {
    try parse(name, option: "states", what: "state source")
  }
}

/// A gradient method's settings; nil means "not set". A method is made from the options a user gave (each one it
/// has no use for is an error naming the option) over the defaults of the context (CLI, study, morph experiment),
/// which are never rejected; whatever neither sets takes the method's own default.
public struct GradientOptions: Sendable {
  public var sampler: SamplerKind?
  /// ODE or SDE without naming the sampler (a method name's `/ode` or `/sde`).
  public var dynamics: Dynamics?
  /// N, the sampling steps.
  public var samplerSteps: Int?
  /// M, the adjoint steps.
  public var adjointSteps: Int?
  public var states: StateChoice?
  public var weight: MultistepWeight?
  public var grid: GridSpacing?
  /// The SDE sampler's noise: `.seeded` is the option `seed`, the others `noise`.
  public var noise: NoiseSource?
  public var rtol: Double?
  public var atol: Double?
  /// DTO's checkpointing (`K` or `binomial:S`).
  public var checkpoint: CheckpointPolicy?
  public var rk45States: ReferenceAdjoint.StateSource?
  /// Whether to compute dL/dtheta (a context setting, not a user option).
  public var wantParameters: Bool?
  /// The linear part of the exponential integrators (none: the paper's solvers).
  public var linearPart: LinearPartKind?
  /// Data statistics given by the user (otherwise the model's own, if it has them).
  public var statistics: DataStatistics?
  /// Rex's coupling zeta in (0, 1] and the parameterization of its Lawson step; BDIA's gamma; EDICT's mixing p.
  public var coupling: Double?
  public var parameterization: Parameterization?
  public var gamma: Double?
  public var mix: Double?
  /// AdjointDEIS's form (docs/math.md#angle-form), and what the network outputs (a context setting: a pipeline's
  /// prediction type; eps when unset).
  public var adjointForm: AdjointForm?
  public var networkOutput: NetworkOutput?

  public init() {}

  /// The options that are set, in `GradientOption` order.
  public var set: [GradientOption] {
    var o: [GradientOption] = []
    if sampler != nil || dynamics != nil { o.append(.sampler) }
    if samplerSteps != nil { o.append(.samplerSteps) }
    if adjointSteps != nil { o.append(.steps) }
    if states != nil { o.append(.states) }
    if weight != nil { o.append(.weight) }
    if grid != nil { o.append(.grid) }
    if let noise {
      if case .seeded = noise { o.append(.seed) } else { o.append(.noise) }
    }
    if rtol != nil { o.append(.rtol) }
    if atol != nil { o.append(.atol) }
    if checkpoint != nil { o.append(.checkpoint) }
    if rk45States != nil { o.append(.rk45States) }
    if linearPart != nil { o.append(.linearPart) }
    if statistics != nil { o.append(.statistics) }
    if coupling != nil { o.append(.coupling) }
    if parameterization != nil { o.append(.parameterization) }
    if gamma != nil { o.append(.gamma) }
    if mix != nil { o.append(.mix) }
    if adjointForm != nil { o.append(.adjointForm) }
    return o
  }

  /// Throws for the first set option in `unused`: "<option>: has no meaning with --solver <method>".
  public func reject(_ unused: [GradientOption], method: String) throws {
    if let bad = set.first(where: unused.contains) {
      throw InvalidInput(bad.rawValue, "has no meaning with --solver \(method)")
    }
  }

  /// This value's options, and `other`'s where this one has none; an option set in both to different values is an error.
  public func merging(_ other: GradientOptions) throws -> GradientOptions {
    func pick<T: Equatable>(_ a: T?, _ b: T?, _ option: GradientOption) throws -> T? {
      if let a, let b, a != b { throw InvalidInput(option.rawValue, "given twice with different values ('\(a)' and '\(b)')") }
      return a ?? b
    }
    var m = self
    m.sampler = try pick(sampler, other.sampler, .sampler)
    m.dynamics = try pick(dynamics, other.dynamics, .sampler)
    m.samplerSteps = try pick(samplerSteps, other.samplerSteps, .samplerSteps)
    m.adjointSteps = try pick(adjointSteps, other.adjointSteps, .steps)
    m.states = try pick(states, other.states, .states)
    m.weight = try pick(weight, other.weight, .weight)
    m.grid = try pick(grid, other.grid, .grid)
    if noise != nil && other.noise != nil { throw InvalidInput("noise", "give --seed or --noise, not both") }
    m.noise = noise ?? other.noise
    m.rtol = try pick(rtol, other.rtol, .rtol)
    m.atol = try pick(atol, other.atol, .atol)
    m.checkpoint = try pick(checkpoint, other.checkpoint, .checkpoint)
    m.rk45States = try pick(rk45States, other.rk45States, .rk45States)
    m.wantParameters = wantParameters ?? other.wantParameters
    m.linearPart = try pick(linearPart, other.linearPart, .linearPart)
    m.statistics = try pick(statistics, other.statistics, .statistics)
    m.coupling = try pick(coupling, other.coupling, .coupling)
    m.parameterization = try pick(parameterization, other.parameterization, .parameterization)
    m.gamma = try pick(gamma, other.gamma, .gamma)
    m.mix = try pick(mix, other.mix, .mix)
    m.adjointForm = try pick(adjointForm, other.adjointForm, .adjointForm)
    m.networkOutput = networkOutput ?? other.networkOutput
    return m
  }

  /// Every option from `given` where set there, else from `defaults`.
  public static func resolve(_ given: GradientOptions, over defaults: GradientOptions) -> GradientOptions {
    var r = defaults
    r.sampler = given.sampler ?? defaults.sampler
    r.dynamics = given.dynamics ?? defaults.dynamics
    r.samplerSteps = given.samplerSteps ?? defaults.samplerSteps
    r.adjointSteps = given.adjointSteps ?? defaults.adjointSteps
    r.states = given.states ?? defaults.states
    r.weight = given.weight ?? defaults.weight
    r.grid = given.grid ?? defaults.grid
    r.noise = given.noise ?? defaults.noise
    r.rtol = given.rtol ?? defaults.rtol
    r.atol = given.atol ?? defaults.atol
    r.checkpoint = given.checkpoint ?? defaults.checkpoint
    r.rk45States = given.rk45States ?? defaults.rk45States
    r.wantParameters = given.wantParameters ?? defaults.wantParameters
    r.linearPart = given.linearPart ?? defaults.linearPart
    r.statistics = given.statistics ?? defaults.statistics
    r.coupling = given.coupling ?? defaults.coupling
    r.parameterization = given.parameterization ?? defaults.parameterization
    r.gamma = given.gamma ?? defaults.gamma
    r.mix = given.mix ?? defaults.mix
    r.adjointForm = given.adjointForm ?? defaults.adjointForm
    r.networkOutput = given.networkOutput ?? defaults.networkOutput
    return r
  }

  /// The sampler a method runs: the given one; else, for the given (or default) dynamics, the context's default
  /// sampler if it has those dynamics, the SDE step for the SDE, and `odeDefault` (the method's own) for the ODE.
  public static func sampler(_ given: GradientOptions, over defaults: GradientOptions, odeDefault: SamplerKind) throws -> SamplerKind {
    let dynamics = given.dynamics ?? given.sampler?.dynamics ?? defaults.dynamics ?? defaults.sampler?.dynamics ?? .ode
    if let s = given.sampler {
      guard s.dynamics == dynamics else {
        throw InvalidInput("sampler", "the \(s.rawValue) sampler is not an \(dynamics == .sde ? "SDE" : "ODE") sampler")
      }
      return s
    }
    if let s = defaults.sampler, s.dynamics == dynamics { return s }
    return dynamics == .sde ? .sde : odeDefault
  }
}
