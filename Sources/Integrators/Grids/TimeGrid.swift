import DiffusionCore
import Foundation

/// How grid points are spaced between t_eps and T (DPM-Solver's `skip_type`).
public enum GridSpacing: String, CaseIterable, Sendable {
  /// Uniform in lambda (half the log-SNR): equal `h` on every step.
  case lambda = "lambda"
  /// Uniform in t.
  case timeUniform = "time-uniform"
  /// Uniform in sqrt(t), so steps shrink near t_eps (DPM-Solver's `time_quadratic`).
  case timeQuadratic = "time-quadratic"
  /// Karras et al.: `s^(1/rho)` uniform for `s = e^-lambda` (sigma itself on EDM), rho from the schedule.
  case karras = "karras"
  /// Flow matching's shifted time (diffusers' `shift`, `mu`, `shift_terminal`; docs/math.md#natural-grids).
  case shifted = "shifted"

  public static func named(_ name: String, option: String = "grid") throws -> GridSpacing {
    try parse(name, option: option, what: "grid")
  }
}

/// A time grid `t_eps = t_0 < t_1 < ... < t_N = T` with its alpha, sigma and lambda precomputed.
/// Samplers walk it from the top (T) down; adjoint solvers walk it from the bottom (t_eps) up.
public struct TimeGrid: Sendable, Equatable {
  public let times: [Double]
  public let alphas: [Double]
  public let sigmas: [Double]
  public let lambdas: [Double]
  public let spacing: GridSpacing?

  /// The number of steps N.
  public var steps: Int { times.count - 1 }

  public init(schedule: NoiseSchedule, tEps: Double, T: Double, steps: Int, spacing: GridSpacing) throws {
    try schedule.validate(tEps: tEps, T: T)
    guard steps >= 1 else { throw InvalidInput("steps", "must be at least 1, got \(steps)") }
    guard steps <= 10_000_000 else { throw InvalidInput("steps", "too many steps (\(steps))") }
    var t = [Double](repeating: 0, count: steps + 1)
    let natural = try NaturalGrid(schedule: schedule, tEps: tEps, T: T, spacing: spacing)
    for i in 0...steps {
      let u = Double(i) / Double(steps)
      switch spacing {
      case .karras, .shifted:
        t[i] = natural!.time(u)  // invariant: NaturalGrid is built for these spacings
      case .lambda:
        let l0 = schedule.lambda(tEps), l1 = schedule.lambda(T)
        t[i] = schedule.t(lambda: l0 + u * (l1 - l0))
      case .timeUniform:
        t[i] = tEps + u * (T - tEps)
      case .timeQuadratic:
        let r = sqrt(tEps) + u * (sqrt(T) - sqrt(tEps))
        t[i] = r * r
      }
    }
    t[0] = tEps  // exact end points, whatever the inverse's round-off
    t[steps] = T
    try self.init(schedule: schedule, times: t, spacing: spacing)
  }

  /// A grid from explicit, strictly increasing times.
  public init(schedule: NoiseSchedule, times: [Double], spacing: GridSpacing? = nil) throws {
    guard times.count >= 2 else { throw InvalidInput("grid", "needs at least two times") }
    try Check.finite(times, "grid")
    for i in 1..<times.count where !(times[i] > times[i - 1]) {
      throw InvalidInput("grid", "times must increase strictly (t[\(i - 1)] = \(times[i - 1]), t[\(i)] = \(times[i]))")
    }
    self.times = times
    self.alphas = times.map(schedule.alpha)
    self.sigmas = times.map(schedule.sigma)
    self.lambdas = times.map(schedule.lambda)
    self.spacing = spacing
  }

  /// True when the grid starts at pure noise (alpha_T = 0, lambda_T = -inf: flow matching at T = 1), where the
  /// first sampling step and the last adjoint step take their data-prediction form (docs/math.md#noise-end).
  public var startsAtPureNoise: Bool { alphas[steps] == 0 }

  /// The largest step in lambda, `h_max = max_i |lambda_{i+1} - lambda_i|` (Theorem 1).
  public var hMax: Double {
    zip(lambdas, lambdas.dropFirst()).map { abs($1 - $0) }.max() ?? 0
  }

  /// Index of the sampling step (counted from T downwards) whose interval `[t_j, t_{j+1}]` holds t.
  public func samplingStep(containing t: Double) -> Int {
    var lo = 0, hi = steps  // invariant: times[lo] <= t <= times[hi]
    while hi - lo > 1 {
      let mid = (lo + hi) / 2
      if times[mid] <= t { lo = mid } else { hi = mid }
    }
    return steps - 1 - lo
  }
}
