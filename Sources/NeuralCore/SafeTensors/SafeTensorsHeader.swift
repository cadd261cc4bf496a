import DiffusionCore
import Foundation

/// The JSON header, decoded entry by entry so that a malformed entry is reported under its tensor's name.
struct SafeTensorsHeader: Decodable {
  struct Entry {
    let dtype: String
    let shape: [Int]
    let offsets: [Int]
  }

  private struct Key: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }

  static let metadataKey = "__metadata__"

  private(set) var entries: [(String, Entry)] = []
  private(set) var metadata: [String: String] = [:]

  init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: Key.self)
    for key in container.allKeys {
      if key.stringValue == Self.metadataKey {
        do {
          metadata = try container.decode([String: String].self, forKey: key)
        } catch {
          throw InvalidInput(Self.metadataKey, "must be an object mapping strings to strings")
        }
        continue
      }
      let field = "tensor \"\(key.stringValue)\""
      let fields: KeyedDecodingContainer<Key>
      do {
        fields = try container.nestedContainer(keyedBy: Key.self, forKey: key)
      } catch {
        throw InvalidInput(field, "header entry must be an object with dtype, shape and data_offsets")
      }
      func decode<T: Decodable>(_ type: T.Type, _ name: String, _ expected: String) throws -> T {
        do {
          return try fields.decode(type, forKey: Key(stringValue: name))
        } catch {
          throw InvalidInput(field, "\"\(name)\" must be \(expected)")
        }
      }
      let dtype = try decode(String.self, "dtype", "a string")
      let shape = try decode([Int].self, "shape", "an array of integers")
      let offsets = try decode([Int].self, "data_offsets", "an array of two integers")
      entries.append((key.stringValue, Entry(dtype: dtype, shape: shape, offsets: offsets)))
    }
  }
}
