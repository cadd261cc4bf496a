import DiffusionCore
import XCTest

@testable import ToyModels

/// The mixture on flow matching and EDM (docs/math.md#beyond-vp): eps, x0-hat and the velocity with their VJPs in x,
/// z and theta against Ridders-extrapolated central differences (Float64, 1e-7 relative per block), the pure-noise end
/// of flow matching, and the VP formulas where they coincide.
final class BeyondVPMixtureTests: XCTestCase {
  typealias Value = @Sendable (GaussianMixture, [Double], [Double], Double) throws -> [Double]
  typealias Pullback = @Sendable (GaussianMixture, [Double], [Double], Double, [Double]) throws -> NoiseVJP

  static let functions: [(String, Value, Pullback)] = [
    ("eps", { try $0.eps($1, z: $2, t: $3, batch: 2) }, { try $0.vjp($1, z: $2, t: $3, batch: 2, cotangent: $4, wantParameters: true) }),
    ("x0-hat", { try $0.dataPrediction($1, z: $2, t: $3, batch: 2) },
     { try $0.dataVJP($1, z: $2, t: $3, batch: 2, cotangent: $4, wantParameters: true) }),
    ("velocity", { try $0.velocity($1, z: $2, t: $3, batch: 2) },
     { try $0.velocityVJP($1, z: $2, t: $3, batch: 2, cotangent: $4, wantParameters: true) }),
  ]

  func testVJPsAgainstFiniteDifferencesOnFlowMatchingAndEDM() throws {
    let fm = try GaussianMixture.random(d: 3, K: 3, m: 2, covariance: .diagonal, schedule: .flowMatching, seed: 31)
    try check(fm, times: [1e-3, 0.3, 0.9, 0.999, 1.0])
    let fmFull = try GaussianMixture.random(d: 3, K: 2, m: 1, covariance: .full, schedule: .flowMatching, seed: 32)
    try check(fmFull, times: [0.05, 0.7, 1.0])
    let edm = try GaussianMixture.random(d: 3, K: 3, m: 2, covariance: .diagonal, schedule: .edm, seed: 33)
    try check(edm, times: [0.002, 0.5, 3, 80])
  }

  /// At alpha = 0 the prediction is the prior mean, the limit of x0-hat as t -> 1 (checked at 1 - 1e-7), and
  /// eps = x / sigma exactly.
  func testPureNoiseEnd() throws {
    let model = try GaussianMixture.random(d: 3, K: 3, m: 2, covariance: .diagonal, schedule: .flowMatching, seed: 34)
    var rng = SeededGenerator(seed: 3)
    let x = rng.normals(6), z = rng.normals(4)
    let end = try model.dataPrediction(x, z: z, t: 1, batch: 2)
    let near = try model.dataPrediction(x, z: z, t: 1 - 1e-7, batch: 2)
    XCTAssertLessThan(FiniteDifference.relativeError(near, end), 1e-6)
    XCTAssertLessThan(FiniteDifference.relativeError(try model.eps(x, z: z, t: 1, batch: 2), x), 1e-15)
    XCTAssertEqual(try model.dataVJP(x, z: z, t: 1, batch: 2, cotangent: x, wantParameters: false).x, [Double](repeating: 0, count: 6))
  }

  /// eps depends on (alpha, sigma) only through the SNR after scaling x by 1/sqrt(alpha^2 + sigma^2): eps on flow
  /// matching and EDM equals eps on vp-linear at the time with the same lambda, at the rescaled x (1e-12).
  func testAgreesWithVPAtTheSameLambda() throws {
    let vp = try GaussianMixture.random(d: 3, K: 3, m: 2, covariance: .full, schedule: .vpLinear, seed: 35)
    var rng = SeededGenerator(seed: 4)
    let x = rng.normals(6), z = rng.normals(4)
    for (schedule, times) in [(NoiseSchedule.flowMatching, [0.01, 0.4, 0.95]), (.edm, [0.01, 1, 60])] {
      let model = vp.replacingSchedule(schedule)
      for t in times {
        let (a, s) = (schedule.alpha(t), schedule.sigma(t))
        let tVP = NoiseSchedule.vpLinear.t(lambda: schedule.lambda(t))
        let scale = 1 / (a * a + s * s).squareRoot()
        let expected = try vp.eps(x.map { $0 * scale }, z: z, t: tVP, batch: 2)
        XCTAssertLessThan(FiniteDifference.relativeError(try model.eps(x, z: z, t: t, batch: 2), expected), 1e-10, "\(schedule.name) t=\(t)")
      }
    }
  }

  /// The velocity equals the probability-flow ODE's `f x + g^2/(2 sigma) eps` wherever alpha > 0 (docs/math.md#pf-ode).
  func testVelocityIsTheProbabilityFlow() throws {
    for schedule in [NoiseSchedule.flowMatching, .edm, .vpLinear] {
      let model = try GaussianMixture.random(d: 3, K: 2, m: 1, covariance: .diagonal, schedule: schedule, seed: 36)
      var rng = SeededGenerator(seed: 5)
      let x = rng.normals(6), z = rng.normals(2)
      for t in [0.01, 0.5, 0.9] {
        let e = try model.eps(x, z: z, t: t, batch: 2)
        let f = schedule.dLogAlphaDt(t), c = schedule.gSquared(t) / (2 * schedule.sigma(t))
        let flow = (0..<6).map { f * x[$0] + c * e[$0] }
        XCTAssertLessThan(FiniteDifference.relativeError(try model.velocity(x, z: z, t: t, batch: 2), flow), 1e-12, "\(schedule.name) t=\(t)")
      }
    }
  }

  func check(_ model: GaussianMixture, times: [Double], file: StaticString = #filePath, line: UInt = #line) throws {
    let d = model.dataDimension, m = model.conditionDimension
    var rng = SeededGenerator(seed: 7)
    for t in times {
      let (alpha, sigma) = (model.schedule.alpha(t), model.schedule.sigma(t))
      let means = model.means
      var x = [Double](repeating: 0, count: 2 * d)
      for i in 0..<d {
        x[i] = alpha * (means[0][i] + rng.normal()) + sigma * rng.normal()
        x[d + i] = alpha * 0.5 * (means[0][i] + means[1 % model.componentCount][i]) + 0.1 * sigma * rng.normal()
      }
      let z = rng.normals(2 * m), v = rng.normals(2 * d)
      for (name, value, pullback) in Self.functions {
        let context = "\(name) \(model.schedule.name) \(model.covariance) t=\(t)"
        let analytic = try pullback(model, x, z, t, v)
        XCTAssertLessThan(FiniteDifference.relativeError(analytic.eps, try value(model, x, z, t)), 1e-14, "value: \(context)", file: file, line: line)
        let fdX = try FiniteDifference.gradient(at: x) { FiniteDifference.dot(v, try value(model, $0, z, t)) }
        XCTAssertLessThan(FiniteDifference.absoluteOrRelative(analytic.x, fdX), 1e-7, "x: \(context)", file: file, line: line)
        if m > 0 {
          let fdZ = try FiniteDifference.gradient(at: z) { FiniteDifference.dot(v, try value(model, x, $0, t)) }
          XCTAssertLessThan(FiniteDifference.absoluteOrRelative(analytic.z, fdZ), 1e-7, "z: \(context)", file: file, line: line)
        }
        let fdTheta = try FiniteDifference.gradient(at: model.parameters) {
          FiniteDifference.dot(v, try value(try model.replacingParameters($0), x, z, t))
        }
        var offset = 0
        for block in model.parameterBlocks where block.count > 0 {
          let range = offset..<(offset + block.count)
          offset += block.count
          let error = FiniteDifference.absoluteOrRelative(Array(analytic.theta[range]), Array(fdTheta[range]))
          // x0-hat = (x - sigma eps)/alpha loses about log10(1/alpha) digits near alpha = 0 (3 at t = 0.999)
          let tolerance = name == "eps" || alpha == 0 ? 1e-7 : 1e-7 / min(1, 10 * alpha)
          XCTAssertLessThan(error, tolerance, "\(block.name): \(context)", file: file, line: line)
        }
      }
    }
  }
}

extension FiniteDifference {
  /// `max |a - b| / max(max |b|, 1e-5)`: relative to the block's scale, absolute (1e-12 at the 1e-7 tolerance) for blocks
  /// below 1e-5, such as x0-hat's x and log_std parts at alpha = 0 (zero) or its logits part at sigma = 0.002 (sigma
  /// times eps's), where the finite difference of an O(1) value cannot resolve more.
  static func absoluteOrRelative(_ a: [Double], _ b: [Double]) -> Double {
    let scale = max(b.map(abs).max() ?? 0, 1e-5)
    return (zip(a, b).map { abs($0 - $1) }.max() ?? 0) / scale
  }
}
