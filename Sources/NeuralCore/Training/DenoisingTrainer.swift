import DiffusionCore
import Foundation

/// One line of training progress.
public struct TrainingProgress: Sendable {
  public var step: Int
  public var totalSteps: Int
  /// The mean loss over the steps since the last report.
  public var loss: Double
  public var stepsPerSecond: Double
  public var secondsLeft: Double

  /// `step 1200/6000  loss 0.08341  3.4 steps/s  23m10s left`
  public var line: String {
    let left = Int(secondsLeft.isFinite ? secondsLeft : 0)
    return String(format: "step %d/%d  loss %.5f  %.2f steps/s  %dm%02ds left", step, totalSteps, loss, stepsPerSecond, left / 60, left % 60)
  }
}

/// Trains a UNet2DModel noise predictor with Adam on denoising score matching. The data stream is seeded per step
/// (step k draws from `SeededGenerator(seed: seed, step: k)`), so a resumed run sees the batches an uninterrupted
/// one would have.
public struct DenoisingTrainer<Scalar: BLASScalar>: Sendable {
  public var objective: DenoisingScoreMatching<Scalar>
  public var model: UNet2DModel<Scalar>
  public var optimizer: AdamOptimizer<Scalar>
  public var batch: Int
  public var seed: UInt64
  /// Training wall time before this run (from a resumed checkpoint).
  public var previousSeconds: Double = 0

  public init(objective: DenoisingScoreMatching<Scalar>, model: UNet2DModel<Scalar>, optimizer: AdamOptimizer<Scalar>,
              batch: Int, seed: UInt64) throws {
    try Check.positive(batch, "batch")
    guard optimizer.firstMoment.count == model.parameterCount else {
      throw InvalidInput("optimizer", "state for \(optimizer.firstMoment.count) parameters, the model has \(model.parameterCount)")
    }
    self.objective = objective
    self.model = model
    self.optimizer = optimizer
    self.batch = batch
    self.seed = seed
  }

  /// The generator of step k's batch, times and noise.
  public static func generator(seed: UInt64, step k: Int) -> SeededGenerator {
    SeededGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(k))
  }

  /// One Adam step on a fresh batch; returns the batch's loss.
  @discardableResult
  @_specialize(exported: true, where Scalar == Float)
  @_specialize(exported: true, where Scalar == Double)
  public mutating func step(data: TrainingDataSource) throws -> Double {
    var rng = Self.generator(seed: seed, step: optimizer.step + 1)
    let (x0, z) = try data(batch, &rng)
    let (loss, gradient) = try objective.lossAndGradient(model, x0: x0, z: z, batch: batch, generator: &rng)
    guard loss.isFinite else { throw InvalidInput("training", "the loss became \(loss) at step \(optimizer.step + 1): lower --lr") }
    optimizer.update(&model.parameters, gradient: gradient)
    return loss
  }

  /// Trains until `optimizer.step == steps`, calling `checkpoint` every `checkpointEvery` steps and at the end, and
  /// `progress` about every `reportSeconds`. Returns (step, mean loss since the previous report) pairs.
  @_specialize(exported: true, where Scalar == Float)
  @_specialize(exported: true, where Scalar == Double)
  public mutating func train(
    until steps: Int, data: TrainingDataSource, checkpointEvery: Int, reportSeconds: Double = 10,
    checkpoint: (DenoisingTrainer, Double) throws -> Void, progress: (TrainingProgress) -> Void
  ) throws -> [(step: Int, loss: Double)] {
    try Check.positive(checkpointEvery, "checkpoint-every")
    let started = Date()
    var lastReport = started, lossSum = 0.0, lossCount = 0, startStep = optimizer.step
    var log: [(Int, Double)] = []
    while optimizer.step < steps {
      lossSum += try step(data: data)
      lossCount += 1
      let now = Date()
      let done = optimizer.step == steps
      if now.timeIntervalSince(lastReport) >= reportSeconds || done {
        let elapsed = now.timeIntervalSince(started)
        let rate = Double(optimizer.step - startStep) / max(elapsed, 1e-9)
        let report = TrainingProgress(step: optimizer.step, totalSteps: steps, loss: lossSum / Double(lossCount),
                                      stepsPerSecond: rate, secondsLeft: Double(steps - optimizer.step) / rate)
        progress(report)
        log.append((optimizer.step, report.loss))
        (lossSum, lossCount, lastReport) = (0, 0, now)
      }
      if optimizer.step % checkpointEvery == 0 || done {
        try checkpoint(self, previousSeconds + Date().timeIntervalSince(started))
      }
    }
    return log
  }
}
