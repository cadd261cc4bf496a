/// A parsed JSON document, as read by `JSONReader` (the one reader of every input file). Booleans are never
/// numbers; every number is finite and keeps its literal text, so integers are read exactly from their digits.
public enum JSONValue: Equatable, Sendable, CustomStringConvertible {
  case null
  case bool(Bool)
  /// The correctly rounded Double of `literal` (never infinite, never a non-zero literal rounded to 0; non-finite
  /// only from `NaN`/`Infinity` literals when the reader was asked to accept them).
  case number(Double, literal: String)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  public var typeName: String {
    switch self {
    case .null: return "null"
    case .bool: return "a boolean"
    case .number: return "a number"
    case .string: return "a string"
    case .array: return "a list"
    case .object: return "an object"
    }
  }

  /// A short rendering for error messages.
  public var description: String {
    switch self {
    case .null: return "null"
    case let .bool(b): return "\(b)"
    case let .number(_, literal): return literal
    case let .string(s): return jsonStringLiteral(s.count > 60 ? String(s.prefix(60)) + "..." : s)
    case let .array(a): return a.count > 8 ? "[...\(a.count) entries]" : "[" + a.map(\.description).joined(separator: ", ") + "]"
    case .object: return "{...}"
    }
  }
}
