import DiffusionCore

/// Which gradient method.
public enum GradientSolver: String, CaseIterable, Sendable {
  /// The black-box continuous adjoint with adaptive Dormand-Prince RK45 (the reference).
  case rk45
  case adjointDEIS1 = "adjointdeis-1"
  case adjointDEIS2M = "adjointdeis-2m"
  /// Discretize-then-optimize: reverse mode through the sampler's steps.
  case dto

  public static func named(_ name: String) throws -> GradientSolver {
    try parse(name, option: "solver", what: "solver")
  }
}

/// Where AdjointDEIS takes x_t from.
public enum StateChoice: String, CaseIterable, Sendable {
  /// Exact: the dense RK45 solution of the probability-flow ODE (Theorem 1's assumption; ODE only).
  case exact
  /// The states the sampler recorded (N = M, as in the paper's experiments).
  case recorded
  /// ODE: re-solved from x_0 towards T with DPM-Solver-1/2M alongside the adjoint (any M).
  /// SDE: the recorded path re-run from its recovered noise (Cycle-SDE, eq. 3.7).
  case resolved

  public static func named(_ name: String) throws -> StateChoice {
    try parse(name, option: "states", what: "state source")
  }
}

/// One complete way of computing `dL/dx_T, dL/dz, dL/dtheta`: the sampler that makes x_0, the gradient solver, its grid
/// and the source of x_t. `validate()` rejects combinations that make no sense, naming the option.
public struct GradientSetup: Sendable {
  public var solver: GradientSolver
  public var weight: MultistepWeight = .paper
  public var sampler: SamplerKind = .dpmSolver1
  /// N, the sampling steps.
  public var samplerSteps: Int = 20
  /// M, the adjoint steps (AdjointDEIS only).
  public var adjointSteps: Int = 20
  public var states: StateChoice = .recorded
  public var spacing: GridSpacing = .lambda
  public var noise: NoiseSource = .seeded(0)
  /// RK45 tolerances (the rk45 solver, and the exact states of AdjointDEIS).
  public var rtol: Double = 1e-12
  public var atol: Double = 1e-12
  /// DTO's checkpoint interval (nil: store every state).
  public var checkpointEvery: Int? = nil
  public var wantParameters: Bool = true

  public init(solver: GradientSolver) { self.solver = solver }

  /// A short name for tables and plots, e.g. `adjointdeis-2m[phi2]/ode/exact`.
  public var name: String {
    switch solver {
    case .rk45: return "rk45"
    case .dto: return "dto/\(sampler.rawValue)"
    case .adjointDEIS1, .adjointDEIS2M:
      let w = solver == .adjointDEIS2M && weight == .phi2 ? "[phi2]" : ""
      return "\(solver.rawValue)\(w)/\(sampler.isSDE ? "sde" : "ode")/\(states.rawValue)"
    }
  }

  public func validate() throws {
    try Budget.count(samplerSteps, "sampler-steps", maximum: Budget.Limit.steps)
    try Budget.count(adjointSteps, "steps", maximum: Budget.Limit.steps)
    guard rtol > 0, atol > 0, rtol.isFinite, atol.isFinite else { throw InvalidInput("rtol", "rtol and atol must be positive and finite") }
    switch solver {
    case .rk45:
      if sampler.isSDE { throw InvalidInput("sampler", "the rk45 reference solves the probability-flow ODE; it has no SDE form") }
    case .dto:
      if adjointSteps != samplerSteps {
        throw InvalidInput("steps", "dto differentiates the sampler's own steps: M must equal N (got M = \(adjointSteps), N = \(samplerSteps))")
      }
    case .adjointDEIS1, .adjointDEIS2M:
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
  }
}
