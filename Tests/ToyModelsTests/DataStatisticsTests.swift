import DiffusionCore
import Foundation
import XCTest

@testable import ToyModels

/// The mixture's statistics against sampling, and every bad statistics file rejected with the field named.
final class DataStatisticsTests: XCTestCase {
  /// mu and Sigma of the mixture (with pi(z)) against the sample mean and covariance of 200 000 exact draws.
  func testMixtureStatisticsMatchSamples() throws {
    for covariance in [GaussianMixture.Covariance.diagonal, .full] {
      let model = try GaussianMixture.random(d: 3, K: 3, m: 2, covariance: covariance, schedule: .vpLinear, seed: 5)
      let z = [0.4, -0.7]
      let stats = try model.dataStatistics(z: z)
      var rng = SeededGenerator(seed: 11)
      let n = 200_000
      let x = try model.sample(count: n, z: z, generator: &rng)
      var mean = [Double](repeating: 0, count: 3), cov = [Double](repeating: 0, count: 9)
      for i in 0..<n { for a in 0..<3 { mean[a] += x[i * 3 + a] / Double(n) } }
      let scale = 1 / Double(n)
      for i in 0..<n {
        for a in 0..<3 {
          let da: Double = x[i * 3 + a] - mean[a]
          for b in 0..<3 {
            let db: Double = x[i * 3 + b] - mean[b]
            cov[a * 3 + b] += da * db * scale
          }
        }
      }
      var sigma = [Double](repeating: 0, count: 9)
      let (q, s2) = (stats.eigenvectors, stats.eigenvalues)
      for a in 0..<3 { for b in 0..<3 { for k in 0..<3 { sigma[a * 3 + b] += q[a * 3 + k] * s2[k] * q[b * 3 + k] } } }
      // sampling error ~ sqrt(var / n) ~ 3e-3; 5 sd
      for a in 0..<3 { XCTAssertEqual(stats.mean[a], mean[a], accuracy: 0.015, "\(covariance) mean[\(a)]") }
      for e in 0..<9 { XCTAssertEqual(sigma[e], cov[e], accuracy: 0.03, "\(covariance) Sigma[\(e)]") }
    }
  }

  func assertRejected(_ json: String, field: String, _ reason: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try DataStatisticsFile.parse(Data(json.utf8), dimension: 2), file: file, line: line) { error in
      guard let e = error as? InvalidInput else { return XCTFail("not InvalidInput: \(error)", file: file, line: line) }
      XCTAssertEqual(e.field, field, file: file, line: line)
      XCTAssertTrue(e.reason.contains(reason), "\(e.reason)", file: file, line: line)
    }
  }

  func testBadFilesAreRejected() throws {
    assertRejected(#"{"mean": [0, 0, 0], "variance": 1}"#, field: "mean", "expected 2")
    assertRejected(#"{"mean": [0, 0], "covariance": [[1, 0, 0], [0, 1, 0]]}"#, field: "covariance", "must be 2 x 2")
    assertRejected(#"{"mean": [0, 0], "covariance": [[1, 0.5], [0.2, 1]]}"#, field: "covariance", "not symmetric")
    assertRejected(#"{"mean": [0, 0], "covariance": [[1, 2], [2, 1]]}"#, field: "covariance", "not positive semi-definite")
    assertRejected(#"{"mean": [0, 0], "covariance": [[1e999, 0], [0, 1]]}"#, field: "covariance[0][0]", "out of range")
    assertRejected(#"{"mean": [0, 0], "variance": -1}"#, field: "variance", "non-negative")
    assertRejected(#"{"mean": [0, 0]}"#, field: "covariance", "is missing")
    assertRejected(#"{"mean": [0, 0], "variance": 1, "covariance": [[1, 0], [0, 1]]}"#, field: "variance", "not both")
    assertRejected(#"{"mean": [0, 0], "variance": 1, "extra": 2}"#, field: "extra", "unknown key")
    let ok = try DataStatisticsFile.parse(Data(#"{"mean": [1, 2], "covariance": [[2, 1], [1, 2]]}"#.utf8), dimension: 2)
    XCTAssertEqual(ok.eigenvalues[0], 1, accuracy: 1e-14)
    XCTAssertEqual(ok.eigenvalues[1], 3, accuracy: 1e-14)
    let url = URL(fileURLWithPath: "/nonexistent/stats.json")
    XCTAssertThrowsError(try DataStatisticsFile.load(from: url, dimension: 2)) { XCTAssertEqual(($0 as? InvalidInput)?.field, url.path) }
  }
}

extension DataStatisticsTests {
  /// Non-finite and asymmetric matrices given directly (as a caller other than the file reader would).
  func testFromCovarianceRejectsNonFinite() {
    XCTAssertThrowsError(try DataStatistics.fromCovariance(mean: [0, 0], covariance: [.nan, 0, 0, 1], field: "cov")) {
      XCTAssertEqual(($0 as? InvalidInput)?.field, "cov covariance")
    }
    XCTAssertThrowsError(try DataStatistics.fromCovariance(mean: [0, .infinity], covariance: [1, 0, 0, 1], field: "cov")) {
      XCTAssertEqual(($0 as? InvalidInput)?.field, "cov mean")
    }
  }
}
