import DiffusionCore
import ToyModels

@testable import Integrators

/// Small problems shared by the solver tests: a 3-d, 3-component mixture with 2-d conditioning.
enum SolverFixtures {
  static func mixture(_ covariance: GaussianMixture.Covariance = .diagonal, schedule: NoiseSchedule = .vpLinear, seed: UInt64 = 7) throws -> GaussianMixture {
    try GaussianMixture.random(d: 3, K: 3, m: 2, covariance: covariance, schedule: schedule, seed: seed)
  }

  static let xT: [Double] = [0.3, -1.1, 0.8]
  static let z: [Double] = [0.4, -0.7]
  static func loss() throws -> SquaredDistanceLoss { try SquaredDistanceLoss(target: [1.0, -0.5, 0.25]) }

  /// Relative L2 error |a - b| / |b|.
  static func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    var num = 0.0, den = 0.0
    for i in 0..<b.count { num += (a[i] - b[i]) * (a[i] - b[i]); den += b[i] * b[i] }
    return (num / max(den, 1e-300)).squareRoot()
  }

  /// Fourth-order central differences `(f(-2h) - 8 f(-h) + 8 f(h) - f(2h)) / 12h` along each coordinate of `point`:
  /// truncation O(h^4), so a step near 1e-4 keeps both truncation and round-off far below 1e-7 relative
  /// even where the sampled map is stiff (SDE paths with gradients ~1e2).
  static func centralGradient(_ point: [Double], step: Double, _ f: ([Double]) throws -> Double) rethrows -> [Double] {
    try (0..<point.count).map { i in
      func at(_ k: Double) throws -> Double { var p = point; p[i] += k * step; return try f(p) }
      return (try at(-2) - 8 * at(-1) + 8 * at(1) - at(2)) / (12 * step)
    }
  }
}
