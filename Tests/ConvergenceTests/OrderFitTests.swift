import DiffusionCore
import XCTest

@testable import Convergence

final class OrderFitTests: XCTestCase {
  /// Two-sided 95 % critical values t_{0.975}(ν) from standard tables (R: qt(0.975, df)), 9 significant digits.
  func testStudentTQuantileMatchesTables() throws {
    let table: [(Double, Double)] = [
      (1, 12.7062047), (2, 4.30265273), (3, 3.18244631), (5, 2.57058184), (10, 2.22813885), (30, 2.04227246),
      (100, 1.98397152),
    ]
    for (dof, expected) in table {
      // Tolerance 1e-7 relative: the tabulated digits.
      XCTAssertEqual(try StudentT.quantile(0.975, dof: dof), expected, accuracy: 1e-7 * expected, "dof \(dof)")
      XCTAssertEqual(try StudentT.quantile(0.025, dof: dof), -expected, accuracy: 1e-7 * expected, "dof \(dof)")
    }
    // ν = 1 is the Cauchy distribution: F(t) = 1/2 + atan(t)/π; tolerance 1e-12.
    for t in [-3.0, -0.4, 0, 0.7, 5] {
      XCTAssertEqual(try StudentT.cdf(t, dof: 1), 0.5 + atan(t) / .pi, accuracy: 1e-12)
    }
    XCTAssertThrowsInvalid(try StudentT.quantile(1, dof: 3), field: "p")
    XCTAssertThrowsInvalid(try StudentT.quantile(0.5, dof: 0), field: "dof")
  }

  func testLineFitRecoversAnExactLine() throws {
    let x = [0.0, 1, 2, 3, 4]
    let fit = try LineFit(x: x, y: x.map { 0.5 - 2 * $0 })
    // Tolerance 1e-12: exact data, only round-off.
    XCTAssertEqual(fit.slope, -2, accuracy: 1e-12)
    XCTAssertEqual(fit.intercept, 0.5, accuracy: 1e-12)
    XCTAssertEqual(fit.slopeInterval.upperBound - fit.slopeInterval.lowerBound, 0, accuracy: 1e-10)
    XCTAssertEqual(fit.rSquared, 1, accuracy: 1e-12)
    XCTAssertThrowsInvalid(try LineFit(x: [1, 2], y: [1, 2]), field: "x")
    XCTAssertThrowsInvalid(try LineFit(x: [1, 1, 1], y: [1, 2, 3]), field: "x")
  }

  /// The 95 % interval must cover the true slope in about 95 % of noisy fits with 5 points (3 dof). With the normal
  /// quantile 1.96 instead of t(3) = 3.18 the coverage would be about 85 % and this test would fail.
  func testConfidenceIntervalCoverageIsNominal() throws {
    var generator = SeededGenerator(seed: 7)
    let x = [0.0, 1, 2, 3, 4]
    var covered = 0
    let trials = 1000
    for _ in 0..<trials {
      let y = x.map { 1 + 1.5 * $0 + 0.2 * generator.normal() }
      if try LineFit(x: x, y: y).slopeInterval.contains(1.5) { covered += 1 }
    }
    let coverage = Double(covered) / Double(trials)
    // Binomial sd at 1000 trials is 0.007; accept ±3 sd.
    XCTAssertEqual(coverage, 0.95, accuracy: 0.021)
  }

  /// Order 2 with 3 % noise, a flat pre-asymptotic head (M = 2, 4), a stagnating point (M = 1024) and a round-off
  /// point below the 1e-11 floor (M = 2048).
  func testOrderTwoDropsHeadStagnationAndFloor() throws {
    var generator = SeededGenerator(seed: 11)
    var points: [ErrorPoint] = []
    for m in [8, 16, 32, 64, 128, 256, 512] {
      let h = 1 / Double(m)
      points.append(ErrorPoint(steps: m, hMax: h, error: 1e-4 * h * h * (1 + 0.03 * generator.normal())))
    }
    let e8 = points[0].error
    let e512 = points[6].error
    points.insert(contentsOf: [ErrorPoint(steps: 2, hMax: 0.5, error: 1.3 * e8), ErrorPoint(steps: 4, hMax: 0.25, error: 1.1 * e8)], at: 0)
    points.append(ErrorPoint(steps: 1024, hMax: 1.0 / 1024, error: 0.9 * e512))
    points.append(ErrorPoint(steps: 2048, hMax: 1.0 / 2048, error: 5e-12))
    let fit = try OrderFit.fit(points.shuffled(using: &generator))

    XCTAssertEqual(fit.used.map(\.steps), [8, 16, 32, 64, 128, 256, 512])
    XCTAssertEqual(fit.dropped.map(\.point.steps), [2, 4, 1024, 2048])
    XCTAssertEqual(fit.dropped.map(\.reason), [.preAsymptotic, .preAsymptotic, .stagnated, .belowFloor])
    XCTAssertTrue(fit.tailRuleMet)
    let line = try XCTUnwrap(fit.line)
    // 3 % noise over 7 points spanning 6 octaves: the slope is within 0.05 of 2.
    XCTAssertEqual(line.slope, 2, accuracy: 0.05)
    XCTAssertTrue(line.slopeInterval.contains(2), "CI \(line.slopeInterval)")
    XCTAssertEqual(try XCTUnwrap(fit.constant), 1e-4, accuracy: 0.1e-4)
    XCTAssertTrue(fit.usageSummary.hasPrefix("7/11 points"), fit.usageSummary)
  }

  /// Order 1 with 5 % noise and a steep pre-asymptotic first point (local slope 3).
  func testOrderOneDropsSteepHead() throws {
    var generator = SeededGenerator(seed: 3)
    var points: [ErrorPoint] = []
    for m in [4, 8, 16, 32, 64, 128, 256, 512, 1024] {
      let h = 2.0 / Double(m)
      points.append(ErrorPoint(steps: m, hMax: h, error: 0.1 * h * (1 + 0.05 * generator.normal())))
    }
    points.insert(ErrorPoint(steps: 2, hMax: 1, error: 8 * points[0].error), at: 0)
    let fit = try OrderFit.fit(points)
    XCTAssertEqual(fit.dropped.map(\.point.steps), [2])
    XCTAssertEqual(fit.dropped.first?.reason, .preAsymptotic)
    XCTAssertEqual(fit.used.count, 9)
    let line = try XCTUnwrap(fit.line)
    XCTAssertEqual(line.slope, 1, accuracy: 0.05)
    XCTAssertTrue(line.slopeInterval.contains(1), "CI \(line.slopeInterval)")
    XCTAssertLessThan(line.slopeInterval.upperBound - line.slopeInterval.lowerBound, 0.2)
  }

  /// Local slopes alternating 1.5, 0.5: no tail agrees within 0.25, so all points are fitted and the fit is flagged.
  func testNoAgreeingTailFallsBackToAllPoints() throws {
    var error = 1.0
    var points: [ErrorPoint] = []
    for k in 0..<7 {
      points.append(ErrorPoint(steps: 1 << (k + 2), hMax: pow(0.5, Double(k)), error: error))
      error /= k % 2 == 0 ? pow(2, 1.5) : pow(2, 0.5)
    }
    let fit = try OrderFit.fit(points)
    XCTAssertFalse(fit.tailRuleMet)
    XCTAssertEqual(fit.used.count, 7)
    XCTAssertEqual(try XCTUnwrap(fit.order), 1, accuracy: 0.1)
  }

  func testFailedZeroAndFloorPointsLeaveNoFit() throws {
    let points = [
      ErrorPoint(steps: 4, hMax: 0.25, error: .nan),
      ErrorPoint(steps: 8, hMax: 0.125, error: 0),
      ErrorPoint(steps: 16, hMax: 0.0625, error: 3e-14),
      ErrorPoint(steps: 32, hMax: 0.03125, error: 2e-14),
    ]
    let fit = try OrderFit.fit(points)
    XCTAssertNil(fit.line)
    XCTAssertNil(fit.order)
    XCTAssertEqual(fit.dropped.map(\.reason), [.invalid, .invalid, .belowFloor, .belowFloor])
    XCTAssertTrue(fit.usageSummary.contains("too few points"))
  }

  func testRejectsSharedStepAndBadRule() {
    let points = [ErrorPoint(steps: 4, hMax: 0.25, error: 1), ErrorPoint(steps: 5, hMax: 0.25, error: 0.5)]
    XCTAssertThrowsError(try OrderFit.fit(points)) { XCTAssertTrue($0 is InvalidInput) }
    XCTAssertThrowsError(try OrderFit.fit([], rule: AsymptoticRule(minimumPoints: 2))) { XCTAssertTrue($0 is InvalidInput) }
    XCTAssertThrowsInvalid(try OrderFit.fit([], rule: AsymptoticRule(confidence: 1)), field: "confidence")
  }

  func testOrderStatisticsOverSeeds() throws {
    let stats = try OrderStatistics(orders: [1.9, 2.0, 2.1, 2.0])
    XCTAssertEqual(stats.mean, 2.0, accuracy: 1e-12)
    // Sample sd: sqrt((0.01 + 0 + 0.01 + 0) / 3).
    XCTAssertEqual(try XCTUnwrap(stats.standardDeviation), (0.02 / 3).squareRoot(), accuracy: 1e-12)
    XCTAssertEqual(stats.min, 1.9)
    XCTAssertEqual(stats.max, 2.1)
    XCTAssertNil(try OrderStatistics(orders: [1.5]).standardDeviation)
    XCTAssertThrowsInvalid(try OrderStatistics(orders: []), field: "orders")
    XCTAssertThrowsInvalid(try OrderStatistics(orders: [1, .nan]), field: "orders")

    let good = (0..<5).map { k in ErrorPoint(steps: 1 << (k + 2), hMax: pow(0.5, Double(k)), error: pow(0.5, Double(k))) }
    let bad = [ErrorPoint(steps: 4, hMax: 1, error: .nan)]
    let over = try XCTUnwrap(OrderStatistics.over([try OrderFit.fit(good), try OrderFit.fit(bad)]))
    XCTAssertEqual(over.count, 1)
    XCTAssertEqual(over.unfitted, 1)
    XCTAssertEqual(over.mean, 1, accuracy: 1e-12)
    XCTAssertNil(OrderStatistics.over([try OrderFit.fit(bad)]))
  }
}
