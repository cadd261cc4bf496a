import Foundation

/// The exponential-integrator weights `phi_1(h) h = e^h - 1`, `phi_2(h) h^2 = e^h - h - 1` and
/// `phi_3(h) h^3 = e^h - h^2/2 - h - 1`, without cancellation (docs/math.md#multistep-weights).
public enum Phi {
  /// `e^h - 1`.
  @inlinable public static func expm1h(_ h: Double) -> Double { Foundation.expm1(h) }

  /// `e^h - h - 1`, by its Taylor series where the direct form would cancel.
  @inlinable public static func expm1MinusH(_ h: Double) -> Double {
    if abs(h) > 0.1 { return Foundation.expm1(h) - h }
    var term = h * h / 2, sum = term
    var k = 3.0
    while abs(term) > 1e-17 * abs(sum) {
      term *= h / k
      sum += term
      k += 1
    }
    return sum
  }

  /// `e^h - h^2/2 - h - 1`, by its Taylor series where the direct form would cancel.
  @inlinable public static func expm1MinusHMinusHalfH2(_ h: Double) -> Double {
    if abs(h) > 0.5 { return Foundation.expm1(h) - h - 0.5 * h * h }
    var term = h * h * h / 6, sum = term
    var k = 4.0
    while abs(term) > 1e-17 * abs(sum) {
      term *= h / k
      sum += term
      k += 1
    }
    return sum
  }
}
