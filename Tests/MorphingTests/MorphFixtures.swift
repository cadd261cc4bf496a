import DiffusionCore
import Foundation
import Morphing
import NeuralCore
import ToyModels

/// Small shared fixtures: an 8 x 8 image mixture and briefly trained CNN recognizers.
enum MorphFixtures {
  static let data = try! ImageMixtureConfig(K: 3, seed: 2, std: 0.3, size: 8)  // fixed, valid test constant

  static func mixture() throws -> GaussianMixture { try ImageMixture.build(data) }

  /// A recognizer of width w trained for `steps` Adam steps on labelled mixture samples.
  static func recognizer(width: Int, seed: UInt64, steps: Int = 60, data: ImageMixtureConfig = data) throws -> Recognizer {
    var r = try Recognizer(config: RecognizerConfig(imageSize: data.size, width: width, embeddingDimension: 8, classes: data.K, seed: seed))
    let mixture = try ImageMixture.build(data)
    var rng = SeededGenerator(seed: 100 + seed)
    _ = try RecognizerTraining(steps: steps, batch: 16, learningRate: 5e-3).train(&r, sample: { _ in
      try mixture.sampleLabeled(count: 16, z: [], generator: &rng)
    }, log: { _, _, _ in })
    return r
  }
}
