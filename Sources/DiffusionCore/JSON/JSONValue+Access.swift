/// Typed access to a parsed JSON value; every failure is an `InvalidInput` naming `field`.
extension JSONValue {
  public func object(_ field: String) throws -> [String: JSONValue] {
    guard case let .object(o) = self else { throw InvalidInput(field, "must be an object, got \(typeName)") }
    return o
  }

  public func array(_ field: String) throws -> [JSONValue] {
    guard case let .array(a) = self else { throw InvalidInput(field, "must be a list, got \(typeName)") }
    return a
  }

  public func string(_ field: String) throws -> String {
    guard case let .string(s) = self else { throw InvalidInput(field, "must be a string, got \(typeName)") }
    return s
  }

  public func bool(_ field: String) throws -> Bool {
    guard case let .bool(b) = self else { throw InvalidInput(field, "must be true or false, got \(typeName)") }
    return b
  }

  /// A finite number (the reader never yields another kind).
  public func double(_ field: String) throws -> Double {
    guard case let .number(x, _) = self else { throw InvalidInput(field, "must be a number, got \(typeName)") }
    return x
  }

  /// An integer read exactly from its digits (`12`), or from a literal like `1e3` / `12.0` whose value is an integer
  /// below 2^53 in magnitude; `range` bounds it.
  public func integer(_ field: String, in range: ClosedRange<Int> = Int.min...Int.max) throws -> Int {
    guard case let .number(x, literal) = self else { throw InvalidInput(field, "must be an integer, got \(typeName)") }
    let exact: Int?
    if let i = Int(literal) {
      exact = i
    } else if x == x.rounded(), abs(x) <= 9_007_199_254_740_992 {
      exact = Int(x)
    } else {
      exact = nil
    }
    guard let exact, range.contains(exact) else {
      throw InvalidInput(field, "must be an integer in \(Self.describe(range)), got \(literal)")
    }
    return exact
  }

  /// An unsigned 64-bit integer (seeds) read exactly from its digits.
  public func unsigned64(_ field: String) throws -> UInt64 {
    guard case let .number(x, literal) = self else { throw InvalidInput(field, "must be an integer, got \(typeName)") }
    if let u = UInt64(literal) { return u }
    if x == x.rounded(), x >= 0, x <= 9_007_199_254_740_992 { return UInt64(x) }
    throw InvalidInput(field, "must be an integer in 0...\(UInt64.max), got \(literal)")
  }

  /// Throws naming the first key (in sorted order) that is not in `known`.
  public static func rejectUnknownKeys(_ object: [String: JSONValue], _ known: [String], prefix: String = "") throws {
    if let key = object.keys.sorted().first(where: { !known.contains($0) }) {
      throw InvalidInput(prefix + key, "unknown key (expected one of \(known.joined(separator: ", ")))")
    }
  }

  static func describe(_ range: ClosedRange<Int>) -> String {
    switch (range.lowerBound, range.upperBound) {
    case (Int.min, Int.max): return "the 64-bit range"
    case (let lo, Int.max): return "\(lo)..."
    default: return "\(range.lowerBound)...\(range.upperBound)"
    }
  }
}
