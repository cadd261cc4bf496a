import DiffusionCore
import Foundation

/// A minimal JSON value for the CLI's output: numbers print in Swift's shortest round-trip form,
/// so a reader gets back exactly the Double that was computed.
indirect enum JSON {
  case number(Double)
  case integer(Int)
  case string(String)
  case array([JSON])
  case object([(String, JSON)])

  static func numbers(_ values: [Double]) -> JSON { .array(values.map(JSON.number)) }
  static func rows(_ values: [[Double]]) -> JSON { .array(values.map(JSON.numbers)) }

  /// Values laid out row-major with the given shape, nested one array per dimension.
  static func shaped(_ values: ArraySlice<Double>, shape: [Int]) -> JSON {
    guard shape.count > 1 else { return numbers(Array(values)) }
    let inner = shape.dropFirst().reduce(1, *)
    return .array((0..<shape[0]).map { i in
      let start = values.startIndex + i * inner
      return shaped(values[start..<start + inner], shape: Array(shape.dropFirst()))
    })
  }

  var isScalar: Bool {
    switch self {
    case .number, .integer, .string: return true
    default: return false
    }
  }

  func render(indent: String = "", pretty: Bool = true) -> String {
    switch self {
    case let .number(x):
      guard x.isFinite else { return "null" }
      return "\(x)"
    case let .integer(i): return "\(i)"
    case let .string(s): return jsonStringLiteral(s)
    case let .array(items):
      if !pretty || items.allSatisfy(\.isScalar) {
        return "[" + items.map { $0.render(pretty: false) }.joined(separator: ", ") + "]"
      }
      let inner = indent + "  "
      return "[\n" + items.map { inner + $0.render(indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
    case let .object(fields):
      guard pretty else {
        return "{" + fields.map { "\(jsonStringLiteral($0.0)): \($0.1.render(pretty: false))" }.joined(separator: ", ") + "}"
      }
      let inner = indent + "  "
      return "{\n" + fields.map { "\(inner)\(jsonStringLiteral($0.0)): \($0.1.render(indent: inner))" }.joined(separator: ",\n") + "\n\(indent)}"
    }
  }
}
