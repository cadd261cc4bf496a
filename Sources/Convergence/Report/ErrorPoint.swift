/// One run of a convergence study as the order fit sees it: the step count M, the largest step h_max (in λ) and the
/// error against the reference. A failed run is passed with `error = .nan`; it is dropped as `.invalid`.
public struct ErrorPoint: Sendable, Equatable {
  public var steps: Int
  public var hMax: Double
  public var error: Double

  public init(steps: Int, hMax: Double, error: Double) {
    self.steps = steps
    self.hMax = hMax
    self.error = error
  }
}

/// Why the order fit left a point out of the asymptotic range.
public enum DropReason: String, Sendable, Equatable, CaseIterable {
  /// h_max or the error is not finite or not positive (a failed run, an exact zero).
  case invalid
  /// The error is below the round-off floor.
  case belowFloor = "below-floor"
  /// At the fine end the error no longer decreases (round-off or reference-error plateau).
  case stagnated
  /// A coarse point before the asymptotic regime (its local slope disagrees with the tail's fitted slope).
  case preAsymptotic = "pre-asymptotic"
}

/// A point the fit left out, with the reason and the numbers behind it.
public struct DroppedPoint: Sendable, Equatable {
  public let point: ErrorPoint
  public let reason: DropReason
  public let detail: String
}
