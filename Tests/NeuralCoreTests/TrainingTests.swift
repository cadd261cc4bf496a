import DiffusionCore
import Foundation
import XCTest

@testable import NeuralCore

/// Denoising score matching on a tiny UNet: the loss gradient against finite differences, the loss going down,
/// checkpoints that resume exactly, and bad checkpoints failing with errors naming the file.
final class TrainingTests: XCTestCase {
  /// 8 x 8 one-channel images of N(0.5, 0.3^2 I); no conditioning.
  static let data: TrainingDataSource = { batch, rng in
    ((0..<(batch * 64)).map { _ in 0.5 + 0.3 * rng.normal() }, [])
  }

  static var config: UNetConfig {
    var c = UNetConfig.tiny
    c.classEmbedIdentity = false
    return c
  }

  func trainer(seed: UInt64 = 1, lr: Double = 3e-3) throws -> DenoisingTrainer<Double> {
    let model = try UNet2DModel<Double>(config: Self.config, seed: seed)
    let objective = try DenoisingScoreMatching<Double>(schedule: .vpLinear, height: 8, width: 8)
    return try DenoisingTrainer(objective: objective, model: model,
                                optimizer: AdamOptimizer(parameterCount: model.parameterCount, .init(learningRate: lr, warmupSteps: 2)),
                                batch: 4, seed: 11)
  }

  /// dL/dtheta along a random direction against the central difference of L itself (same batch, times and noise);
  /// float64, h = 1e-5, tolerance 1e-6 relative.
  func testLossGradientMatchesFiniteDifferences() throws {
    let t = try trainer()
    var rng = SeededGenerator(seed: 5)
    let (x0, z) = try Self.data(4, &rng)
    func loss(_ model: UNet2DModel<Double>) throws -> (Double, [Double]) {
      var g = SeededGenerator(seed: 6)
      let r = try t.objective.lossAndGradient(model, x0: x0, z: z, batch: 4, generator: &g)
      return (r.loss, r.gradient)
    }
    let (_, gradient) = try loss(t.model)
    var drng = SeededGenerator(seed: 7)
    let direction = drng.normals(t.model.parameterCount)
    let h = 1e-5
    let plus = try t.model.replacingParameters(zip(t.model.parameters, direction).map { $0 + h * $1 })
    let minus = try t.model.replacingParameters(zip(t.model.parameters, direction).map { $0 - h * $1 })
    let numeric = (try loss(plus).0 - loss(minus).0) / (2 * h)
    let analytic = zip(gradient, direction).map(*).reduce(0, +)
    XCTAssertEqual(analytic, numeric, accuracy: 1e-6 * max(abs(numeric), 1e-3))
  }

  /// 40 Adam steps lower the mean loss of the last 10 steps below 90% of the first 10.
  func testTrainingLowersTheLoss() throws {
    var t = try trainer()
    var losses: [Double] = []
    for _ in 0..<40 { losses.append(try t.step(data: Self.data)) }
    let first = losses.prefix(10).reduce(0, +) / 10, last = losses.suffix(10).reduce(0, +) / 10
    XCTAssertLessThan(last, 0.9 * first, "loss \(first) -> \(last)")
  }

  /// 6 steps straight equal 3 steps, a checkpoint, a resume and 3 more steps (float64 weights, bit for bit).
  func testResumeContinuesExactly() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("training-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let configJSON = Data(#"{"sample_size": 8, "in_channels": 1, "out_channels": 1, "block_out_channels": [8, 16], "down_block_types": ["DownBlock2D", "AttnDownBlock2D"], "up_block_types": ["AttnUpBlock2D", "UpBlock2D"], "layers_per_block": 1, "norm_num_groups": 4, "attention_head_dim": 8, "flip_sin_to_cos": false, "freq_shift": 1, "downsample_padding": 0}"#.utf8)
    XCTAssertEqual(try UNetConfig.parse(configJSON), Self.config)
    var straight = try trainer()
    _ = try straight.train(until: 6, data: Self.data, checkpointEvery: 100, checkpoint: { _, _ in }, progress: { _ in })
    var first = try trainer()
    _ = try first.train(until: 3, data: Self.data, checkpointEvery: 3, checkpoint: { t, s in
      try TrainingCheckpoint.write(model: t.model, configJSON: configJSON, optimizer: t.optimizer, seconds: s, to: directory)
    }, progress: { _ in })
    let (model, optimizer, state) = try TrainingCheckpoint.read(from: directory, config: Self.config, first.optimizer.hyperparameters)
    XCTAssertEqual(state.step, 3)
    var resumed = try DenoisingTrainer(objective: first.objective, model: model, optimizer: optimizer, batch: 4, seed: 11)
    _ = try resumed.train(until: 6, data: Self.data, checkpointEvery: 100, checkpoint: { _, _ in }, progress: { _ in })
    XCTAssertEqual(resumed.model.parameters, straight.model.parameters)

    // another layout: a clear error naming config.json
    var other = Self.config
    other.blockOutChannels = [16, 16]
    XCTAssertThrowsError(try TrainingCheckpoint.read(from: directory, config: other, first.optimizer.hyperparameters)) { error in
      XCTAssertTrue((error as? InvalidInput)?.field.hasSuffix("config.json") == true, "\(error)")
    }
    // a corrupt optimizer state: an error naming the file, and the weights untouched
    let weightsBefore = try Data(contentsOf: directory.appendingPathComponent(TrainingCheckpoint.weightsFile))
    try Data("garbage".utf8).write(to: directory.appendingPathComponent(TrainingCheckpoint.optimizerFile))
    XCTAssertThrowsError(try TrainingCheckpoint.read(from: directory, config: Self.config, first.optimizer.hyperparameters)) { error in
      XCTAssertTrue((error as? InvalidInput)?.field.hasSuffix(TrainingCheckpoint.optimizerFile) == true, "\(error)")
    }
    XCTAssertEqual(try Data(contentsOf: directory.appendingPathComponent(TrainingCheckpoint.weightsFile)), weightsBefore)
    // weights and optimizer state of different steps: inconsistent
    try TrainingCheckpoint.write(model: first.model, configJSON: configJSON, optimizer: first.optimizer, seconds: 0, to: directory)
    var later = first.optimizer
    later.step = 4
    try SafeTensorsFile.write([TrainingCheckpoint.entry("exp_avg", [later.firstMoment.count], later.firstMoment),
                               TrainingCheckpoint.entry("exp_avg_sq", [later.firstMoment.count], later.secondMoment)],
                              metadata: ["step": "4"], to: directory.appendingPathComponent(TrainingCheckpoint.optimizerFile))
    XCTAssertThrowsError(try TrainingCheckpoint.read(from: directory, config: Self.config, first.optimizer.hyperparameters)) { error in
      XCTAssertTrue("\(error)".contains("inconsistent"), "\(error)")
    }
  }

  func testBadHyperparametersNameTheOption() {
    for (h, field) in [(AdamOptimizer<Float>.Hyperparameters(learningRate: -1), "lr"), (.init(beta1: 1), "beta1"),
                       (.init(beta2: -0.1), "beta2"), (.init(epsilon: 0), "adam-eps"), (.init(warmupSteps: -1), "warmup")] {
      XCTAssertThrowsError(try AdamOptimizer<Float>(parameterCount: 3, h)) { XCTAssertEqual(($0 as? InvalidInput)?.field, field) }
    }
  }
}
