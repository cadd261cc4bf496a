import Foundation

/// How a gradient compares with the reference: relative L2 error, cosine similarity and norm ratio |g| / |g_ref|.
/// An optimizer follows the direction, so a gradient can be useful (cosine ~ 1) while its relative error is large.
public struct GradientComparison: Sendable, Equatable {
  public var relativeError: Double
  public var cosine: Double
  public var normRatio: Double

  public init(_ g: [Double], reference r: [Double]) {
    var dot = 0.0, gg = 0.0, rr = 0.0, diff = 0.0
    for i in 0..<min(g.count, r.count) {
      dot += g[i] * r[i]
      gg += g[i] * g[i]
      rr += r[i] * r[i]
      diff += (g[i] - r[i]) * (g[i] - r[i])
    }
    relativeError = rr > 0 ? (diff / rr).squareRoot() : (diff == 0 ? 0 : .infinity)
    cosine = gg > 0 && rr > 0 ? dot / (gg * rr).squareRoot() : .nan
    normRatio = rr > 0 ? (gg / rr).squareRoot() : .nan
  }

  public static let failed = GradientComparison(relativeError: .nan, cosine: .nan, normRatio: .nan)

  /// Whether `init(_:reference:)` can produce these numbers: with a non-zero reference, a finite error and norm ratio
  /// >= 0 and a cosine in [-1, 1] (up to rounding), or NaN when the gradient is zero (norm ratio 0); with a zero
  /// reference, NaN cosine and norm ratio and an error of 0 or infinity. (What a merge checks in a shard's CSV.)
  public var isAttainable: Bool {
    if normRatio.isNaN { return cosine.isNaN && (relativeError == 0 || relativeError == .infinity) }
    guard relativeError.isFinite, relativeError >= 0, normRatio.isFinite, normRatio >= 0 else { return false }
    if cosine.isNaN { return normRatio == 0 }
    return abs(cosine) <= 1 + 1e-12
  }
  public init(relativeError: Double, cosine: Double, normRatio: Double) {
    self.relativeError = relativeError
    self.cosine = cosine
    self.normRatio = normRatio
  }
}
