import DiffusionCore
import Foundation
import XCTest

/// Must-not-change: every committed input file reads to the same values, bit for bit, with the new reader as with
/// `JSONDecoder` (which the configs were read with before), so no result computed from them can move.
final class JSONReaderSameNumbersTests: XCTestCase {
  /// The tree as `JSONDecoder` reads it (the former reader of the problem and UNet configs).
  indirect enum Decoded: Decodable {
    case null, bool(Bool), number(Double), string(String), array([Decoded]), object([String: Decoded])
    init(from decoder: Decoder) throws {
      let c = try decoder.singleValueContainer()
      if c.decodeNil() { self = .null } else if let b = try? c.decode(Bool.self) { self = .bool(b) }
      else if let x = try? c.decode(Double.self) { self = .number(x) } else if let s = try? c.decode(String.self) { self = .string(s) }
      else if let a = try? c.decode([Decoded].self) { self = .array(a) } else { self = .object(try c.decode([String: Decoded].self)) }
    }
  }

  func same(_ a: JSONValue, _ b: Decoded, _ path: String) -> String? {
    switch (a, b) {
    case (.null, .null): return nil
    case let (.bool(x), .bool(y)): return x == y ? nil : path
    case let (.number(x, _), .number(y)): return x.bitPattern == y.bitPattern ? nil : "\(path): \(x) vs \(y)"
    case let (.string(x), .string(y)): return x == y ? nil : path
    case let (.array(x), .array(y)):
      guard x.count == y.count else { return path }
      for i in x.indices { if let d = same(x[i], y[i], "\(path)[\(i)]") { return d } }
      return nil
    case let (.object(x), .object(y)):
      guard Set(x.keys) == Set(y.keys) else { return path }
      for k in x.keys { if let d = same(x[k]!, y[k]!, "\(path).\(k)") { return d } }
      return nil
    default: return "\(path): \(a.typeName) vs \(b)"
    }
  }

  func testEveryCommittedInputFileReadsToTheSameValues() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var checked = 0
    for folder in ["examples", "Tests/NeuralCoreTests/Fixtures"] {
      let base = root.appendingPathComponent(folder)
      guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil) else { continue }
      for case let url as URL in walker where url.pathExtension == "json" {
        let data = try Data(contentsOf: url)
        // diffusers' scheduler configs carry Python's -Infinity (json.dumps); both readers are told to accept it there
        let text = String(decoding: data, as: UTF8.self)
        let python = text.contains("Infinity") || text.contains("NaN")
        let mine = try JSONReader.parse(data, source: url.lastPathComponent, nonFiniteLiterals: python)
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = python
        let theirs = try decoder.decode(Decoded.self, from: data)
        XCTAssertNil(same(mine, theirs, url.lastPathComponent))
        checked += 1
      }
    }
    XCTAssertGreaterThanOrEqual(checked, 10)
  }
}
