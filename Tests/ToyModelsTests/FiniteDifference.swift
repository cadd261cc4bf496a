import DiffusionCore
import XCTest

@testable import ToyModels

/// Finite differences of a scalar in Float64: central differences with Ridders' polynomial extrapolation
/// (Numerical Recipes `dfridr`): initial step `h0 = 0.1 max(1, |p|)`, shrunk by 1.4 per level over 16 levels
/// (down to ~6e-4 h0), keeping the entry with the smallest extrapolation error estimate. A plain central difference with step `1e-6 max(1, |p|)`
/// is limited by rounding to ~1e-16 |f| / h, i.e. only ~1e-5 relative for blocks whose gradient is 1e-5 |f|
/// (posterior weights at small t, log_std at t = 1 where alpha_t^2 ~ 4e-5), hence the extrapolation:
/// its error is ~1e-10 relative here.
enum FiniteDifference {
  static let initialRelativeStep = 0.1
  static let shrink = 1.4
  static let levels = 16

  static func gradient(at point: [Double], _ f: ([Double]) throws -> Double) rethrows -> [Double] {
    var grad = [Double](repeating: 0, count: point.count)
    for i in 0..<point.count {
      grad[i] = try derivative(initialStep: initialRelativeStep * max(1, abs(point[i]))) { h in
        var shifted = point
        shifted[i] += h
        return try f(shifted)
      }
    }
    return grad
  }

  /// Ridders' method for `g'(0)`.
  static func derivative(initialStep: Double, _ g: (Double) throws -> Double) rethrows -> Double {
    var table = [[Double]](repeating: [Double](repeating: 0, count: levels), count: levels)
    var h = initialStep
    table[0][0] = (try g(h) - g(-h)) / (2 * h)
    var best = table[0][0], bestError = Double.infinity
    for i in 1..<levels {
      h /= shrink
      table[0][i] = (try g(h) - g(-h)) / (2 * h)
      var factor = shrink * shrink
      for j in 1...i {
        table[j][i] = (table[j - 1][i] * factor - table[j - 1][i - 1]) / (factor - 1)
        factor *= shrink * shrink
        let error = max(abs(table[j][i] - table[j - 1][i]), abs(table[j][i] - table[j - 1][i - 1]))
        if error <= bestError {
          bestError = error
          best = table[j][i]
        }
      }
    }
    return best
  }

  static func dot(_ a: [Double], _ b: [Double]) -> Double {
    var s = 0.0
    for i in 0..<a.count { s += a[i] * b[i] }
    return s
  }

  /// `max_i |a_i - b_i| / max_i |b_i|`: the block's error relative to its own scale.
  static func relativeError(_ analytic: [Double], _ reference: [Double]) -> Double {
    precondition(analytic.count == reference.count)  // invariant: test code compares equal shapes
    var difference = 0.0, scale = 0.0
    for i in 0..<analytic.count {
      difference = max(difference, abs(analytic[i] - reference[i]))
      scale = max(scale, abs(reference[i]))
    }
    return scale == 0 ? difference : difference / scale
  }
}
