import DiffusionCore
import Foundation

/// One exponential-integrator step (docs/math.md#exponential-step) from grid index `a` to grid index `b`, in either
/// direction: samplers walk down in t, the DDIM encoder, the re-solved states and the adjoint walk up. Every such step
/// carries a linear part exactly and integrates the model's output g (eps for the state, the VJPs for the adjoint)
/// against `e^{lambda_b - lambda}` over `[lambda_a, lambda_b]`, with g extrapolated from a history of its last k values:
///
///   y_b = L y_a + S [ c_0 g_0 + sum_{j>=1} c_j (g_{j-1} - g_j) ]  (+ q xi for the SDE),
///
/// `g_0` the newest output, L the linear factor (alpha_b/alpha_a for x, alpha_a/alpha_b for a_x, 1 for a_z and
/// a_theta), S the equation's scale (-sigma_b for the probability-flow ODE, -2 sigma_b for the SDE, k sigma_b/alpha_b^2
/// for a_x, ...) and c_j the multistep rule's weights (`MultistepRule`). This value holds the lambda geometry the rule
/// needs: h, e^h - 1, and the lambda steps of the history.
public struct ExponentialStep: Sendable {
  /// `h = lambda_b - lambda_a` (positive down in t, negative up).
  public let h: Double
  /// `e^h - 1 = h phi_1(h)`.
  public let expm1h: Double
  /// The lambda steps of the history, newest first: `previous[j] = lambda_{a - j dir} - lambda_{a - (j + 1) dir}`,
  /// `dir` the walk's direction (same sign as h on a monotone grid); as many as `history - 1` and the grid allow.
  public let previous: [Double]

  /// The step from `a` to `b = a +- 1` of `grid`, with up to `history - 1` earlier steps of the same walk.
  public init(grid: TimeGrid, from a: Int, to b: Int, history: Int) {
    let dir = b - a  // +1 or -1  // invariant: neighbouring indices
    h = grid.lambdas[b] - grid.lambdas[a]
    expm1h = Foundation.expm1(h)
    var previous: [Double] = []
    var i = a
    // A step to or from lambda = -inf (alpha = 0, docs/math.md#noise-end) is no history: its h is infinite.
    while previous.count < history - 1, (0...grid.steps).contains(i - dir), grid.lambdas[i - dir].isFinite {
      previous.append(grid.lambdas[i] - grid.lambdas[i - dir])
      i -= dir
    }
    self.previous = previous
  }

  // MARK: - The step, in the three groupings the callers have always rounded it with (docs/math.md#exponential-step)

  /// Differences, each term scaled on its own (the samplers, the encoder, the re-solved states):
  /// `y <- L y + c_0 g_0 + c_1 (g_0 - g_1) + c_2 (g_1 - g_2) (+ q xi)`, `c` from `MultistepRule.coefficients`.
  @inlinable public static func applyDifferences(_ y: inout [Double], linear: Double, coefficients c: [Double], history g: History,
                                                 noise q: Double = 0, xi: [Double] = []) {
    let g0 = g[0]
    switch c.count {
    case 1:
      if q == 0 {
        for i in 0..<y.count { y[i] = linear * y[i] + c[0] * g0[i] }
      } else {
        for i in 0..<y.count { y[i] = linear * y[i] + c[0] * g0[i] + q * xi[i] }
      }
    case 2:
      let g1 = g[1]
      for i in 0..<y.count { y[i] = linear * y[i] + c[0] * g0[i] + c[1] * (g0[i] - g1[i]) }
    default:
      let g1 = g[1], g2 = g[2]
      for i in 0..<y.count { y[i] = linear * y[i] + c[0] * g0[i] + c[1] * (g0[i] - g1[i]) + c[2] * (g1[i] - g2[i]) }
    }
  }

  /// The bracket scaled once (AdjointDEIS): `y <- L y + s (g_0 + w_1 (g_0 - g_1) + w_2 (g_1 - g_2))`,
  /// `s = S (e^h - 1)`, `w` from `MultistepRule.relativeWeights`.
  @inlinable public static func applyFactored(_ y: inout [Double], linear: Double, scale s: Double, weights w: [Double], history g: History) {
    let g0 = g[0]
    switch w.count {
    case 0:
      for i in 0..<y.count { y[i] = linear * y[i] + s * g0[i] }
    case 1:
      let g1 = g[1]
      for i in 0..<y.count { y[i] = linear * y[i] + s * (g0[i] + w[0] * (g0[i] - g1[i])) }
    default:
      let g1 = g[1], g2 = g[2]
      for i in 0..<y.count { y[i] = linear * y[i] + s * (g0[i] + w[0] * (g0[i] - g1[i]) + w[1] * (g1[i] - g2[i])) }
    }
  }

  /// Raw outputs, one coefficient each (discretize-then-optimize, whose reverse pass transposes exactly these):
  /// `y <- L y + v_0 g_0 + v_1 g_1 + v_2 g_2 (+ q xi)`, `v` from `MultistepRule.valueCoefficients`.
  @inlinable public static func applyValues(_ y: inout [Double], linear: Double, coefficients v: [Double], history g: History,
                                            noise q: Double = 0, xi: [Double] = []) {
    for i in 0..<y.count {
      var r = linear * y[i]
      for j in 0..<v.count { r += v[j] * g[j][i] }
      if q != 0 { r += q * xi[i] }
      y[i] = r
    }
  }
}

/// The last k model outputs of a walk, newest first.
public struct History: Sendable {
  public let depth: Int
  public private(set) var outputs: [[Double]] = []

  public init(depth: Int) { self.depth = depth }

  public var count: Int { outputs.count }
  public subscript(j: Int) -> [Double] { outputs[j] }

  public mutating func push(_ g: [Double]) {
    outputs.insert(g, at: 0)
    if outputs.count > depth { outputs.removeLast() }
  }

  public mutating func removeAll() { outputs.removeAll(keepingCapacity: true) }
}
