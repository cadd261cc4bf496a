import Foundation
import XCTest

@testable import DiffusionCore

final class NoiseScheduleTests: XCTestCase {
  let schedules: [NoiseSchedule] = [.vpLinear, .vpCosine, .discrete]

  func times(_ s: NoiseSchedule) -> [Double] {
    // Points inside segments (not on the discrete knots, where the slope jumps).
    (0..<37).map { s.tMin + (s.tMax - s.tMin) * (Double($0) + 0.4137) / 37.2 }
  }

  /// alpha^2 + sigma^2 = 1, lambda = log(alpha/sigma), tolerance 1e-14.
  func testIdentities() {
    for s in schedules {
      for t in times(s) {
        let a = s.alpha(t), sg = s.sigma(t)
        XCTAssertEqual(a * a + sg * sg, 1, accuracy: 1e-14, "\(s.name) t=\(t)")
        XCTAssertEqual(s.lambda(t), log(a / sg), accuracy: 1e-12, "\(s.name) t=\(t)")
      }
    }
  }

  /// t(lambda(t)) = t to 1e-11 relative, over the whole default range.
  func testInverseRoundTrip() {
    for s in schedules {
      for t in times(s) + [s.tMin, s.tMax] {
        XCTAssertEqual(s.t(lambda: s.lambda(t)), t, accuracy: 1e-11 * max(1, t), "\(s.name) t=\(t)")
      }
    }
  }

  /// d log alpha/dt and d lambda/dt against central differences (h = 1e-6, tolerance 1e-7 relative).
  func testDerivativesAgainstFiniteDifferences() {
    for s in schedules {
      for t in times(s) {
        let h = 1e-6
        let fd = (s.logAlpha(t + h) - s.logAlpha(t - h)) / (2 * h)
        XCTAssertEqual(s.dLogAlphaDt(t), fd, accuracy: 1e-7 * max(1, abs(fd)), "\(s.name) t=\(t)")
        let fdl = (s.lambda(t + h) - s.lambda(t - h)) / (2 * h)
        XCTAssertEqual(s.dLambdaDt(t), fdl, accuracy: 1e-6 * max(1, abs(fdl)), "\(s.name) t=\(t)")
      }
    }
  }

  /// Known values: vp-linear g^2(t) = beta0 + (beta1 - beta0) t; the DDPM alphabar at the last step;
  /// vp-cosine alpha(0) = 1.
  /// An alphas_cumprod entry of exactly 1 (a trained beta of 1e-300 rounds 1 - beta to 1) is sigma = 0, an infinite
  /// lambda: refused when the schedule is built, not after the work as a NaN grid entry or loss.
  func testAnAlphaOfOneIsRefusedWhenTheScheduleIsBuilt() throws {
    XCTAssertThrowsInvalid(try NoiseSchedule.discrete(alphasCumprod: [1 - 1e-300, 0.5]), field: "alphas_cumprod")
    XCTAssertThrowsInvalid(try NoiseSchedule.discrete(alphasCumprod: [1.0, 0.9999, 0.5]), field: "alphas_cumprod")
    let nearOne = try NoiseSchedule.discrete(alphasCumprod: [1 - 1e-16, 0.5])
    XCTAssertTrue(nearOne.lambda(nearOne.tMin).isFinite)
  }

  func testKnownValues() {
    let lin = NoiseSchedule.vpLinear
    for t in [0.0, 0.3, 1.0] { XCTAssertEqual(lin.gSquared(t), 0.1 + 19.9 * t, accuracy: 1e-13) }
    XCTAssertEqual(lin.logAlpha(1), -(19.9 / 4 + 0.05), accuracy: 1e-15)
    XCTAssertEqual(NoiseSchedule.vpCosine.alpha(0), 1, accuracy: 1e-15)
    var alphabar = 1.0
    for i in 0..<1000 { alphabar *= 1 - (1e-4 + (0.02 - 1e-4) * Double(i) / 999) }
    XCTAssertEqual(NoiseSchedule.discrete.alpha(1), sqrt(alphabar), accuracy: 1e-15)
    XCTAssertEqual(NoiseSchedule.discrete.alpha(0.001), sqrt(1 - 1e-4), accuracy: 1e-15)
    XCTAssertEqual(NoiseSchedule.discrete.discreteModelTime(0.001), 0, accuracy: 1e-12)
    XCTAssertEqual(NoiseSchedule.discrete.discreteModelTime(1), 999, accuracy: 1e-9)
  }

  func testLambdaIsDecreasing() {
    for s in schedules {
      let ts = times(s)
      for (a, b) in zip(ts, ts.dropFirst()) { XCTAssertGreaterThan(s.lambda(a), s.lambda(b), s.name) }
    }
  }

  func testValidation() {
    XCTAssertThrowsInvalid(try NoiseSchedule.named("vp-quadratic"), field: "schedule")
    XCTAssertThrowsInvalid(try NoiseSchedule.vpLinear.validate(tEps: 0.5, T: 0.5), field: "t_eps")
    XCTAssertThrowsInvalid(try NoiseSchedule.vpCosine.validate(tEps: 1e-3, T: 1.0), field: "T")
    XCTAssertThrowsInvalid(try NoiseSchedule.vpLinear.validate(tEps: .nan, T: 1.0), field: "t_eps")
    XCTAssertNoThrow(try NoiseSchedule.vpLinear.validate(tEps: 1e-3, T: 1.0))
  }
}
