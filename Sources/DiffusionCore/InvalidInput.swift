/// The one error type for bad input anywhere in the library: names the offending field or option and says why.
public struct InvalidInput: Error, CustomStringConvertible, Equatable, Sendable {
  public let field: String
  public let reason: String

  public init(_ field: String, _ reason: String) {
    self.field = field
    self.reason = reason
  }

  public var description: String { "\(field): \(reason)" }
}

/// Validation helpers shared by every public entry point.
public enum Check {
  /// Throws unless every value is finite.
  public static func finite(_ values: [Double], _ field: String) throws {
    if let i = values.firstIndex(where: { !$0.isFinite }) {
      throw InvalidInput(field, "entry \(i) is not a finite number (\(values[i]))")
    }
  }

  public static func finite(_ value: Double, _ field: String) throws {
    guard value.isFinite else { throw InvalidInput(field, "must be a finite number, got \(value)") }
  }

  public static func count(_ values: [Double], _ expected: Int, _ field: String) throws {
    guard values.count == expected else {
      throw InvalidInput(field, "expected \(expected) numbers, got \(values.count)")
    }
  }

  public static func positive(_ value: Int, _ field: String) throws {
    guard value > 0 else { throw InvalidInput(field, "must be a positive integer, got \(value)") }
  }
}
