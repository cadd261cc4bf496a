import Foundation

extension NoiseSchedule {
  /// The continuous-time VP schedule of a discrete-time model trained on `alphasCumprod` (a diffusers scheduler's
  /// `alphas_cumprod`, one entry per training step): DPM-Solver's `NoiseScheduleVP('discrete')`, i.e. log alpha at
  /// `t_i = (i + 1) / N` is `log(alphas_cumprod[i]) / 2`, piecewise linear in t between (docs/math.md#discrete-schedule).
  /// Throws unless there are at least two steps and the values are finite, in (0, 1) and strictly decreasing.
  public static func discrete(alphasCumprod: [Double], name: String = "discrete") throws -> NoiseSchedule {
    guard alphasCumprod.count >= 2 else {
      throw InvalidInput("alphas_cumprod", "needs at least 2 training steps, got \(alphasCumprod.count)")
    }
    try Check.finite(alphasCumprod, "alphas_cumprod")
    for (i, a) in alphasCumprod.enumerated() {
      guard a > 0, a <= 1 else {
        throw InvalidInput("alphas_cumprod", "entry \(i) is \(a), outside (0, 1] (a zero terminal SNR has no finite lambda)")
      }
      // alpha = 1 is sigma = 0 (a beta below about 1.1e-16 rounds 1 - beta to 1): lambda = log(alpha / sigma) is
      // infinite there, and the grid or the loss would turn NaN only after the work
      guard a < 1 else {
        throw InvalidInput("alphas_cumprod", "entry \(i) is 1 (beta rounds to 0): sigma = 0 there, which has no finite lambda")
      }
      guard i == 0 || a < alphasCumprod[i - 1] else {
        throw InvalidInput("alphas_cumprod", "must decrease strictly (every beta > 0): entry \(i) is \(a), entry \(i - 1) is \(alphasCumprod[i - 1])")
      }
    }
    let n = Double(alphasCumprod.count)
    return NoiseSchedule(kind: .discrete(logAlphas: alphasCumprod.map { 0.5 * log($0) }), name: name, tMin: 1 / n, tMax: 1)
  }

  /// The number of training steps N of a discrete schedule (nil for the continuous ones).
  public var trainingSteps: Int? {
    if case let .discrete(logAlphas) = kind { return logAlphas.count }
    return nil
  }
}
