import DiffusionCore

/// The probability-flow ODE's coefficients at t (docs/math.md#pf-ode): `dx/dt = f(t) x + c(t) eps(x, z, t)`,
/// `f = d log alpha/dt`, `c = g^2(t) / (2 sigma_t)`.
@usableFromInline struct ProbabilityFlow {
  @usableFromInline let f: Double
  @usableFromInline let c: Double

  /// The coefficients at t inside `interval`. For `discrete`, f is the slope of the knot segment the interval lies in
  /// (taken at its midpoint): at the interval's ends, t sits on a knot and rounding could pick the neighbour's slope.
  @inlinable init(schedule: NoiseSchedule, t: Double, in interval: ODEInterval) {
    var tSlope = t
    if case .discrete = schedule.kind { tSlope = 0.5 * (interval.lower + interval.upper) }
    f = schedule.dLogAlphaDt(tSlope)
    c = schedule.gSquared(tSlope) / (2 * schedule.sigma(t))
  }
}

/// One stretch of the time axis integrated in one RK45 call: `[lower, upper]`, run from upper down (sampling) or from
/// lower up (adjoint), with `row` the z-schedule row in force there (0 for a constant z).
@usableFromInline struct ODEInterval: Sendable {
  @usableFromInline let upper: Double
  @usableFromInline let lower: Double
  @usableFromInline let row: Int
}

extension ReferenceAdjoint {
  /// The intervals from T down to t_eps: split at every sampling-grid time (where a z schedule switches) and, for the
  /// `discrete` schedule, at the knots of its piecewise-linear log alpha (where f jumps), so no RK45 step crosses
  /// a discontinuity.
  @usableFromInline static func intervals(schedule: NoiseSchedule, T: Double, tEps: Double, samplingGrid: TimeGrid?)
    -> [ODEInterval]
  {
    var required = [tEps, T]
    if let samplingGrid { required += samplingGrid.times.filter { $0 > tEps && $0 < T } }
    var points = required
    if case let .discrete(logAlphas) = schedule.kind {
      let n = logAlphas.count
      let minGap = 1e-9 * (T - tEps)
      for i in 0..<n {
        let knot = Double(i + 1) / Double(n)
        if knot > tEps, knot < T, required.allSatisfy({ abs($0 - knot) > minGap }) { points.append(knot) }
      }
    }
    points.sort(by: >)
    var result: [ODEInterval] = []
    for i in 0..<(points.count - 1) where points[i] > points[i + 1] {
      let row = samplingGrid.map { $0.samplingStep(containing: 0.5 * (points[i] + points[i + 1])) } ?? 0
      result.append(ODEInterval(upper: points[i], lower: points[i + 1], row: row))
    }
    return result
  }
}
