import DiffusionCore
import XCTest

@testable import ToyModels

/// eps against independent closed forms: a single Gaussian's score, and `-sigma_t grad log p_t` of a
/// two-dimensional mixture written out by hand (explicit 2 x 2 inverses), differentiated numerically.
final class MixtureClosedFormTests: XCTestCase {
  /// One diagonal component: `eps = sigma (x - alpha mu) / (alpha^2 s^2 + sigma^2)`, to 1e-14 relative.
  func testSingleDiagonalGaussianScore() throws {
    let mu = [0.7, -1.2, 2.0], logStd = [log(0.5), 0.0, log(0.3)]
    let model = try GaussianMixture(means: [mu], logits: [0.3], W: [[1.5, -2]], logStd: [logStd], schedule: .vpLinear)
    let x = [0.1, 0.4, -0.9, 3.0, -2.0, 1.0], z = [0.5, 1.0, -1.0, 2.0]
    for t in [1e-3, 0.1, 0.5, 1.0] {
      let alpha = model.schedule.alpha(t), sigma = model.schedule.sigma(t)
      let eps = try model.eps(x, z: z, t: t, batch: 2)
      for b in 0..<2 {
        for i in 0..<3 {
          let c = alpha * alpha * exp(2 * logStd[i]) + sigma * sigma
          let expected = sigma * (x[b * 3 + i] - alpha * mu[i]) / c
          XCTAssertEqual(eps[b * 3 + i], expected, accuracy: 1e-14 * max(1, abs(expected)), "t=\(t)")
        }
      }
    }
  }

  /// One full-covariance component: `eps = sigma C^{-1} (x - alpha mu)`, `C = alpha^2 Sigma + sigma^2 I`, to 1e-13.
  func testSingleFullGaussianScore() throws {
    let mu = [0.5, -0.25], sigmaMatrix = [[0.8, 0.3], [0.3, 0.4]]
    let model = try GaussianMixture(means: [mu], logits: [0], W: [], cov: [sigmaMatrix], schedule: .vpCosine)
    let x = [1.0, 2.0]
    for t in [1e-3, 0.3, 0.9] {
      let alpha = model.schedule.alpha(t), sigma = model.schedule.sigma(t)
      let c = sigmaMatrix.map { $0.map { alpha * alpha * $0 } }
      let (a, b, d) = (c[0][0] + sigma * sigma, c[0][1], c[1][1] + sigma * sigma)
      let det = a * d - b * b
      let r = [x[0] - alpha * mu[0], x[1] - alpha * mu[1]]
      let expected = [sigma * (d * r[0] - b * r[1]) / det, sigma * (-b * r[0] + a * r[1]) / det]
      let eps = try model.eps(x, z: [], t: t, batch: 1)
      for i in 0..<2 { XCTAssertEqual(eps[i], expected[i], accuracy: 1e-13 * max(1, abs(expected[i])), "t=\(t)") }
    }
  }

  /// A 3-component full-covariance mixture in d = 2: eps equals `-sigma grad_x log p_t(x | z)` with log p_t
  /// written out independently, differentiated by Ridders' finite differences; tolerance 1e-8 relative.
  func testMixtureEpsIsScaledScore() throws {
    let means = [[1.0, 0.0], [-0.5, 0.8], [0.2, -1.1]], logits = [0.2, -0.3, 0.1], W = [[0.5], [-0.4], [0.3]]
    let cov = [[[0.6, 0.2], [0.2, 0.5]], [[0.3, -0.1], [-0.1, 0.9]], [[1.0, 0.0], [0.0, 0.2]]]
    let model = try GaussianMixture(means: means, logits: logits, W: W, cov: cov, schedule: .vpLinear)
    let z = [0.7]
    for t in [1e-3, 0.05, 0.3, 0.8] {
      let alpha = model.schedule.alpha(t), sigma = model.schedule.sigma(t)
      func logDensity(_ x: [Double]) -> Double {
        let a = (0..<3).map { logits[$0] + W[$0][0] * z[0] }
        let logNormalizer = log(a.map(exp).reduce(0, +))
        var total = 0.0
        for k in 0..<3 {
          let (p, q, s) = (alpha * alpha * cov[k][0][0] + sigma * sigma, alpha * alpha * cov[k][0][1],
                           alpha * alpha * cov[k][1][1] + sigma * sigma)
          let det = p * s - q * q
          let r = [x[0] - alpha * means[k][0], x[1] - alpha * means[k][1]]
          let quadratic = (s * r[0] * r[0] - 2 * q * r[0] * r[1] + p * r[1] * r[1]) / det
          total += exp(a[k] - logNormalizer) * exp(-0.5 * quadratic) / (2 * Double.pi * sqrt(det))
        }
        return log(total)
      }
      for x in [[0.3, 0.2], [alpha * 0.25, alpha * 0.4], [-1.0, -1.0]] {
        let score = FiniteDifference.gradient(at: x, logDensity)
        let expected = score.map { -sigma * $0 }
        let eps = try model.eps(x, z: z, t: t, batch: 1)
        XCTAssertLessThan(FiniteDifference.relativeError(eps, expected), 1e-8, "t=\(t) x=\(x)")
      }
    }
  }

  /// A full-covariance model with diagonal Sigma_k agrees with the diagonal form: eps and the shared VJPs, to 1e-12.
  func testFullFormWithDiagonalCovarianceMatchesDiagonalForm() throws {
    let diagonal = try GaussianMixture.random(d: 3, K: 4, m: 2, covariance: .diagonal, schedule: .vpLinear, seed: 21)
    let cov = diagonal.logStd!.map { row in
      (0..<3).map { i in (0..<3).map { j in i == j ? exp(2 * row[i]) : 0 } }
    }
    let full = try GaussianMixture(means: diagonal.means, logits: diagonal.logits, W: diagonal.W, cov: cov,
                                   schedule: .vpLinear)
    var rng = SeededGenerator(seed: 7)
    let x = rng.normals(9), z = rng.normals(6), v = rng.normals(9)
    for t in [1e-3, 0.2, 0.9] {
      let a = try diagonal.vjp(x, z: z, t: t, batch: 3, cotangent: v, wantParameters: true)
      let b = try full.vjp(x, z: z, t: t, batch: 3, cotangent: v, wantParameters: true)
      XCTAssertLessThan(FiniteDifference.relativeError(b.eps, a.eps), 1e-12)
      XCTAssertLessThan(FiniteDifference.relativeError(b.x, a.x), 1e-12)
      XCTAssertLessThan(FiniteDifference.relativeError(b.z, a.z), 1e-12)
      XCTAssertLessThan(FiniteDifference.relativeError(b.theta, Array(a.theta[0..<b.theta.count])), 1e-12)
    }
  }

  /// Log-sum-exp: far from every component the unnormalized densities underflow, yet eps and the VJPs are finite.
  func testFarPointsGiveFiniteEps() throws {
    for covariance in [GaussianMixture.Covariance.diagonal, .full] {
      let model = try GaussianMixture.random(d: 3, K: 3, m: 1, covariance: covariance, schedule: .vpLinear, seed: 22)
      for scale in [1e3, 1e6, 1e100] {
        for t in [1e-3, 0.5, 1.0] {
          let x = [scale, -0.5 * scale, 0.25 * scale, -scale, scale, 3.0]
          let result = try model.vjp(x, z: [0.3, -0.2], t: t, batch: 2, cotangent: [1, 2, 3, -1, 0, 1], wantParameters: true)
          XCTAssertTrue(result.eps.allSatisfy(\.isFinite), "\(covariance) scale=\(scale) t=\(t)")
          XCTAssertTrue(result.x.allSatisfy(\.isFinite))
          XCTAssertTrue(result.z.allSatisfy(\.isFinite))
          XCTAssertTrue(result.theta.allSatisfy(\.isFinite))
          XCTAssertGreaterThan(result.eps.map(abs).max()!, 1)
        }
      }
    }
  }

  func testRandomMixturesAreSeededAndInRange() throws {
    let a = try GaussianMixture.random(d: 5, K: 4, m: 3, covariance: .diagonal, schedule: .vpLinear, seed: 1)
    XCTAssertEqual(a, try GaussianMixture.random(d: 5, K: 4, m: 3, covariance: .diagonal, schedule: .vpLinear, seed: 1))
    XCTAssertNotEqual(a, try GaussianMixture.random(d: 5, K: 4, m: 3, covariance: .diagonal, schedule: .vpLinear, seed: 2))
    for row in a.logStd! { for s in row { XCTAssertTrue((0.3...1.0).contains(exp(s))) } }
    let full = try GaussianMixture.random(d: 6, K: 2, m: 0, covariance: .full, schedule: .vpLinear, seed: 3)
    XCTAssertEqual(full.conditionDimension, 0)
    XCTAssertEqual(full.parameterBlocks.map(\.name), ["means", "logits", "W"])
    for s in full.eigenvalues { XCTAssertTrue((0.1 - 1e-12...1.0 + 1e-12).contains(s), "\(s)") }
  }

  func testReplacingParametersRoundTrips() throws {
    for covariance in [GaussianMixture.Covariance.diagonal, .full] {
      let model = try GaussianMixture.random(d: 3, K: 2, m: 2, covariance: covariance, schedule: .vpLinear, seed: 4)
      XCTAssertEqual(try model.replacingParameters(model.parameters), model)
      var theta = model.parameters
      theta[0] += 1
      let moved = try model.replacingParameters(theta)
      XCTAssertEqual(moved.parameters, theta)
      XCTAssertEqual(moved.means[0][0], model.means[0][0] + 1)
      XCTAssertThrowsError(try model.replacingParameters(Array(theta.dropLast()))) { error in
        XCTAssertEqual((error as? InvalidInput)?.field, "theta")
      }
      theta[1] = .nan
      XCTAssertThrowsError(try model.replacingParameters(theta)) { error in
        XCTAssertEqual((error as? InvalidInput)?.field, "theta")
      }
    }
  }

  func testInvalidModelsAndInputsThrowNamingTheField() throws {
    func field(_ body: () throws -> Any) -> String? {
      do { _ = try body(); return nil } catch { return (error as? InvalidInput)?.field }
    }
    let s = NoiseSchedule.vpLinear
    XCTAssertEqual(field { try GaussianMixture(means: [], logits: [], W: [], logStd: [], schedule: s) }, "model.means")
    XCTAssertEqual(field { try GaussianMixture(means: [[]], logits: [0], W: [], logStd: [[]], schedule: s) }, "model.means")
    XCTAssertEqual(field { try GaussianMixture(means: [[1, 2], [3]], logits: [0, 0], W: [], logStd: [[0, 0], [0, 0]], schedule: s) }, "model.means")
    XCTAssertEqual(field { try GaussianMixture(means: [[.nan]], logits: [0], W: [], logStd: [[0]], schedule: s) }, "model.means")
    XCTAssertEqual(field { try GaussianMixture(means: [[1]], logits: [0, 1], W: [], logStd: [[0]], schedule: s) }, "model.logits")
    XCTAssertEqual(field { try GaussianMixture(means: [[1]], logits: [.infinity], W: [], logStd: [[0]], schedule: s) }, "model.logits")
    XCTAssertEqual(field { try GaussianMixture(means: [[1]], logits: [0], W: [[1], [2]], logStd: [[0]], schedule: s) }, "model.W")
    XCTAssertEqual(field { try GaussianMixture(means: [[1], [2]], logits: [0, 0], W: [[1, 2], [3]], logStd: [[0], [0]], schedule: s) }, "model.W")
    XCTAssertEqual(field { try GaussianMixture(means: [[1]], logits: [0], W: [], logStd: [[0, 1]], schedule: s) }, "model.log_std")
    XCTAssertEqual(field { try GaussianMixture(means: [[1]], logits: [0], W: [], logStd: [[.nan]], schedule: s) }, "model.log_std")
    XCTAssertEqual(field { try GaussianMixture(means: [[1]], logits: [0], W: [], cov: [[[1, 0.5], [0.5, 1]]], schedule: s) }, "model.cov")
    XCTAssertEqual(field { try GaussianMixture(means: [[1, 0]], logits: [0], W: [], cov: [[[1, 0.5], [0.4, 1]]], schedule: s) }, "model.cov")
    XCTAssertEqual(field { try GaussianMixture(means: [[1, 0]], logits: [0], W: [], cov: [[[1, 2], [2, 1]]], schedule: s) }, "model.cov")
    XCTAssertEqual(field { try GaussianMixture(means: [[1, 0]], logits: [0], W: [], cov: [[[1, 1], [1, 1]]], schedule: s) }, "model.cov")
    XCTAssertEqual(field { try GaussianMixture(means: [[1, 0]], logits: [0], W: [], cov: [], schedule: s) }, "model.cov")
    XCTAssertEqual(field { try GaussianMixture.random(d: 0, K: 1, m: 0, covariance: .diagonal, schedule: s, seed: 0) }, "d")

    let model = try GaussianMixture.random(d: 2, K: 2, m: 1, covariance: .diagonal, schedule: .vpCosine, seed: 5)
    XCTAssertEqual(field { try model.eps([1, 2, 3], z: [0], t: 0.5, batch: 1) }, "x")
    XCTAssertEqual(field { try model.eps([1, 2], z: [], t: 0.5, batch: 1) }, "z")
    XCTAssertEqual(field { try model.eps([1, 2], z: [0], t: .nan, batch: 1) }, "t")
    XCTAssertEqual(field { try model.eps([1, 2], z: [0], t: 1.5, batch: 1) }, "t")
    XCTAssertEqual(field { try model.eps([], z: [], t: 0.5, batch: 0) }, "batch")
    XCTAssertEqual(field { try model.vjp([1, 2], z: [0], t: 0.5, batch: 1, cotangent: [1], wantParameters: false) }, "cotangent")
  }
}
