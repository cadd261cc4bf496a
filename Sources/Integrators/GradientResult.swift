import DiffusionCore

/// Model evaluations, counted separately: forward `eps` calls and vector-Jacobian products.
public struct EvaluationCount: Sendable, Equatable {
  public var eps: Int
  public var vjp: Int
  public init(eps: Int = 0, vjp: Int = 0) {
    self.eps = eps
    self.vjp = vjp
  }
  public static func + (a: EvaluationCount, b: EvaluationCount) -> EvaluationCount {
    EvaluationCount(eps: a.eps + b.eps, vjp: a.vjp + b.vjp)
  }
}

/// What every gradient method returns (reference adjoint, AdjointDEIS, discretize-then-optimize).
public struct GradientResult: Sendable {
  /// The sampler's output x_0 = x(t_eps).
  public var x0: [Double]
  public var loss: Double
  /// dL/dx_T.
  public var gradXT: [Double]
  /// dL/dz: one row for a constant z, one per sampling step for a z schedule.
  public var gradZ: [[Double]]
  /// dL/dtheta, in the order of the model's `parameterBlocks`.
  public var gradTheta: [Double]
  /// Evaluations spent sampling x_0 and spent on the gradient.
  public var sampling: EvaluationCount
  public var adjoint: EvaluationCount
  /// Method-specific statistics (accepted/rejected steps, stored states, ...).
  public var statistics: [String: Int]
  /// The largest step in lambda of the grid the gradient was computed on (nil for adaptive RK45).
  public var hMax: Double? = nil
  /// Reversible samplers: the relative error of x_T reconstructed by inverting every step (nil for other methods).
  public var roundTripError: Double? = nil

  public init(
    x0: [Double], loss: Double, gradXT: [Double], gradZ: [[Double]], gradTheta: [Double],
    sampling: EvaluationCount, adjoint: EvaluationCount, statistics: [String: Int] = [:]
  ) {
    self.x0 = x0
    self.loss = loss
    self.gradXT = gradXT
    self.gradZ = gradZ
    self.gradTheta = gradTheta
    self.sampling = sampling
    self.adjoint = adjoint
    self.statistics = statistics
  }
}
