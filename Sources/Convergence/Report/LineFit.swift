import DiffusionCore
import Foundation

/// Ordinary least squares y ≈ a + b·x with the Student-t confidence interval of the slope b.
///
/// b = Sxy/Sxx, a = ȳ − b·x̄, s² = Σr²/(n−2), se(b) = √(s²/Sxx), CI = b ± t_{(1+c)/2}(n−2)·se(b).
public struct LineFit: Sendable, Equatable {
  public let slope: Double
  public let intercept: Double
  /// Standard error of the slope, √(s²/Sxx).
  public let slopeStandardError: Double
  /// The confidence interval of the slope at level `confidence`.
  public let slopeInterval: ClosedRange<Double>
  public let confidence: Double
  /// Coefficient of determination R² = 1 − SSE/Syy (1 when Syy = 0).
  public let rSquared: Double
  public let count: Int

  /// Fits y against x; needs at least 3 points (one residual degree of freedom) and two distinct x values.
  public init(x: [Double], y: [Double], confidence: Double = 0.95) throws {
    guard x.count == y.count else {
      throw InvalidInput("y", "expected \(x.count) values to match x, got \(y.count)")
    }
    guard x.count >= 3 else { throw InvalidInput("x", "a slope with a confidence interval needs at least 3 points, got \(x.count)") }
    try Check.finite(x, "x")
    try Check.finite(y, "y")
    let n = Double(x.count)
    let xMean = x.reduce(0, +) / n
    let yMean = y.reduce(0, +) / n
    var sxx = 0.0
    var sxy = 0.0
    var syy = 0.0
    for (xi, yi) in zip(x, y) {
      sxx += (xi - xMean) * (xi - xMean)
      sxy += (xi - xMean) * (yi - yMean)
      syy += (yi - yMean) * (yi - yMean)
    }
    guard sxx > 0 else { throw InvalidInput("x", "all x values are equal; the slope is undefined") }
    let b = sxy / sxx
    let a = yMean - b * xMean
    var sse = 0.0
    for (xi, yi) in zip(x, y) {
      let r = yi - (a + b * xi)
      sse += r * r
    }
    let dof = n - 2
    let se = (sse / dof / sxx).squareRoot()
    let t = try StudentT.twoSidedCritical(confidence: confidence, dof: dof)
    slope = b
    intercept = a
    slopeStandardError = se
    slopeInterval = (b - t * se)...(b + t * se)
    self.confidence = confidence
    rSquared = syy > 0 ? max(0, 1 - sse / syy) : 1
    count = x.count
  }
}
