/// Why an ODE integration stopped before reaching its end time.
public struct IntegrationError: Error, CustomStringConvertible, Equatable, Sendable {
  public enum Kind: Sendable, Equatable {
    /// The step size became negligible against t (a singularity, or a tolerance below round-off).
    case stepSizeUnderflow
    /// `maxSteps` attempted steps (accepted + rejected) did not reach the end time.
    case stepBudgetExhausted
  }

  public let kind: Kind
  /// The time reached.
  public let t: Double
  /// The step size last tried.
  public let h: Double
  /// The step budget (for `stepBudgetExhausted`).
  public let maxSteps: Int

  public init(kind: Kind, t: Double, h: Double, maxSteps: Int) {
    self.kind = kind
    self.t = t
    self.h = h
    self.maxSteps = maxSteps
  }

  public var description: String {
    switch kind {
    case .stepSizeUnderflow:
      return "RK45: step size underflow at t = \(t) (h = \(h)); the solution may blow up there or the tolerance is too tight"
    case .stepBudgetExhausted:
      return "RK45: step budget of \(maxSteps) steps exhausted at t = \(t) (h = \(h)); raise maxSteps or loosen the tolerance"
    }
  }
}

/// Work counters of one integration.
public struct IntegrationStatistics: Sendable, Equatable {
  /// Right-hand-side evaluations (for the sampler: eps evaluations; for an adjoint: VJP evaluations).
  public var rhsEvaluations: Int
  public var acceptedSteps: Int
  public var rejectedSteps: Int

  public init(rhsEvaluations: Int = 0, acceptedSteps: Int = 0, rejectedSteps: Int = 0) {
    self.rhsEvaluations = rhsEvaluations
    self.acceptedSteps = acceptedSteps
    self.rejectedSteps = rejectedSteps
  }

  public static func + (a: Self, b: Self) -> Self {
    Self(rhsEvaluations: a.rhsEvaluations + b.rhsEvaluations, acceptedSteps: a.acceptedSteps + b.acceptedSteps,
         rejectedSteps: a.rejectedSteps + b.rejectedSteps)
  }
}
