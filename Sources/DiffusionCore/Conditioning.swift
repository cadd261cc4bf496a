/// The conditioning z: one vector for the whole sampling run, or one per sampling step
/// (entry i is the z of step i, the step from the i-th grid time counted from T downwards).
public enum Conditioning: Sendable, Equatable {
  case constant([Double])
  case perStep([[Double]])

  /// How many separate z vectors carry gradients (1 for a constant z).
  public var count: Int {
    switch self {
    case .constant: return 1
    case let .perStep(rows): return rows.count
    }
  }

  /// The z used by sampling step `step` (0 = the step that starts at T).
  public func z(step: Int) -> [Double] {
    switch self {
    case let .constant(z): return z
    case let .perStep(rows): return rows[min(max(step, 0), rows.count - 1)]
    }
  }

  /// Throws unless every z has m finite numbers and a schedule has exactly `steps` rows.
  public func validate(dimension m: Int, steps: Int?) throws {
    switch self {
    case let .constant(z):
      try Check.count(z, m, "z")
      try Check.finite(z, "z")
    case let .perStep(rows):
      if let steps, rows.count != steps {
        throw InvalidInput("z", "a z schedule needs one row per sampling step: expected \(steps) rows, got \(rows.count)")
      }
      guard !rows.isEmpty else { throw InvalidInput("z", "the z schedule is empty") }
      for (i, row) in rows.enumerated() {
        try Check.count(row, m, "z[\(i)]")
        try Check.finite(row, "z[\(i)]")
      }
    }
  }
}
