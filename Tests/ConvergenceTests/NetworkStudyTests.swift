import DiffusionCore
import Integrators
import Foundation
import NeuralCore
import ToyModels
import XCTest

@testable import Convergence

/// The toy-versus-network comparison end to end on a tiny random UNet (8 x 8 images, seeded weights, float64).
final class NetworkStudyTests: XCTestCase {
  func tinySetup() throws -> (ImageMixtureConfig, GaussianMixture, UNetFloat64Predictor) {
    let data = try ImageMixtureConfig(K: 3, seed: 1, std: 0.3, condition: true, size: 8, zDimension: 16)
    // `UNetConfig.tiny` at half its channels: [4, 8], 2 groups, one 4-wide attention head at 4 x 4, z of size 16
    var config = UNetConfig.tiny
    config.blockOutChannels = [4, 8]
    config.normNumGroups = 2
    config.attentionHeadDim = 4
    var unet = try UNet2DModel<Double>(config: config, seed: 3)
    try NetworkData.check(unet.config, fits: data)
    // A random network's time embedding holds sinusoids of up to ~160 periods over t in [0, 1] (time input 1000 t),
    // which no solver at small M resolves; a trained one learns to be smooth in t. Silence the features with more
    // than one period over [0, 1] (`SinusoidalTimestepEmbedding`: w_i = exp(-log(10000) i / (half - freq_shift))).
    unet.silenceTimeFeatures(fasterThan: 1)
    return (data, try ImageMixture.build(data), UNetFloat64Predictor(try UNetNoisePredictor(model: unet, schedule: data.schedule)))
  }

  /// Theorem 1 on the network: AdjointDEIS-2M with exact states converges with order >= 1.8 in a_x (fitted on
  /// M = 5, 10, 20 against the network's own RK45 reference, rtol = atol = 1e-6, on t in [0.05, 0.6] so that the
  /// debug build stays fast); the toy side runs too, and the CSV holds both studies' rows.
  func testTinyNetworkStudyRunsEndToEndWithSecondOrder() throws {
    let (data, mixture, network) = try tinySetup()
    var rng = SeededGenerator(seed: 4)
    var comparison = try NetworkComparison(
      name: "tiny", mixture: mixture, network: network, T: 0.6, tEps: 0.05, xT: rng.normals(64),
      z: ImageMixture.classCondition(1, data), loss: SquaredDistanceLoss(target: mixture.means[0]),
      solvers: [MethodSpec("adjointdeis-2m/exact")], steps: [5, 10, 20], referenceTolerance: 1e-6,
      networkLabel: "tiny-random", networkDescription: "tiny random UNet")
    comparison.compareReferences = false
    let result = try comparison.run()
    let networkOrder = try XCTUnwrap(result.network.fit(solver: "adjointdeis-2m/exact", quantity: .x).order)
    XCTAssertGreaterThanOrEqual(networkOrder, 1.8, "network AdjointDEIS-2M order \(networkOrder) (measured 1.99 when written)")
    let toyOrder = try XCTUnwrap(result.toy.fit(solver: "adjointdeis-2m/exact", quantity: .x).order)
    XCTAssertGreaterThanOrEqual(toyOrder, 1.8, "toy AdjointDEIS-2M order \(toyOrder)")
    XCTAssertEqual(try result.csv.rows.count, 6)
    XCTAssertTrue(result.gradientDistance.isEmpty)  // not asked for: the reference solves are the test's cost
    let plot = result.errorPlot(.x)
    XCTAssertEqual(plot.series.map(\.style), [.solid, .dashed])
    XCTAssertEqual(plot.series[0].colorIndex, plot.series[1].colorIndex)
    XCTAssertTrue(try result.summaryMarkdown().contains("| adjointdeis-2m/exact | a_x |"))
  }

  /// A model config that does not fit the data is an error naming the field.
  func testModelConfigMustFitTheData() throws {
    let data = try ImageMixtureConfig(K: 3, seed: 1, std: 0.3, condition: true, size: 8, zDimension: 32)
    func field(_ edit: (inout UNetConfig) -> Void, _ data: ImageMixtureConfig) -> String? {
      var c = UNetConfig.tiny
      edit(&c)
      do { try NetworkData.check(c, fits: data); return nil } catch let e as InvalidInput { return e.field } catch { return "other" }
    }
    XCTAssertNil(field({ _ in }, data))
    XCTAssertEqual(field({ $0.inChannels = 3; $0.outChannels = 3 }, data), "in_channels")
    XCTAssertEqual(field({ $0.sampleSize = 16 }, data), "sample_size")
    XCTAssertEqual(field({ $0.classEmbedIdentity = false }, data), "class_embed_type")
    XCTAssertEqual(field({ $0.timeEmbeddingDim = 64 }, data), "z_dim")
    var unconditioned = data
    unconditioned.condition = false
    XCTAssertEqual(field({ _ in }, unconditioned), "class_embed_type")
  }
}

extension NetworkStudyTests {
  /// The reference-gradient distance: a "network" that is the mixture itself is at distance 0 with cosine 1
  /// (to 1e-12), and every quantity (a_x, a_z, x_0) is reported.
  func testGradientDistanceOfTheMixtureToItselfIsZero() throws {
    let data = try ImageMixtureConfig(K: 2, seed: 2, std: 0.4, condition: true, size: 4, zDimension: 3)
    let mixture = try ImageMixture.build(data)
    var rng = SeededGenerator(seed: 8)
    let comparison = try NetworkComparison(
      name: "self", mixture: mixture, network: mixture, T: 1, tEps: 1e-3, xT: rng.normals(16), z: ImageMixture.classCondition(0, data),
      loss: SquaredDistanceLoss(target: mixture.means[1]), solvers: [MethodSpec("adjointdeis-2m/exact")], steps: [5, 10, 20],
      networkLabel: "self", networkDescription: "the mixture itself")
    let result = try comparison.run()
    XCTAssertEqual(result.gradientDistance.map(\.quantity), ["a_x", "a_z", "x_0"])
    for (_, c) in result.gradientDistance {
      XCTAssertEqual(c.relativeError, 0, accuracy: 1e-12)
      XCTAssertEqual(c.cosine, 1, accuracy: 1e-12)
    }
    XCTAssertTrue(result.distanceMarkdown.contains("| a_z |"))
  }
}
