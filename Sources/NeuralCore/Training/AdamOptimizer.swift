import DiffusionCore
import Foundation

/// Adam (Kingma and Ba 2015) with bias correction and an optional linear warmup of the learning rate:
/// `m <- b1 m + (1 - b1) g`, `v <- b2 v + (1 - b2) g^2`, `theta <- theta - lr_k (m / (1 - b1^k)) / (sqrt(v / (1 - b2^k)) + eps)`,
/// `lr_k = lr min(1, k / warmup)`.
public struct AdamOptimizer<Scalar: BLASScalar>: Sendable {
  public struct Hyperparameters: Sendable, Equatable {
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    /// Steps of linear warmup (0: none).
    public var warmupSteps: Int

    public init(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, warmupSteps: Int = 0) {
      self.learningRate = learningRate
      self.beta1 = beta1
      self.beta2 = beta2
      self.epsilon = epsilon
      self.warmupSteps = warmupSteps
    }

    public func validate() throws {
      guard learningRate.isFinite, learningRate > 0 else { throw InvalidInput("lr", "must be a positive number, got \(learningRate)") }
      guard beta1 >= 0, beta1 < 1 else { throw InvalidInput("beta1", "must be in [0, 1), got \(beta1)") }
      guard beta2 >= 0, beta2 < 1 else { throw InvalidInput("beta2", "must be in [0, 1), got \(beta2)") }
      guard epsilon.isFinite, epsilon > 0 else { throw InvalidInput("adam-eps", "must be a positive number, got \(epsilon)") }
      guard warmupSteps >= 0 else { throw InvalidInput("warmup", "must be a non-negative integer, got \(warmupSteps)") }
    }
  }

  public var hyperparameters: Hyperparameters
  /// First and second moment estimates, one per parameter.
  public var firstMoment: [Scalar]
  public var secondMoment: [Scalar]
  /// Updates taken so far.
  public var step: Int

  public init(parameterCount: Int, _ hyperparameters: Hyperparameters) throws {
    try hyperparameters.validate()
    self.hyperparameters = hyperparameters
    firstMoment = [Scalar](repeating: 0, count: parameterCount)
    secondMoment = [Scalar](repeating: 0, count: parameterCount)
    step = 0
  }

  /// The learning rate of update k (1-based).
  public func learningRate(at k: Int) -> Double {
    let h = hyperparameters
    return h.warmupSteps > 0 ? h.learningRate * min(1, Double(k) / Double(h.warmupSteps)) : h.learningRate
  }

  /// One update of theta with the gradient g.
  @_specialize(exported: true, where Scalar == Float)
  @_specialize(exported: true, where Scalar == Double)
  public mutating func update(_ theta: inout [Scalar], gradient g: [Scalar]) {
    precondition(g.count == theta.count && g.count == firstMoment.count, "Adam: gradient size")  // invariant
    step += 1
    let h = hyperparameters
    let b1 = Scalar(h.beta1), b2 = Scalar(h.beta2), eps = Scalar(h.epsilon)
    let c1 = Scalar(1 / (1 - pow(h.beta1, Double(step)))), c2 = Scalar(1 / (1 - pow(h.beta2, Double(step))))
    let lr = Scalar(learningRate(at: step))
    let n = theta.count
    theta.withUnsafeMutableBufferPointer { p in
      firstMoment.withUnsafeMutableBufferPointer { m in
        secondMoment.withUnsafeMutableBufferPointer { v in
          g.withUnsafeBufferPointer { g in
            for i in 0..<n {
              m[i] = b1 * m[i] + (1 - b1) * g[i]
              v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
              p[i] -= lr * (m[i] * c1) / ((v[i] * c2).squareRoot() + eps)
            }
          }
        }
      }
    }
  }
}
