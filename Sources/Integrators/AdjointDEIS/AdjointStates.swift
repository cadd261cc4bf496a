import DiffusionCore

/// Where the adjoint solver gets the state x_t at each point of its grid.
public enum AdjointStates: Sendable {
  /// Exact states, e.g. from a dense RK45 solution of the forward ODE (the assumption of Theorem 1).
  case exact(@Sendable (Double) throws -> [Double])
  /// The states a sampler recorded on the same grid (N = M): `states[i]` at adjoint grid index i (ascending t).
  case recorded([[Double]])
  /// Re-solved from x_0 towards T alongside the adjoint, with DPM-Solver-1 (`order` 1) or -2M (`order` 2),
  /// reusing the eps that each VJP returns (no extra evaluations).
  case resolved(x0: [Double], order: Int)

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
  private var previousEps: [Double] = []

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
    case let .resolved(x0, order):
      guard order == 1 || order == 2 else { throw InvalidInput("states", "resolved states need order 1 or 2, got \(order)") }
      try Check.count(x0, d, "x0")
      current = x0
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

  /// After the VJP at index i returned `eps`, move a re-solved state to index i + 1:
  /// DPM-Solver-1/2M run upwards in t (h = lambda_{i+1} - lambda_i < 0).
  mutating func advance(from i: Int, eps: [Double]) {
    guard case let .resolved(_, order) = source else { return }
    let ratio = grid.alphas[i + 1] / grid.alphas[i]
    let h = grid.lambdas[i + 1] - grid.lambdas[i]
    let b = grid.sigmas[i + 1] * Phi.expm1h(h)
    if order == 2 && i > 0 {
      let r = (grid.lambdas[i] - grid.lambdas[i - 1]) / h
      let c = b / (2 * r)
      for k in 0..<current.count { current[k] = ratio * current[k] - b * eps[k] - c * (eps[k] - previousEps[k]) }
    } else {
      for k in 0..<current.count { current[k] = ratio * current[k] - b * eps[k] }
    }
    previousEps = eps
  }
}
