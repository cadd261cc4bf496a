import DiffusionCore
import Foundation
import XCTest

/// The one JSON reader: strict grammar, correctly rounded numbers, errors naming the key path; and a seeded
/// property test over mutated documents (every case a value or an `InvalidInput`, never a trap).
final class JSONReaderTests: XCTestCase {
  func parse(_ text: String) throws -> JSONValue { try JSONReader.parse(text, source: "config") }

  func assertRejected(_ text: String, field: String, mentioning words: String..., line: UInt = #line) {
    XCTAssertThrowsError(try parse(text), line: line) { error in
      guard let e = error as? InvalidInput else { return XCTFail("not an InvalidInput: \(error)", line: line) }
      XCTAssertEqual(e.field, field, "\(e)", line: line)
      for w in words { XCTAssertTrue(e.reason.contains(w), "'\(e.reason)' does not mention '\(w)'", line: line) }
    }
  }

  func testNumbersAreNeverBooleansAndKeepTheirDigits() throws {
    // issue 14 item 9: 0, 1, 0.0, 1.0 were bridged to Bool by Foundation on Linux
    XCTAssertEqual(try parse("[0, 1, 0.0, 1.0, true, false]"), .array([
      .number(0, literal: "0"), .number(1, literal: "1"), .number(0, literal: "0.0"), .number(1, literal: "1.0"),
      .bool(true), .bool(false),
    ]))
    XCTAssertEqual(try parse("18446744073709551615").unsigned64("seed"), UInt64.max)
    XCTAssertEqual(try parse("9007199254740993").integer("n"), 9_007_199_254_740_993)  // 2^53 + 1, exact from the digits
    XCTAssertEqual(try parse("1e3").integer("n"), 1000)
    XCTAssertThrowsError(try parse("1.5").integer("n"))
    XCTAssertThrowsError(try parse("true").double("x"))
  }

  func testNumbersAreCorrectlyRounded() throws {
    // shortest round-trip text of seeded random doubles reads back bit for bit, as do the extremes
    var rng = SeededGenerator(seed: 14)
    var values: [Double] = [.leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude, 0.1, 1e-310, -0.0]
    for _ in 0..<300 { values.append(Double(bitPattern: rng.next() & ~(0x7ff << 52) | (UInt64.random(in: 1...2046, using: &rng) << 52))) }
    for x in values {
      let v = try parse("\(x)").double("x")
      XCTAssertEqual(v.bitPattern, x.bitPattern, "\(x)")
    }
    // halfway cases decided by digits far beyond 17
    XCTAssertEqual(try parse("9007199254740993.0000000000000000000001").double("x"), 9_007_199_254_740_994)
    XCTAssertEqual(try parse("2.4703282292062327208828439643411068618252990130716238221279284125033775364e-324").double("x"),
                   .leastNonzeroMagnitude)
  }

  func testOutOfRangeNumbersNameTheirField() {
    assertRejected(#"{"T": 1e-400}"#, field: "T", mentioning: "1e-400", "out of range")
    assertRejected(#"{"model": {"means": [[1, 2e400]]}}"#, field: "model.means[0][1]", mentioning: "2e400", "largest")
    assertRejected("[[0.5], [-1e999]]", field: "config[1][0]", mentioning: "out of range")
    XCTAssertEqual(try parse("[0e-999, -0.0e5000]"), .array([.number(0, literal: "0e-999"), .number(-0.0, literal: "-0.0e5000")]))
  }

  func testStrictGrammar() {
    assertRejected(#"{"a": [1, 2,]}"#, field: "config", mentioning: "trailing comma", "in a")
    assertRejected(#"{"a": 1,}"#, field: "config", mentioning: "trailing comma")
    assertRejected(#"{"model": {"T": 1, "T": 2}}"#, field: "model.T", mentioning: "duplicate key", "line 1")
    for bad in ["", "   ", "01", "1.", ".5", "+1", "-", "1e", "NaN", "Infinity", "[1 2]", "{\"a\" 1}", "{a: 1}", "'x'",
                "\"\\x\"", "\"\u{01}\"", "\"\\ud800\"", "[1] [2]", "// c\n1", "tru", "nul", "[", "{\"a\":"] {
      XCTAssertThrowsError(try parse(bad), bad) { XCTAssertTrue($0 is InvalidInput, "\(bad): \($0)") }
    }
    XCTAssertNoThrow(try parse(String(repeating: "[", count: JSONReader.maximumDepth) + String(repeating: "]", count: JSONReader.maximumDepth)))
    assertRejected(String(repeating: "[", count: 100_000), field: "config", mentioning: "nested deeper")
    XCTAssertEqual(try parse(#""\u00e9\ud83d\ude00\n""#), .string("é😀\n"))
    XCTAssertThrowsError(try JSONReader.parse(Data([0x22, 0xff, 0x22]), source: "config"))  // invalid UTF-8
  }

  /// Property: a few hundred seeded mutations of a valid document (byte flips, truncations, insertions of JSON
  /// punctuation and extreme numbers) each parse to a value or throw an `InvalidInput`; valid re-renderings
  /// parse to the same value.
  func testMutatedDocumentsNeverTrap() throws {
    let base = Array(#"{"schedule": "vp-linear", "T": 1.0, "t_eps": 0.001, "model": {"means": [[-0.3, 0.6], [1.5, 0]], "logits": [0.3, 0.8], "log_std": [[-0.6, -0.2], [0, -0.7]]}, "x_T": [0.02, -1e-5], "loss": {"kind": "squared-distance", "target": [1, 2]}}"#.utf8)
    XCTAssertNoThrow(try JSONReader.parse(Data(base), source: "config"))
    let tokens = [",", "]", "}", "[", "{", "\"", ":", "1e400", "1e-400", "-", "0", "true", "null", "\\", "\u{0}", "1e", ".", " "]
      .map { Array($0.utf8) }
    var rng = SeededGenerator(seed: 1414)
    var outcomes = (values: 0, errors: 0)
    for _ in 0..<600 {
      var bytes = base
      for _ in 0..<(1 + Int(rng.next() % 3)) {
        let at = Int(rng.next() % UInt64(bytes.count))
        switch rng.next() % 4 {
        case 0: bytes[at] ^= UInt8(1 << (rng.next() % 8))
        case 1: bytes.removeSubrange(at..<min(bytes.count, at + 1 + Int(rng.next() % 8)))
        case 2: bytes.insert(contentsOf: tokens[Int(rng.next() % UInt64(tokens.count))], at: at)
        default: bytes = Array(bytes[..<at])
        }
        if bytes.isEmpty { break }
      }
      do {
        _ = try JSONReader.parse(Data(bytes), source: "config")
        outcomes.values += 1
      } catch let e as InvalidInput {
        XCTAssertFalse(e.field.isEmpty)
        XCTAssertFalse(e.reason.contains("\n"), "multi-line reason: \(e.reason)")
        outcomes.errors += 1
      }
    }
    XCTAssertGreaterThan(outcomes.errors, 300)  // most mutations break the document
    XCTAssertGreaterThan(outcomes.values, 10)   // and some leave valid JSON
  }
}
