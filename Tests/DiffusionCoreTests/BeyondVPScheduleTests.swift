import Foundation
import TestSupport
import XCTest

@testable import DiffusionCore

/// Flow matching and EDM (docs/math.md#beyond-vp): alpha, sigma, lambda, their derivatives against central differences,
/// g^2 = d sigma^2/dt - 2 f sigma^2 (and -2 f on the VP kinds, where the two coincide), the inverse of lambda, the
/// pure-noise end of flow matching, and the time-range checks.
final class BeyondVPScheduleTests: XCTestCase {
  let cases: [(NoiseSchedule, [Double])] = [
    (.flowMatching, [1e-3, 0.1, 0.37, 0.5, 0.81, 0.999]), (.edm, [0.002, 0.1, 1, 7.3, 80]), (.ve, [0.01, 3]),
  ]

  func testFunctionsAndDerivatives() {
    for (s, times) in cases {
      for t in times {
        let (a, sg) = (s.alpha(t), s.sigma(t))
        XCTAssertEqual(sg, t, "\(s.name)")
        XCTAssertEqual(a, s.kind == .edm ? 1 : 1 - t, "\(s.name)")
        XCTAssertEqual(s.lambda(t), log(a / sg), accuracy: 1e-13 * max(1, abs(s.lambda(t))), "\(s.name) t=\(t)")
        XCTAssertEqual(s.t(lambda: s.lambda(t)), t, accuracy: 1e-13 * max(1, t), "\(s.name) t=\(t)")
        let h = 1e-6 * (s.kind == .flowMatching ? min(t, 1 - t) : t)  // away from the pole of f at t = 1
        func fd(_ f: (Double) -> Double) -> Double { (f(t + h) - f(t - h)) / (2 * h) }
        let rel = 1e-7
        XCTAssertEqual(s.dLogAlphaDt(t), fd(s.logAlpha), accuracy: rel * max(1, abs(s.dLogAlphaDt(t))), "\(s.name) t=\(t)")
        XCTAssertEqual(s.dLambdaDt(t), fd(s.lambda), accuracy: rel * max(1, abs(s.dLambdaDt(t))), "\(s.name) t=\(t)")
        XCTAssertEqual(s.dAlphaDt(t), fd(s.alpha), accuracy: rel, "\(s.name) t=\(t)")
        XCTAssertEqual(s.dSigmaDt(t), fd(s.sigma), accuracy: rel, "\(s.name) t=\(t)")
        let g2 = fd { s.sigma($0) * s.sigma($0) } - 2 * s.dLogAlphaDt(t) * sg * sg
        XCTAssertEqual(s.gSquared(t), g2, accuracy: rel * max(1, abs(g2)), "\(s.name) t=\(t)")
      }
    }
    // On the VP kinds sigma comes from alpha, and the general g^2 and d sigma/dt agree with the VP forms.
    for s in [NoiseSchedule.vpLinear, .vpCosine] {
      for t in [0.01, 0.3, 0.9] {
        let h = 1e-6
        let g2 = (pow(s.sigma(t + h), 2) - pow(s.sigma(t - h), 2)) / (2 * h) - 2 * s.dLogAlphaDt(t) * pow(s.sigma(t), 2)
        XCTAssertEqual(s.gSquared(t), g2, accuracy: 1e-7 * max(1, abs(g2)), "\(s.name) t=\(t)")
        XCTAssertEqual(s.dSigmaDt(t), (s.sigma(t + h) - s.sigma(t - h)) / (2 * h), accuracy: 1e-7, "\(s.name) t=\(t)")
      }
    }
  }

  func testPureNoiseEndOfFlowMatching() {
    let s = NoiseSchedule.flowMatching
    XCTAssertEqual(s.alpha(1), 0)
    XCTAssertEqual(s.sigma(1), 1)
    XCTAssertEqual(s.lambda(1), -.infinity)
    XCTAssertEqual(s.t(lambda: -.infinity), 1)
    XCTAssertEqual(s.t(lambda: 800), exp(-800) / (1 + exp(-800)))  // no overflow at large lambda
    XCTAssertNoThrow(try s.validate(tEps: 1e-3, T: 1))
  }

  func testTimeRangeChecksNameTheField() {
    XCTAssertThrowsInvalid(try NoiseSchedule.flowMatching.validate(tEps: 1e-3, T: 1.01), field: "T")
    XCTAssertThrowsInvalid(try NoiseSchedule.flowMatching.validate(tEps: 0, T: 1), field: "t_eps")
    XCTAssertThrowsInvalid(try NoiseSchedule.edm.validate(tEps: 80, T: 0.002), field: "t_eps")
    XCTAssertThrowsInvalid(try NoiseSchedule.edm.validate(tEps: -1, T: 80), field: "t_eps")
    XCTAssertThrowsInvalid(try NoiseSchedule.edm.validate(tEps: 0.002, T: .infinity), field: "T")
    XCTAssertThrowsInvalid(try NoiseSchedule.named("rectified-flow"), field: "schedule")
    XCTAssertThrowsInvalid(try NoiseSchedule.flowMatching.with(grids: GridParameters(shift: 0)), field: "shift")
    XCTAssertThrowsInvalid(try NoiseSchedule.edm.with(grids: GridParameters(rho: -1)), field: "rho")
  }
}
