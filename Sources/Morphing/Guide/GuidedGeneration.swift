import DiffusionCore
import Foundation
import Integrators

/// One gradient method of a guided run: its name, dL/d(x_T, z) of a problem, and the sampler that makes its images.
public struct GuideMethod<Model: NoisePredictor>: Sendable {
  public let name: String
  public let gradient: @Sendable (PipelineProblem<Model>) throws -> GradientResult
  public let sample: @Sendable (PipelineProblem<Model>) throws -> [Double]

  public init(name: String, gradient: @escaping @Sendable (PipelineProblem<Model>) throws -> GradientResult,
              sample: @escaping @Sendable (PipelineProblem<Model>) throws -> [Double]) {
    self.name = name
    self.gradient = gradient
    self.sample = sample
  }
}

/// What a guided run of one method produced.
public struct GuideTrace: Sendable {
  public let method: String
  /// losses[k][p]: the loss of image p at descent step k (k = steps: after the last update).
  public var losses: [[Double]] = []
  public var xT: [Double] = []
  public var z: [Double] = []
  public var x0: [Double] = []
  public var evaluations = EvaluationCount()
  /// Wall time of the descent steps only (the final sampling excluded).
  public var stepSeconds = 0.0
  /// Per image, the iterate with the lowest loss in `losses` (ties: the earliest): its step k, loss, x_T, z, x_0.
  public var bestStep: [Int] = []
  public var bestLoss: [Double] = []
  public var bestXT: [Double] = []
  public var bestZ: [Double] = []
  public var bestX0: [Double] = []

  /// Keeps, for each image, step k's iterate if its loss is below the best so far.
  mutating func keepBest(step k: Int, losses: [Double], xT: [Double], z: [Double], x0: [Double]) {
    let images = losses.count, d = xT.count / images, m = z.count / images
    if bestLoss.isEmpty {
      (bestStep, bestLoss) = ([Int](repeating: k, count: images), losses)
      (bestXT, bestZ, bestX0) = (xT, z, x0)
      return
    }
    for p in 0..<images where losses[p] < bestLoss[p] {
      bestStep[p] = k
      bestLoss[p] = losses[p]
      bestXT.replaceSubrange((p * d)..<((p + 1) * d), with: xT[(p * d)..<((p + 1) * d)])
      bestZ.replaceSubrange((p * m)..<((p + 1) * m), with: z[(p * m)..<((p + 1) * m)])
      bestX0.replaceSubrange((p * d)..<((p + 1) * d), with: x0[(p * d)..<((p + 1) * d)])
    }
  }
}

/// Guided generation: gradient descent on (x_T, z) of a pixel loss, the morph experiment's projected, normalized
/// update (`ProjectedDescent`), every image of the batch in lockstep.
public struct GuidedGeneration: Sendable {
  public var steps: Int
  public var learningRate: Double
  public var update: DescentUpdate = .normalized
  public var constraint: NoiseConstraint = .sphere

  public init(steps: Int, learningRate: Double) {
    self.steps = steps
    self.learningRate = learningRate
  }

  public func validate() throws {
    guard (1...10_000).contains(steps) else { throw InvalidInput("steps", "must be in 1...10000, got \(steps)") }
    guard learningRate.isFinite, learningRate > 0 else { throw InvalidInput("learning-rate", "must be a positive number, got \(learningRate)") }
  }

  /// Runs `method` from the problem's (x_T, z); `progress(step, meanLoss, secondsPerStep)` after each step.
  public func run<Model>(_ method: GuideMethod<Model>, on start: PipelineProblem<Model>,
                         progress: (Int, Double, Double) -> Void = { _, _, _ in }) throws -> GuideTrace {
    try validate()
    let d = start.shape.reduce(1, *), m = start.model.model.conditionDimension
    let descent = ProjectedDescent(update: update, constraint: constraint, d: d, m: m)
    var trace = GuideTrace(method: method.name)
    var problem = start
    var (xT, z) = (start.xT, start.z)
    let t0 = DispatchTime.now().uptimeNanoseconds
    for k in 0..<steps {
      let r = try method.gradient(problem)
      trace.evaluations = trace.evaluations + r.sampling + r.adjoint
      let losses = start.loss.perSample(r.x0)
      try Check.finite(losses, "loss (\(method.name), step \(k))")
      trace.losses.append(losses)
      trace.keepBest(step: k, losses: losses, xT: xT, z: z, x0: r.x0)
      descent.step(&xT, &z, gradient: r.gradXT, gradientZ: r.gradZ.first ?? [], start: start.xT, blocks: start.batch, lr: learningRate)
      try Check.finite(xT, "x_T (\(method.name): gradient descent diverged, lower the learning rate)")
      problem = try problem.moved(xT: xT, z: z)
      let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
      progress(k + 1, losses.reduce(0, +) / Double(losses.count), seconds / Double(k + 1))
    }
    trace.stepSeconds = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
    trace.x0 = try method.sample(problem)
    trace.losses.append(start.loss.perSample(trace.x0))
    trace.xT = xT
    trace.z = z
    trace.keepBest(step: steps, losses: trace.losses[steps], xT: xT, z: z, x0: trace.x0)
    return trace
  }
}
