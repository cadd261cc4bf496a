import DiffusionCore
import XCTest

@testable import ToyModels

/// Every VJP of `GaussianMixture` against finite differences of `v . eps` (Ridders-extrapolated central
/// differences, see `FiniteDifference`), tolerance 1e-7 relative per block, for B = 2 and t across each schedule.
final class MixtureVJPTests: XCTestCase {
  static let tolerance = 1e-7

  func testDiagonalVJPsMatchFiniteDifferences() throws {
    let model = try GaussianMixture.random(d: 3, K: 3, m: 2, covariance: .diagonal, schedule: .vpLinear, seed: 11)
    try checkAllVJPs(model, times: [1e-3, 0.02, 0.1, 0.3, 0.6, 1.0], seed: 1)
  }

  func testFullCovarianceVJPsMatchFiniteDifferences() throws {
    let model = try GaussianMixture.random(d: 4, K: 3, m: 2, covariance: .full, schedule: .vpLinear, seed: 12)
    try checkAllVJPs(model, times: [1e-3, 0.02, 0.1, 0.3, 0.6, 1.0], seed: 2)
  }

  func testOtherSchedulesAndUnconditionalModels() throws {
    let cosine = try GaussianMixture.random(d: 2, K: 2, m: 0, covariance: .full, schedule: .vpCosine, seed: 13)
    try checkAllVJPs(cosine, times: [1e-3, 0.5, 0.99], seed: 3)
    let discrete = try GaussianMixture.random(d: 2, K: 4, m: 1, covariance: .diagonal, schedule: .discrete, seed: 14)
    try checkAllVJPs(discrete, times: [1e-3, 0.4567, 1.0], seed: 4)
    let single = try GaussianMixture.random(d: 5, K: 1, m: 3, covariance: .diagonal, schedule: .vpLinear, seed: 15)
    try checkAllVJPs(single, times: [0.01, 0.5], seed: 5)
  }

  func testVJPWithoutParametersMatchesAndEpsAgrees() throws {
    let model = try GaussianMixture.random(d: 3, K: 3, m: 2, covariance: .full, schedule: .vpLinear, seed: 16)
    var rng = SeededGenerator(seed: 6)
    let x = rng.normals(6), z = rng.normals(4), v = rng.normals(6)
    let full = try model.vjp(x, z: z, t: 0.2, batch: 2, cotangent: v, wantParameters: true)
    let light = try model.vjp(x, z: z, t: 0.2, batch: 2, cotangent: v, wantParameters: false)
    XCTAssertEqual(light.theta, [])
    XCTAssertEqual(light.x, full.x)
    XCTAssertEqual(light.z, full.z)
    XCTAssertEqual(full.eps, try model.eps(x, z: z, t: 0.2, batch: 2))
    XCTAssertEqual(full.theta.count, model.parameterCount)
  }

  /// A batch of 5 (the full form's gemm path) equals 5 single-sample calls (its gemv path), to 1e-12 relative;
  /// theta sums over the batch.
  func testBatchEqualsSingleSamples() throws {
    for covariance in [GaussianMixture.Covariance.diagonal, .full] {
      let model = try GaussianMixture.random(d: 6, K: 3, m: 2, covariance: covariance, schedule: .vpLinear, seed: 17)
      let B = 5, d = 6, m = 2
      var rng = SeededGenerator(seed: 8)
      let x = rng.normals(B * d), z = rng.normals(B * m), v = rng.normals(B * d)
      let batched = try model.vjp(x, z: z, t: 0.3, batch: B, cotangent: v, wantParameters: true)
      var eps: [Double] = [], gradX: [Double] = [], gradZ: [Double] = []
      var theta = [Double](repeating: 0, count: model.parameterCount)
      for b in 0..<B {
        let one = try model.vjp(Array(x[(b * d)..<((b + 1) * d)]), z: Array(z[(b * m)..<((b + 1) * m)]), t: 0.3,
                                batch: 1, cotangent: Array(v[(b * d)..<((b + 1) * d)]), wantParameters: true)
        eps += one.eps
        gradX += one.x
        gradZ += one.z
        for i in 0..<theta.count { theta[i] += one.theta[i] }
      }
      XCTAssertLessThan(FiniteDifference.relativeError(batched.eps, eps), 1e-12, "\(covariance)")
      XCTAssertLessThan(FiniteDifference.relativeError(batched.x, gradX), 1e-12, "\(covariance)")
      XCTAssertLessThan(FiniteDifference.relativeError(batched.z, gradZ), 1e-12, "\(covariance)")
      XCTAssertLessThan(FiniteDifference.relativeError(batched.theta, theta), 1e-12, "\(covariance)")
    }
  }

  /// The check itself can fail: an error of 1e-6 relative in one entry is detected.
  func testRelativeErrorDetectsSmallDiscrepancies() {
    let reference = [1.0, -2.0, 0.5]
    XCTAssertGreaterThan(FiniteDifference.relativeError([1.0, -2.0 * (1 + 1e-6), 0.5], reference), Self.tolerance)
    XCTAssertLessThan(FiniteDifference.relativeError(reference, reference), Self.tolerance)
  }

  // MARK: - Helpers

  func checkAllVJPs(_ model: GaussianMixture, times: [Double], seed: UInt64,
                    file: StaticString = #filePath, line: UInt = #line) throws {
    let B = 2, d = model.dataDimension, m = model.conditionDimension
    var rng = SeededGenerator(seed: seed)
    for t in times {
      // Sample 0 near a component (alpha_t (mu_0 + noise) + sigma_t noise), sample 1 between two components,
      // where the posterior weights mix and the gradients through them are not negligible.
      let alpha = model.schedule.alpha(t), sigma = model.schedule.sigma(t)
      let means = model.means, other = model.componentCount > 1 ? 1 : 0
      var x = [Double](repeating: 0, count: B * d)
      for i in 0..<d {
        x[i] = alpha * (means[0][i] + rng.normal()) + sigma * rng.normal()
        x[d + i] = alpha * 0.5 * (means[0][i] + means[other][i]) + 0.1 * rng.normal()
      }
      let z = rng.normals(B * m), v = rng.normals(B * d)
      let analytic = try model.vjp(x, z: z, t: t, batch: B, cotangent: v, wantParameters: true)
      let context = "\(model.covariance) d=\(d) K=\(model.componentCount) m=\(m) \(model.schedule.name) t=\(t)"

      let fdX = try FiniteDifference.gradient(at: x) { FiniteDifference.dot(v, try model.eps($0, z: z, t: t, batch: B)) }
      let errorX = FiniteDifference.relativeError(analytic.x, fdX)
      XCTAssertLessThan(errorX, Self.tolerance, "x: \(context)", file: file, line: line)

      if m > 0 {
        let fdZ = try FiniteDifference.gradient(at: z) { FiniteDifference.dot(v, try model.eps(x, z: $0, t: t, batch: B)) }
        let errorZ = FiniteDifference.relativeError(analytic.z, fdZ)
        XCTAssertLessThan(errorZ, Self.tolerance, "z: \(context)", file: file, line: line)
      } else {
        XCTAssertEqual(analytic.z, [], file: file, line: line)
      }

      let fdTheta = try FiniteDifference.gradient(at: model.parameters) {
        FiniteDifference.dot(v, try model.replacingParameters($0).eps(x, z: z, t: t, batch: B))
      }
      var offset = 0
      for block in model.parameterBlocks where block.count > 0 {
        let range = offset..<(offset + block.count)
        offset += block.count
        let error = FiniteDifference.relativeError(Array(analytic.theta[range]), Array(fdTheta[range]))
        XCTAssertLessThan(error, Self.tolerance, "\(block.name): \(context)", file: file, line: line)
      }
      XCTAssertEqual(offset, analytic.theta.count, file: file, line: line)
    }
  }
}
