import DiffusionCore
import Foundation

/// The Dormand-Prince 5(4) pair ("RK45", as MATLAB ode45 and SciPy's RK45; docs/math.md#dormand-prince): 7 stages, FSAL,
/// embedded 4th-order error estimate, Hairer's PI step-size control and initial-step selection, dense output.
///
/// Error norm (Hairer): `err = sqrt(mean_j ((y5 - y4)_j / (atol + rtol max(|y_j|, |y_new,j|)))^2)`; a step is accepted
/// when `err <= 1`. Integration runs from t0 to t1 in either direction.
public struct DormandPrince45: Sendable {
  /// The right-hand side `dy/dt = f(t, y)`; must return as many numbers as y holds.
  public typealias RHS = (Double, [Double]) throws -> [Double]

  public var rtol: Double
  public var atol: Double
  /// The most attempted steps (accepted + rejected) before `IntegrationError.stepBudgetExhausted`.
  public var maxSteps: Int
  /// The largest step size |h| allowed.
  public var maxStepSize: Double
  /// The first step size |h|; nil selects it automatically (Hairer's `hinit`).
  public var initialStep: Double?

  // Hairer's DOPRI5 controller constants: PI control with beta = 0.04, alpha = 1/5 - 0.75 beta,
  // safety 0.9, step ratio h_new/h clamped to [0.2, 10].
  public static let beta = 0.04
  public static let alpha = 0.2 - 0.75 * beta
  public static let safety = 0.9
  public static let minFactor = 0.2
  public static let maxFactor = 10.0

  public init(rtol: Double = 1e-6, atol: Double = 1e-9, maxSteps: Int = 100_000, maxStepSize: Double = .infinity,
              initialStep: Double? = nil) {
    self.rtol = rtol
    self.atol = atol
    self.maxSteps = maxSteps
    self.maxStepSize = maxStepSize
    self.initialStep = initialStep
  }

  /// The outcome of one integration.
  public struct Solution: Sendable {
    /// The end time t1 and the state there.
    public var t: Double
    public var y: [Double]
    /// y(t) on the whole interval; nil when not requested.
    public var dense: DenseSolution?
    public var statistics: IntegrationStatistics
    /// The step size |h| the controller proposes next (to continue on an adjacent interval); the fixed step for
    /// `solveFixed`.
    public var proposedStepSize: Double
  }

  /// Throws `InvalidInput` unless the settings are usable.
  public func validate() throws {
    guard rtol.isFinite, rtol > 0 else { throw InvalidInput("rtol", "must be a positive finite number, got \(rtol)") }
    guard atol.isFinite, atol >= 0 else { throw InvalidInput("atol", "must be a finite number >= 0, got \(atol)") }
    try Check.positive(maxSteps, "maxSteps")
    guard maxStepSize > 0, !maxStepSize.isNaN else {
      throw InvalidInput("maxStepSize", "must be positive, got \(maxStepSize)")
    }
    if let h = initialStep, !(h.isFinite && h > 0) {
      throw InvalidInput("initialStep", "must be a positive finite number, got \(h)")
    }
  }

  /// Integrates `dy/dt = f(t, y)` from `(t0, y0)` to t1 with adaptive steps.
  /// Throws `InvalidInput` for bad inputs, `IntegrationError` when the step size underflows or the budget runs out.
  public func solve(_ f: RHS, from t0: Double, to t1: Double, y0: [Double], dense: Bool = true) throws -> Solution {
    try validate()
    try Self.validateInterval(t0, t1, y0)
    typealias T = DormandPrinceTableau
    let n = y0.count
    let direction: Double = t1 > t0 ? 1 : -1
    var statistics = IntegrationStatistics()

    var t = t0, y = y0
    var k1 = try Self.evaluate(f, t, y, n, &statistics)
    guard k1.allSatisfy({ $0.isFinite }) else { throw InvalidInput("rhs", "is not finite at t0 = \(t0)") }
    var h: Double
    if let h0 = initialStep {
      h = direction * min(h0, maxStepSize, abs(t1 - t0))
    } else {
      h = direction * (try initialStepSize(f, t0, y0, k1, t1, &statistics))
    }

    var solution = dense ? DenseSolution(dimension: n, t0: t0, y0: y0) : nil
    var stage = Stage(n: n)
    let expo = Self.alpha, facc1 = 1 / Self.minFactor, facc2 = 1 / Self.maxFactor
    var facOld = 1e-4
    var rejectedLast = false
    var attempts = 0
    var hNew = h
    while true {
      guard attempts < maxSteps else {
        throw IntegrationError(kind: .stepBudgetExhausted, t: t, h: h, maxSteps: maxSteps)
      }
      guard abs(h) > 10 * Double.ulpOfOne * abs(t), abs(h) >= Double.leastNormalMagnitude else {
        throw IntegrationError(kind: .stepSizeUnderflow, t: t, h: h, maxSteps: maxSteps)
      }
      var last = false
      if (t + 1.01 * h - t1) * direction >= 0 {
        h = t1 - t
        last = true
      }
      attempts += 1
      try stage.attempt(f, t, y, k1, h, &statistics)

      // Mixed RMS error norm of the embedded estimate h sum_i e_i k_i.
      var sum = 0.0
      for j in 0..<n {
        let e = h * (T.e1 * k1[j] + T.e3 * stage.k3[j] + T.e4 * stage.k4[j] + T.e5 * stage.k5[j]
          + T.e6 * stage.k6[j] + T.e7 * stage.k7[j])
        let sk = atol + rtol * max(abs(y[j]), abs(stage.yNew[j]))
        let r = e / sk
        sum += r * r
      }
      let err = (sum / Double(n)).squareRoot()

      if err <= 1 {  // accept (err is finite here)
        let fac11 = pow(err, expo)
        let fac = max(facc2, min(facc1, fac11 / pow(facOld, Self.beta) / Self.safety))
        hNew = h / fac
        facOld = max(err, 1e-4)
        statistics.acceptedSteps += 1
        let tNew = last ? t1 : t + h
        if solution != nil { stage.appendDense(to: &solution!, t: tNew, y: y, k1: k1, h: h) }
        swap(&y, &stage.yNew)
        swap(&k1, &stage.k7)  // FSAL: k7 = f(t + h, y_new)
        t = tNew
        if abs(hNew) > maxStepSize { hNew = direction * maxStepSize }
        if rejectedLast { hNew = direction * min(abs(hNew), abs(h)) }
        rejectedLast = false
        if last { break }
        h = hNew
      } else {  // reject; a non-finite error shrinks the step by the largest factor
        statistics.rejectedSteps += 1
        rejectedLast = true
        let fac11 = err.isFinite ? pow(err, expo) : facc1 * Self.safety
        h = h / min(facc1, fac11 / Self.safety)
      }
    }
    return Solution(t: t1, y: y, dense: solution, statistics: statistics, proposedStepSize: abs(hNew))
  }

  /// Integrates with `steps` equal Dormand-Prince steps (no error control; the 5th-order solution is propagated).
  public static func solveFixed(_ f: RHS, from t0: Double, to t1: Double, y0: [Double], steps: Int,
                                dense: Bool = true) throws -> Solution {
    try Check.positive(steps, "steps")
    try validateInterval(t0, t1, y0)
    let n = y0.count
    var statistics = IntegrationStatistics()
    var y = y0
    var k1 = try evaluate(f, t0, y, n, &statistics)
    var solution = dense ? DenseSolution(dimension: n, t0: t0, y0: y0) : nil
    var stage = Stage(n: n)
    let span = t1 - t0
    for i in 0..<steps {
      // Grid times from the index, so the last step ends exactly at t1.
      let t = t0 + span * Double(i) / Double(steps)
      let tNext = i == steps - 1 ? t1 : t0 + span * Double(i + 1) / Double(steps)
      let h = tNext - t
      try stage.attempt(f, t, y, k1, h, &statistics)
      if solution != nil { stage.appendDense(to: &solution!, t: tNext, y: y, k1: k1, h: h) }
      swap(&y, &stage.yNew)
      swap(&k1, &stage.k7)
      statistics.acceptedSteps += 1
    }
    return Solution(t: t1, y: y, dense: solution, statistics: statistics, proposedStepSize: abs(span) / Double(steps))
  }

  // MARK: - Pieces

  static func validateInterval(_ t0: Double, _ t1: Double, _ y0: [Double]) throws {
    try Check.finite(t0, "t0")
    try Check.finite(t1, "t1")
    guard t0 != t1 else { throw InvalidInput("t1", "must differ from t0 (both are \(t0))") }
    guard !y0.isEmpty else { throw InvalidInput("y0", "must hold at least one number") }
    try Check.finite(y0, "y0")
  }

  @inline(__always)
  static func evaluate(_ f: RHS, _ t: Double, _ y: [Double], _ n: Int, _ statistics: inout IntegrationStatistics) throws
    -> [Double]
  {
    let k = try f(t, y)
    statistics.rhsEvaluations += 1
    guard k.count == n else { throw InvalidInput("rhs", "returned \(k.count) numbers for a state of \(n)") }
    return k
  }

  /// Hairer's initial step (`hinit`, as SciPy's `select_initial_step`) with RMS norms, order 5.
  func initialStepSize(_ f: RHS, _ t0: Double, _ y0: [Double], _ f0: [Double], _ t1: Double,
                       _ statistics: inout IntegrationStatistics) throws -> Double {
    let n = y0.count
    let direction: Double = t1 > t0 ? 1 : -1
    let span = abs(t1 - t0)
    func rms(_ g: (Int) -> Double) -> Double {
      var s = 0.0
      for j in 0..<n { let v = g(j) / (atol + rtol * abs(y0[j])); s += v * v }
      return (s / Double(n)).squareRoot()
    }
    let d0 = rms { y0[$0] }, d1 = rms { f0[$0] }
    var h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1
    h0 = min(h0, maxStepSize, span)
    let y1 = (0..<n).map { y0[$0] + direction * h0 * f0[$0] }
    let f1 = try Self.evaluate(f, t0 + direction * h0, y1, n, &statistics)
    let d2 = rms { f1[$0] - f0[$0] } / h0
    guard d2.isFinite else { return h0 }
    let h1 = (d1 <= 1e-15 && d2 <= 1e-15) ? max(1e-6, h0 * 1e-3) : pow(0.01 / max(d1, d2), 1.0 / 5)
    return min(100 * h0, h1, maxStepSize, span)
  }

  /// Stage storage for one step, reused across steps.
  struct Stage {
    var k2, k3, k4, k5, k6, k7: [Double]
    var yTemp: [Double]
    var yNew: [Double]

    init(n: Int) {
      let zero = [Double](repeating: 0, count: n)
      (k2, k3, k4, k5, k6, k7, yTemp, yNew) = (zero, zero, zero, zero, zero, zero, zero, zero)
    }

    /// Stages 2...7 of the step `(t, y) -> t + h` given `k1 = f(t, y)`; leaves y5 in `yNew` and `f(t + h, y5)` in k7.
    mutating func attempt(_ f: RHS, _ t: Double, _ y: [Double], _ k1: [Double], _ h: Double,
                          _ statistics: inout IntegrationStatistics) throws {
      typealias T = DormandPrinceTableau
      let n = y.count
      for j in 0..<n { yTemp[j] = y[j] + h * T.a21 * k1[j] }
      k2 = try DormandPrince45.evaluate(f, t + T.c2 * h, yTemp, n, &statistics)
      for j in 0..<n { yTemp[j] = y[j] + h * (T.a31 * k1[j] + T.a32 * k2[j]) }
      k3 = try DormandPrince45.evaluate(f, t + T.c3 * h, yTemp, n, &statistics)
      for j in 0..<n { yTemp[j] = y[j] + h * (T.a41 * k1[j] + T.a42 * k2[j] + T.a43 * k3[j]) }
      k4 = try DormandPrince45.evaluate(f, t + T.c4 * h, yTemp, n, &statistics)
      for j in 0..<n { yTemp[j] = y[j] + h * (T.a51 * k1[j] + T.a52 * k2[j] + T.a53 * k3[j] + T.a54 * k4[j]) }
      k5 = try DormandPrince45.evaluate(f, t + T.c5 * h, yTemp, n, &statistics)
      for j in 0..<n {
        yTemp[j] = y[j] + h * (T.a61 * k1[j] + T.a62 * k2[j] + T.a63 * k3[j] + T.a64 * k4[j] + T.a65 * k5[j])
      }
      k6 = try DormandPrince45.evaluate(f, t + h, yTemp, n, &statistics)
      for j in 0..<n {
        yNew[j] = y[j] + h * (T.a71 * k1[j] + T.a73 * k3[j] + T.a74 * k4[j] + T.a75 * k5[j] + T.a76 * k6[j])
      }
      k7 = try DormandPrince45.evaluate(f, t + h, yNew, n, &statistics)
    }

    /// Records the accepted step `(t, y) -> (tNew, yNew)` with Hairer's dense-output coefficients.
    func appendDense(to solution: inout DenseSolution, t tNew: Double, y: [Double], k1: [Double], h: Double) {
      typealias T = DormandPrinceTableau
      let n = y.count
      var c1 = [Double](repeating: 0, count: n), c2 = c1, c3 = c1, c4 = c1
      for j in 0..<n {
        let yDiff = yNew[j] - y[j]
        let bSpline = h * k1[j] - yDiff
        c1[j] = yDiff
        c2[j] = bSpline
        c3[j] = yDiff - h * k7[j] - bSpline
        c4[j] = h * (T.d1 * k1[j] + T.d3 * k3[j] + T.d4 * k4[j] + T.d5 * k5[j] + T.d6 * k6[j] + T.d7 * k7[j])
      }
      solution.appendStep(t: tNew, y: yNew, c1: c1, c2: c2, c3: c3, c4: c4)
    }
  }
}
