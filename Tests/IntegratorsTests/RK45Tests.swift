import DiffusionCore
import Foundation
import XCTest

@testable import Integrators

final class RK45Tests: XCTestCase {
  /// y' = -y from 0 to 2: y(2) = e^-2 to 1e-9 at rtol = atol = 1e-10 (and the step counts are consistent).
  func testExponentialDecay() throws {
    let solver = DormandPrince45(rtol: 1e-10, atol: 1e-10)
    let s = try solver.solve({ _, y in [-y[0]] }, from: 0, to: 2, y0: [1])
    XCTAssertEqual(s.y[0], exp(-2), accuracy: 1e-9)
    XCTAssertEqual(s.t, 2)
    XCTAssertEqual(s.dense?.end, 2)
    XCTAssertEqual(s.dense?.stepCount, s.statistics.acceptedSteps)
    // FSAL: 1 + 1 (initial step) + 6 per attempted step.
    XCTAssertEqual(s.statistics.rhsEvaluations, 2 + 6 * (s.statistics.acceptedSteps + s.statistics.rejectedSteps))
  }

  /// y' = y cos t, y(0) = 1: y = exp(sin t); global error below 10 rtol at every tolerance in 1e-4...1e-10.
  func testToleranceIsMet() throws {
    for tol in [1e-4, 1e-6, 1e-8, 1e-10] {
      let s = try DormandPrince45(rtol: tol, atol: tol).solve({ t, y in [y[0] * cos(t)] }, from: 0, to: 10, y0: [1])
      let error = abs(s.y[0] - exp(sin(10.0)))
      XCTAssertLessThan(error, 10 * tol * exp(sin(10.0)), "tol \(tol)")
    }
  }

  /// A rotation x' = -y, y' = x over 2 pi returns to (1, 0) to 1e-9 (rtol = atol = 1e-11), forwards and backwards.
  func testRotationBothDirections() throws {
    let solver = DormandPrince45(rtol: 1e-11, atol: 1e-11)
    let rotation: DormandPrince45.RHS = { _, y in [-y[1], y[0]] }
    let forward = try solver.solve(rotation, from: 0, to: 2 * .pi, y0: [1, 0])
    XCTAssertEqual(forward.y[0], 1, accuracy: 1e-9)
    XCTAssertEqual(forward.y[1], 0, accuracy: 1e-9)
    // Backwards from t = 3 to t = 1: y(t) = (cos t, sin t).
    let backward = try solver.solve(rotation, from: 3, to: 1, y0: [cos(3.0), sin(3.0)])
    XCTAssertEqual(backward.y[0], cos(1.0), accuracy: 1e-9)
    XCTAssertEqual(backward.y[1], sin(1.0), accuracy: 1e-9)
    XCTAssertEqual(backward.dense?.times.first, 3)
    XCTAssertEqual(backward.dense?.times.last, 1)
    XCTAssertEqual(try backward.dense!.evaluate(2.0)[0], cos(2.0), accuracy: 1e-8)
  }

  /// Dense output between steps (y' = y cos t): error below 1e-8 at 200 points inside steps (rtol = atol = 1e-10),
  /// exact at the step endpoints; outside the interval throws.
  func testDenseOutputBetweenSteps() throws {
    let s = try DormandPrince45(rtol: 1e-10, atol: 1e-10).solve({ t, y in [y[0] * cos(t)] }, from: 0, to: 6, y0: [1])
    let dense = try XCTUnwrap(s.dense)
    XCTAssertGreaterThan(dense.stepCount, 5)
    var worst = 0.0
    for i in 0..<200 {
      let t = 6 * (Double(i) + 0.37) / 200
      worst = max(worst, abs(try dense.evaluate(t)[0] - exp(sin(t))))
    }
    print("RK45 dense output worst error at rtol 1e-10: \(worst)")
    XCTAssertLessThan(worst, 1e-8)
    for i in 0...dense.stepCount {
      XCTAssertEqual(try dense.evaluate(dense.times[i])[0], dense.state(atStep: i)[0], accuracy: 1e-15)
    }
    XCTAssertThrowsInvalid(try dense.evaluate(6.1), field: "t")
    XCTAssertThrowsInvalid(try dense.evaluate(-0.1), field: "t")
  }

  /// Fixed steps on y' = y cos t over [0, 3]: the fitted log-log slope of error against h lies in [4.7, 5.3];
  /// the dense output at step midpoints converges with slope >= 3.7 (4th-order extension).
  func testFixedStepFifthOrderConvergence() throws {
    let stepCounts = [10, 14, 20, 28, 40]
    var logH: [Double] = [], logE: [Double] = [], logDense: [Double] = []
    for n in stepCounts {
      let s = try DormandPrince45.solveFixed({ t, y in [y[0] * cos(t)] }, from: 0, to: 3, y0: [1], steps: n)
      XCTAssertEqual(s.statistics.rhsEvaluations, 1 + 6 * n)
      logH.append(log(3.0 / Double(n)))
      logE.append(log(abs(s.y[0] - exp(sin(3.0)))))
      // The dense output's worst error at the midpoints of the steps.
      let dense = try XCTUnwrap(s.dense)
      var worst = 0.0
      for i in 0..<n {
        let t = 0.5 * (dense.times[i] + dense.times[i + 1])
        worst = max(worst, abs(try dense.evaluate(t)[0] - exp(sin(t))))
      }
      logDense.append(log(worst))
    }
    let slope = Self.leastSquaresSlope(logH, logE)
    let denseSlope = Self.leastSquaresSlope(logH, logDense)
    print("RK45 fixed-step convergence slope: \(slope), dense-output slope: \(denseSlope)")
    XCTAssertGreaterThanOrEqual(slope, 4.7)
    XCTAssertLessThanOrEqual(slope, 5.3)
    // The continuous extension is 4th order: local interpolation error O(h^5), global O(h^4) or better.
    XCTAssertGreaterThanOrEqual(denseSlope, 3.7)
  }

  /// A step budget of 5 cannot cover y' = y cos t over [0, 100] at rtol 1e-10.
  func testStepBudgetExhausted() {
    let solver = DormandPrince45(rtol: 1e-10, atol: 1e-10, maxSteps: 5)
    XCTAssertThrowsError(try solver.solve({ t, y in [y[0] * cos(t)] }, from: 0, to: 100, y0: [1])) { error in
      XCTAssertEqual((error as? IntegrationError)?.kind, .stepBudgetExhausted, "\(error)")
      XCTAssertTrue("\(error)".contains("budget"))
    }
  }

  /// y' = y^2, y(0) = 1 blows up at t = 1: integrating to t = 2 underflows the step size near t = 1.
  func testStepSizeUnderflowAtSingularity() {
    let solver = DormandPrince45(rtol: 1e-8, atol: 1e-8)
    XCTAssertThrowsError(try solver.solve({ _, y in [y[0] * y[0]] }, from: 0, to: 2, y0: [1])) { error in
      guard let e = error as? IntegrationError else { return XCTFail("wrong error \(error)") }
      XCTAssertEqual(e.kind, .stepSizeUnderflow, "\(e)")
      XCTAssertEqual(e.t, 1, accuracy: 1e-3)
    }
  }

  func testInvalidInputs() {
    let f: DormandPrince45.RHS = { _, y in y }
    let solver = DormandPrince45()
    XCTAssertThrowsError(try solver.solve(f, from: 0, to: 1, y0: [.nan])) { XCTAssertTrue($0 is InvalidInput) }
    XCTAssertThrowsError(try solver.solve(f, from: 0, to: 1, y0: [])) { XCTAssertTrue($0 is InvalidInput) }
    XCTAssertThrowsError(try solver.solve(f, from: 0, to: 0, y0: [1])) { XCTAssertTrue($0 is InvalidInput) }
    XCTAssertThrowsError(try solver.solve(f, from: 0, to: .infinity, y0: [1])) { XCTAssertTrue($0 is InvalidInput) }
    XCTAssertThrowsError(try DormandPrince45(rtol: 0).solve(f, from: 0, to: 1, y0: [1])) {
      XCTAssertEqual(($0 as? InvalidInput)?.field, "rtol")
    }
    XCTAssertThrowsError(try DormandPrince45(atol: -1).solve(f, from: 0, to: 1, y0: [1])) {
      XCTAssertEqual(($0 as? InvalidInput)?.field, "atol")
    }
    XCTAssertThrowsInvalid(try DormandPrince45(maxSteps: 0).solve(f, from: 0, to: 1, y0: [1]), field: "maxSteps")
    XCTAssertThrowsError(try solver.solve({ _, _ in [1, 2] }, from: 0, to: 1, y0: [1])) {
      XCTAssertEqual(($0 as? InvalidInput)?.field, "rhs")
    }
    XCTAssertThrowsInvalid(try DormandPrince45.solveFixed(f, from: 0, to: 1, y0: [1], steps: 0), field: "steps")
  }

  /// Appending the solutions of adjacent intervals gives one dense solution over both.
  func testAppendAdjacentIntervals() throws {
    let solver = DormandPrince45(rtol: 1e-10, atol: 1e-10)
    let f: DormandPrince45.RHS = { t, y in [y[0] * cos(t)] }
    let a = try solver.solve(f, from: 3, to: 2, y0: [exp(sin(3.0))])
    let b = try solver.solve(f, from: 2, to: 0.5, y0: a.y)
    var joined = try XCTUnwrap(a.dense)
    try joined.append(try XCTUnwrap(b.dense))
    XCTAssertEqual(joined.stepCount, a.statistics.acceptedSteps + b.statistics.acceptedSteps)
    XCTAssertEqual(try joined.evaluate(1.1)[0], exp(sin(1.1)), accuracy: 1e-8)
    XCTAssertEqual(try joined.evaluate(2.7)[0], exp(sin(2.7)), accuracy: 1e-8)
    XCTAssertThrowsInvalid(try joined.append(try XCTUnwrap(a.dense)), field: "dense solution")
  }

  static func leastSquaresSlope(_ x: [Double], _ y: [Double]) -> Double {
    let n = Double(x.count)
    let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
    var sxy = 0.0, sxx = 0.0
    for i in 0..<x.count { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) * (x[i] - mx) }
    return sxy / sxx
  }
}
