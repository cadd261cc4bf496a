import DiffusionCore
import Foundation

/// The JSON header, read entry by entry so that a malformed entry is reported under its tensor's name.
struct SafeTensorsHeader {
  struct Entry {
    let dtype: String
    let shape: [Int]
    let offsets: [Int]
  }

  static let metadataKey = "__metadata__"

  private(set) var entries: [(String, Entry)] = []
  private(set) var metadata: [String: String] = [:]

  /// Parses the header bytes with the project's one JSON reader (duplicate tensor names are errors).
  init(json: Data, source: String) throws {
    let root = try JSONReader.parse(json, source: "\(source): header")
    guard case let .object(object) = root else { throw InvalidInput(source, "header must be a JSON object") }
    for key in object.keys.sorted() {
      let value = object[key]!
      if key == Self.metadataKey {
        guard case let .object(pairs) = value else {
          throw InvalidInput(Self.metadataKey, "must be an object mapping strings to strings")
        }
        for (k, v) in pairs {
          guard case let .string(s) = v else { throw InvalidInput(Self.metadataKey, "must be an object mapping strings to strings") }
          metadata[k] = s
        }
        continue
      }
      let field = "tensor \"\(key)\""
      guard case let .object(fields) = value else {
        throw InvalidInput(field, "header entry must be an object with dtype, shape and data_offsets")
      }
      func integers(_ name: String, _ expected: String) throws -> [Int] {
        guard case let .array(list)? = fields[name] else { throw InvalidInput(field, "\"\(name)\" must be \(expected)") }
        return try list.map { v in
          guard case .number = v, let i = try? v.integer(name) else { throw InvalidInput(field, "\"\(name)\" must be \(expected)") }
          return i
        }
      }
      guard case let .string(dtype)? = fields["dtype"] else { throw InvalidInput(field, "\"dtype\" must be a string") }
      let shape = try integers("shape", "an array of integers")
      let offsets = try integers("data_offsets", "an array of two integers")
      entries.append((key, Entry(dtype: dtype, shape: shape, offsets: offsets)))
    }
  }
}
