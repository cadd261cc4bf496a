import Foundation

/// A noise schedule (docs/math.md#schedules): `q(x_t | x_0) = N(alpha_t x_0, sigma_t^2 I)`.
/// One value answers alpha, sigma, lambda, the drift `f = d log alpha/dt`, and the inverse `t(lambda)`,
/// as DPM-Solver's `NoiseScheduleVP` does. The VP kinds derive sigma from alpha (`alpha^2 + sigma^2 = 1`); flow
/// matching and EDM give both (NoiseSchedule+General.swift, docs/math.md#beyond-vp).
public struct NoiseSchedule: Sendable, Equatable {
  public enum Kind: Sendable, Equatable {
    case vpLinear(beta0: Double, beta1: Double)
    case vpCosine(s: Double)
    /// DDPM betas; `logAlphas[i]` is log alpha at `t_i = (i + 1) / count`, piecewise-linear in t between.
    case discrete(logAlphas: [Double])
    /// Rectified flow: `alpha = 1 - t`, `sigma = t`, t in (0, 1]; alpha = 0 (lambda = -inf) at t = 1.
    case flowMatching
    /// EDM / VE: `alpha = 1`, `sigma = t`, t in (0, inf) (T = sigma_max, t_eps = sigma_min).
    case edm
  }

  public let kind: Kind
  public let name: String
  /// The default time range `[tMin, tMax]` of the schedule (docs/math.md#schedules).
  public let tMin: Double
  public let tMax: Double
  /// The parameters of the schedule's natural grids (Karras rho, flow matching's shift).
  public var grids: GridParameters = GridParameters()

  public init(kind: Kind, name: String, tMin: Double, tMax: Double, grids: GridParameters = GridParameters()) {
    self.kind = kind
    self.name = name
    self.tMin = tMin
    self.tMax = tMax
    self.grids = grids
  }

  /// True for the kinds with `alpha^2 + sigma^2 = 1`.
  @inlinable public var isVariancePreserving: Bool {
    switch kind {
    case .vpLinear, .vpCosine, .discrete: return true
    case .flowMatching, .edm: return false
    }
  }

  public static let vpLinear = NoiseSchedule(kind: .vpLinear(beta0: 0.1, beta1: 20), name: "vp-linear", tMin: 1e-3, tMax: 1)
  public static let vpCosine = NoiseSchedule(kind: .vpCosine(s: 0.008), name: "vp-cosine", tMin: 1e-3, tMax: 0.9946)
  public static let discrete = NoiseSchedule.discreteDDPM(betaStart: 1e-4, betaEnd: 0.02, steps: 1000)

  /// Betas linear from `betaStart` to `betaEnd`; `alphabar_i = prod_{j<=i} (1 - beta_j)`, `log alpha = log(alphabar)/2`.
  public static func discreteDDPM(betaStart: Double, betaEnd: Double, steps: Int) -> NoiseSchedule {
    var logAlphas = [Double](repeating: 0, count: steps)
    var cumulative = 0.0
    for i in 0..<steps {
      let beta = steps == 1 ? betaStart : betaStart + (betaEnd - betaStart) * Double(i) / Double(steps - 1)
      cumulative += log1p(-beta)
      logAlphas[i] = 0.5 * cumulative
    }
    return NoiseSchedule(kind: .discrete(logAlphas: logAlphas), name: "discrete", tMin: 1.0 / Double(steps), tMax: 1)
  }

  public static let names = ["vp-linear", "vp-cosine", "discrete", "flow-matching", "edm", "ve"]

  public static func named(_ name: String) throws -> NoiseSchedule {
    switch name {
    case "vp-linear": return .vpLinear
    case "vp-cosine": return .vpCosine
    case "discrete": return .discrete
    case "flow-matching": return .flowMatching
    case "edm": return .edm
    case "ve": return .ve
    default: throw InvalidInput("schedule", "unknown schedule '\(name)' (expected one of \(names.joined(separator: ", ")))")
    }
  }

  /// Throws unless `tMin <= tEps < T <= tMax` (all finite).
  public func validate(tEps: Double, T: Double) throws {
    try Check.finite(tEps, "t_eps")
    try Check.finite(T, "T")
    if !isVariancePreserving { return try validateGeneral(tEps: tEps, T: T) }
    guard tEps < T else { throw InvalidInput("t_eps", "must be smaller than T (t_eps = \(tEps), T = \(T))") }
    guard tEps >= tMin * (1 - 1e-12) else { throw InvalidInput("t_eps", "must be at least \(tMin) for \(name), got \(tEps)") }
    guard T <= tMax * (1 + 1e-12) else { throw InvalidInput("T", "must be at most \(tMax) for \(name), got \(T)") }
  }

  // MARK: - The schedule's functions of t

  @inlinable public func logAlpha(_ t: Double) -> Double {
    switch kind {
    case let .vpLinear(b0, b1): return -0.25 * (b1 - b0) * t * t - 0.5 * b0 * t
    case let .vpCosine(s):
      return log(cos((t + s) / (1 + s) * Double.pi / 2)) - log(cos(s / (1 + s) * Double.pi / 2))
    case let .discrete(logAlphas):
      let (i, w) = Self.segment(t, count: logAlphas.count)
      return logAlphas[i] + w * (logAlphas[i + 1] - logAlphas[i])
    case .flowMatching: return log1p(-t)
    case .edm: return 0
    }
  }

  /// `f(t) = d log alpha_t / dt` (docs/math.md#drift-and-diffusion). For `discrete`, the slope of the segment holding t.
  @inlinable public func dLogAlphaDt(_ t: Double) -> Double {
    switch kind {
    case let .vpLinear(b0, b1): return -0.5 * (b1 - b0) * t - 0.5 * b0
    case let .vpCosine(s):
      let c = Double.pi / (2 * (1 + s))
      return -tan((t + s) * c) * c
    case let .discrete(logAlphas):
      let (i, _) = Self.segment(t, count: logAlphas.count)
      return (logAlphas[i + 1] - logAlphas[i]) * Double(logAlphas.count)
    case .flowMatching: return -1 / (1 - t)
    case .edm: return 0
    }
  }

  @inlinable public func alpha(_ t: Double) -> Double {
    isVariancePreserving ? exp(logAlpha(t)) : generalAlpha(t)
  }

  /// `sigma_t = sqrt(1 - alpha_t^2)`, computed with expm1 so that it stays accurate at small t (VP); t otherwise.
  @inlinable public func sigma(_ t: Double) -> Double {
    isVariancePreserving ? sqrt(-expm1(2 * logAlpha(t))) : t
  }

  /// `lambda_t = log alpha_t - log sigma_t`.
  @inlinable public func lambda(_ t: Double) -> Double {
    guard isVariancePreserving else { return logAlpha(t) - log(t) }
    let la = logAlpha(t)
    return la - 0.5 * log(-expm1(2 * la))
  }

  /// `d lambda / dt = f(t) / sigma_t^2` (VP); `f - d log sigma/dt` in general (docs/math.md#beyond-vp).
  @inlinable public func dLambdaDt(_ t: Double) -> Double {
    guard isVariancePreserving else { return generalDLambdaDt(t) }
    return dLogAlphaDt(t) / (-expm1(2 * logAlpha(t)))
  }

  /// `g^2(t) = -2 sigma_t^2 d lambda/dt`, which is `-2 f(t)` for a VP schedule (docs/math.md#drift-and-diffusion).
  @inlinable public func gSquared(_ t: Double) -> Double {
    isVariancePreserving ? -2 * dLogAlphaDt(t) : -2 * t * t * generalDLambdaDt(t)
  }

  /// The inverse `t(lambda)`: closed form for the continuous schedules, exact inverse of the
  /// piecewise-linear log alpha for `discrete` (DPM-Solver's `inverse_lambda`).
  public func t(lambda: Double) -> Double {
    if !isVariancePreserving { return generalT(lambda: lambda) }
    // log alpha = -log(1 + e^{-2 lambda}) / 2, computed as a stable logaddexp.
    let logAlphaValue = -0.5 * Self.logAddExp(0, -2 * lambda)
    switch kind {
    case let .vpLinear(b0, b1):
      let l = -2 * logAlphaValue  // = (b1 - b0) t^2 / 2 + b0 t
      return 2 * l / (sqrt(b0 * b0 + 2 * (b1 - b0) * l) + b0)
    case let .vpCosine(s):
      let c = Double.pi / (2 * (1 + s))
      return acos(exp(logAlphaValue + log(cos(s * c)))) / c - s
    case let .discrete(logAlphas):
      // log alpha decreases with i: find the segment that holds logAlphaValue, extrapolating at the ends.
      let n = logAlphas.count
      var lo = 0, hi = n - 1
      if logAlphaValue >= logAlphas[1] { lo = 0; hi = 1 } else if logAlphaValue <= logAlphas[n - 2] { lo = n - 2; hi = n - 1 } else {
        while hi - lo > 1 {
          let mid = (lo + hi) / 2
          if logAlphas[mid] >= logAlphaValue { lo = mid } else { hi = mid }
        }
      }
      let w = (logAlphaValue - logAlphas[lo]) / (logAlphas[hi] - logAlphas[lo])
      return (Double(lo + 1) + w) / Double(n)
    case .flowMatching, .edm: return generalT(lambda: lambda)  // invariant: handled above
    }
  }

  /// The time a discrete-time network takes as input: `1000 (t - 1/1000)` (DPM-Solver's model wrapper),
  /// scaled to the schedule's step count.
  public func discreteModelTime(_ t: Double) -> Double {
    if case let .discrete(logAlphas) = kind {
      let n = Double(logAlphas.count)
      return n * (t - 1 / n)
    }
    return 1000 * (t - 1.0 / 1000)
  }

  // MARK: - Helpers

  /// Index i of the knot segment `[t_i, t_{i+1}]` holding t (end segments extended) and the weight within it.
  @inlinable static func segment(_ t: Double, count n: Int) -> (Int, Double) {
    let position = t * Double(n) - 1  // knot i sits at t = (i + 1)/n
    let i = min(max(Int(position.rounded(.down)), 0), n - 2)
    return (i, position - Double(i))
  }

  @inlinable static func logAddExp(_ a: Double, _ b: Double) -> Double {
    let m = max(a, b)
    return m + log1p(exp(-abs(a - b)))
  }
}
