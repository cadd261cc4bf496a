import DiffusionCore

/// Where the adjoint solver gets the state x_t at each point of its grid.
public enum AdjointStates: Sendable {
  /// Exact states, e.g. from a dense RK45 solution of the forward ODE (the assumption of Theorem 1).
  case exact(@Sendable (Double) throws -> [Double])
  /// The states a sampler recorded on the same grid (N = M): `states[i]` at adjoint grid index i (ascending t).
  case recorded([[Double]])
  /// Re-solved from x_0 towards T alongside the adjoint with an ODE sampler's own step (DPM-Solver-1, -2M, -3M),
  /// reusing the eps that each VJP returns (no extra evaluations).
  case resolved(x0: [Double], sampler: SamplerKind)

  public var name: String {
    switch self {
    case .exact: return "exact"
    case .recorded: return "recorded"
    case .resolved: return "resolved"
    }
  }
}

/// The state walk for `AdjointStates`: hands out x at grid index i, advancing a re-solved state when needed.
struct StateWalker {
  let source: AdjointStates
  let grid: TimeGrid
  private var current: [Double] = []
  private var history = History(depth: 1)

  init(source: AdjointStates, grid: TimeGrid, dimension d: Int) throws {
    self.source = source
    self.grid = grid
    switch source {
    case .exact: break
    case let .recorded(states):
      guard states.count == grid.times.count else {
        throw InvalidInput("states", "recorded states need one state per adjoint grid point (N = M): expected \(grid.times.count), got \(states.count)")
      }
      for (i, x) in states.enumerated() { try Check.count(x, d, "states[\(i)]") }
    case let .resolved(x0, sampler):
      guard !sampler.isSDE else { throw InvalidInput("states", "re-solved states run an ODE sampler; the SDE path is re-run from its noise (Cycle-SDE)") }
      try Check.count(x0, d, "x0")
      current = x0
      history = History(depth: sampler.rule.order)
    }
  }

  /// x at grid index i (called with i = 0, 1, ..., M - 1 in order).
  func state(_ i: Int) throws -> [Double] {
    switch source {
    case let .exact(x): return try x(grid.times[i])
    case let .recorded(states): return states[i]
    case .resolved: return current
    }
  }

  /// After the VJP at index i returned `eps`, move a re-solved state to index i + 1: the sampler's step run upwards
  /// in t (h = lambda_{i+1} - lambda_i < 0) on the eps history of the walk.
  mutating func advance(from i: Int, eps: [Double]) {
    guard case let .resolved(_, sampler) = source else { return }
    history.push(eps)
    Sampler.step(&current, from: i, to: i + 1, grid: grid, kind: sampler, history: history)
  }
}
