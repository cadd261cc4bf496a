import DiffusionCore
import Foundation
import XCTest

@testable import ToyModels

/// The image-shaped mixture: shapes, determinism per seed, exact samples with the right moments, and data
/// configs whose errors name the field.
final class ImageMixtureTests: XCTestCase {
  func testShapesAndDeterminismPerSeed() throws {
    let config = try ImageMixtureConfig(K: 5, seed: 3, std: 0.25, condition: true, zDimension: 32)
    let a = try ImageMixture.build(config), b = try ImageMixture.build(config)
    XCTAssertEqual(a.dataDimension, 256)
    XCTAssertEqual(a.componentCount, 5)
    XCTAssertEqual(a.conditionDimension, 32)
    XCTAssertEqual(a, b)
    var other = config
    other.seed = 4
    XCTAssertNotEqual(try ImageMixture.build(other).means, a.means)
    // means are structured images in [-0.5, 1] with a peak near 1
    for mean in a.means {
      XCTAssertGreaterThanOrEqual(mean.min()!, -0.5 - 1e-12)
      XCTAssertGreaterThan(mean.max()!, 0.9)
    }
    // class k's one-hot z puts almost all weight on component k (strength 6: pi_k = e^6 / (e^6 + 4) > 0.99)
    for k in 0..<5 {
      let pi = try a.weights(z: ImageMixture.classCondition(k, config))
      XCTAssertGreaterThan(pi[k], 0.99)
    }
  }

  /// Sample mean and per-pixel variance of 4000 draws against the mixture's: mean sum_k pi_k mu_k,
  /// variance sum_k pi_k (s^2 + mu_k^2) - mean^2. Tolerance 5 standard errors of the estimators.
  func testSampleMomentsMatchTheMixture() throws {
    let config = try ImageMixtureConfig(K: 4, seed: 1, std: 0.3)
    let model = try ImageMixture.build(config)
    var rng = SeededGenerator(seed: 9)
    let B = 4000, d = 256
    let x = try model.sample(count: B, z: [], generator: &rng)
    XCTAssertEqual(x.count, B * d)
    let means = model.means
    var worstMean = 0.0, worstVar = 0.0
    for i in 0..<d {
      let mu = means.map { $0[i] }.reduce(0, +) / 4
      let second = means.map { 0.09 + $0[i] * $0[i] }.reduce(0, +) / 4
      let variance = second - mu * mu
      var s = 0.0, s2 = 0.0
      for b in 0..<B { s += x[b * d + i]; s2 += x[b * d + i] * x[b * d + i] }
      let sampleMean = s / Double(B), sampleVar = s2 / Double(B) - sampleMean * sampleMean
      worstMean = max(worstMean, abs(sampleMean - mu) / (variance / Double(B)).squareRoot())
      worstVar = max(worstVar, abs(sampleVar - variance) / (variance * (2.0 / Double(B)).squareRoot() * 2))
    }
    XCTAssertLessThan(worstMean, 5, "sample mean off by \(worstMean) standard errors")
    XCTAssertLessThan(worstVar, 5, "sample variance off by \(worstVar) (approximate) standard errors")
    // the same seed draws the same samples
    var again = SeededGenerator(seed: 9)
    XCTAssertEqual(try model.sample(count: B, z: [], generator: &again), x)
  }

  /// Conditioned samples come from the selected component: their mean is that component's mean.
  func testConditionedSamplesFollowTheClass() throws {
    let config = try ImageMixtureConfig(K: 3, seed: 2, std: 0.3, condition: true, zDimension: 8, classStrength: 12)
    let model = try ImageMixture.build(config)
    var rng = SeededGenerator(seed: 5)
    let B = 500
    let x = try model.sample(count: B, z: ImageMixture.classCondition(2, config), generator: &rng)
    let target = model.means[2]
    var worst = 0.0
    for i in 0..<256 {
      let mean = (0..<B).map { x[$0 * 256 + i] }.reduce(0, +) / Double(B)
      worst = max(worst, abs(mean - target[i]))
    }
    XCTAssertLessThan(worst, 5 * 0.3 / Double(B).squareRoot())
  }

  func testBadDataConfigsNameTheField() throws {
    func field(_ text: String) -> String? {
      do { _ = try ImageMixtureConfig(json: Data(text.utf8)); return nil } catch let e as InvalidInput { return e.field } catch { return "other" }
    }
    XCTAssertNil(field(#"{"K": 4, "seed": 1, "std": 0.3, "schedule": "vp-linear", "condition": false}"#))
    XCTAssertEqual(field(#"{"seed": 1, "std": 0.3, "schedule": "vp-linear"}"#), "K")
    XCTAssertEqual(field(#"{"K": 0, "seed": 1, "std": 0.3, "schedule": "vp-linear"}"#), "K")
    XCTAssertEqual(field(#"{"K": 2.5, "seed": 1, "std": 0.3, "schedule": "vp-linear"}"#), "K")
    XCTAssertEqual(field(#"{"K": 4, "seed": -1, "std": 0.3, "schedule": "vp-linear"}"#), "seed")
    XCTAssertEqual(field(#"{"K": 4, "seed": 1, "std": -0.3, "schedule": "vp-linear"}"#), "std")
    XCTAssertEqual(field(#"{"K": 4, "seed": 1, "std": 0.3, "schedule": "vp-square"}"#), "schedule")
    XCTAssertEqual(field(#"{"K": 4, "seed": 1, "std": 0.3, "schedule": "vp-linear", "condition": 1}"#), "condition")
    XCTAssertEqual(field(#"{"K": 4, "seed": 1, "std": 0.3, "schedule": "vp-linear", "condition": true, "z_dim": 2}"#), "z_dim")
    XCTAssertEqual(field(#"{"K": 4, "seed": 1, "std": 0.3, "schedule": "vp-linear", "colour": 1}"#), "colour")
    XCTAssertEqual(field("not json"), "config")
  }
}
