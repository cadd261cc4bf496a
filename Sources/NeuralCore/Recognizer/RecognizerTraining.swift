import DiffusionCore
import Foundation

/// Adam on the CosFace loss of labelled batches (constant learning rate, default betas).
public struct RecognizerTraining: Sendable {
  public var steps: Int
  public var batch: Int
  public var learningRate: Double

  public init(steps: Int, batch: Int = 64, learningRate: Double = 2e-3) throws {
    self.steps = steps
    self.batch = batch
    self.learningRate = learningRate
    try validate()
  }

  public func validate() throws {
    try Check.positive(steps, "steps")
    try Check.positive(batch, "batch")
    guard learningRate.isFinite, learningRate > 0 else { throw InvalidInput("lr", "must be a positive number, got \(learningRate)") }
  }

  /// Trains r in place for `steps` Adam updates. `sample(step)` (step in 0..<steps) returns a labelled batch:
  /// x flat batch x s^2, labels in 0..<classes (checked). `log(step, loss, accuracy)` is called after step 50, 100, ...
  /// and after the last step (1-based step count), with the loss and accuracy of that step's batch measured before
  /// its update. Returns those of the last step.
  public func train(_ r: inout Recognizer, sample: (Int) throws -> (x: [Double], labels: [Int]),
                    log: (Int, Double, Double) -> Void) throws -> (loss: Double, accuracy: Double) {
    try validate()
    var optimizer = try AdamOptimizer<Double>(parameterCount: r.parameterCount, .init(learningRate: learningRate))
    var theta = r.parameters
    var last = (loss: Double.nan, accuracy: Double.nan)
    for step in 0..<steps {
      let (x, labels) = try sample(step)
      guard labels.count == batch else {
        throw InvalidInput("sample", "step \(step) returned \(labels.count) labels, the batch is \(batch)")
      }
      let result = try r.classificationLoss(x, labels: labels, batch: batch)
      guard result.loss.isFinite, result.gradient.allSatisfy(\.isFinite) else {
        throw InvalidInput("lr", "training diverged at step \(step + 1) (loss \(result.loss)); try a smaller learning rate")
      }
      optimizer.update(&theta, gradient: result.gradient)
      try r.update(parameters: theta)
      last = (result.loss, result.accuracy)
      if (step + 1) % 50 == 0 || step + 1 == steps { log(step + 1, result.loss, result.accuracy) }
    }
    return last
  }
}
