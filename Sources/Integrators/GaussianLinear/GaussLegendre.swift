import Foundation

/// Composite Gauss-Legendre quadrature for the smooth step integrals of the Gaussian linear part
/// (docs/gaussian-linear-part.md#quadrature). The integrands are analytic within pi/2 of the real axis, so panels of
/// length <= 0.5 with 10 nodes are exact to round-off (Bernstein-ellipse bound ~ 12.6^-20).
public struct GaussLegendre: Sendable {
  /// Nodes on [-1, 1] and their weights.
  public let nodes: [Double]
  public let weights: [Double]
  /// The longest panel in the integration variable.
  public let maxPanel: Double

  public init(points n: Int = 10, maxPanel: Double = 0.5) {
    var x = [Double](repeating: 0, count: n), w = [Double](repeating: 0, count: n)
    for i in 0..<n {
      // Newton on P_n from the Chebyshev-like first guess; P_n and P_n' by the three-term recurrence.
      var r = cos(Double.pi * (Double(i) + 0.75) / (Double(n) + 0.5))
      var derivative = 1.0
      for _ in 0..<100 {
        var p0 = 1.0, p1 = r
        for k in 2...max(n, 2) where n >= 2 {
          let p2 = ((2 * Double(k) - 1) * r * p1 - (Double(k) - 1) * p0) / Double(k)
          p0 = p1
          p1 = p2
        }
        let pn = n == 1 ? r : p1, pPrevious = n == 1 ? 1 : p0
        derivative = Double(n) * (r * pn - pPrevious) / (r * r - 1)
        let step = pn / derivative
        r -= step
        if abs(step) < 1e-16 { break }
      }
      x[i] = r
      w[i] = 2 / ((1 - r * r) * derivative * derivative)
    }
    nodes = x
    weights = w
    self.maxPanel = maxPanel
  }

  /// The nodes and weights of the composite rule on [a, b] (b may be below a: weights then carry the sign).
  public func rule(from a: Double, to b: Double) -> [(u: Double, weight: Double)] {
    let panels = max(1, Int((abs(b - a) / maxPanel).rounded(.up)))
    let width = (b - a) / Double(panels)
    var out: [(u: Double, weight: Double)] = []
    out.reserveCapacity(panels * nodes.count)
    for p in 0..<panels {
      let mid = a + (Double(p) + 0.5) * width
      for (x, w) in zip(nodes, weights) { out.append((mid + 0.5 * width * x, 0.5 * width * w)) }
    }
    return out
  }
}
