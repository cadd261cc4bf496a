import Foundation

/// The one JSON reader for every input file (configs, noise files, UNet and recognizer config.json, safetensors
/// headers). Strict RFC 8259: no trailing commas, no comments, no duplicate keys, at most `maximumDepth` nested
/// containers. Numbers are correctly rounded to Double (Swift's parser, as `JSONDecoder`); a literal that overflows
/// to infinity or a non-zero literal that underflows to 0 is an error naming its field, never a silent inf or 0.
/// Every error is an `InvalidInput`: the field is the key path (`model.means[0][2]`, or `source` at the top level),
/// the reason says where (line, column) and why.
public enum JSONReader {
  public static let maximumDepth = 512

  /// Parses a whole document; `source` names the file in errors (and is the field of errors at the top level).
  /// `nonFiniteLiterals`: also accept Python's `NaN`, `Infinity` and `-Infinity` (what `json.dumps` writes, e.g. in
  /// diffusers' scheduler configs); they read as non-finite numbers, which the caller must then judge.
  public static func parse(_ data: Data, source: String, nonFiniteLiterals: Bool = false) throws -> JSONValue {
    try data.withUnsafeBytes { raw in
      var parser = Parser(bytes: raw.bindMemory(to: UInt8.self), source: source)
      parser.nonFiniteLiterals = nonFiniteLiterals
      return try parser.document()
    }
  }

  public static func parse(_ text: String, source: String, nonFiniteLiterals: Bool = false) throws -> JSONValue {
    try parse(Data(text.utf8), source: source, nonFiniteLiterals: nonFiniteLiterals)
  }
}

private struct Parser {
  let bytes: UnsafeBufferPointer<UInt8>
  let source: String
  var index = 0
  /// Whether `NaN`, `Infinity` and `-Infinity` are numbers (off: strict RFC 8259).
  var nonFiniteLiterals = false
  /// The key path of the value being read, for errors.
  var path: [PathElement] = []

  enum PathElement {
    case key(String)
    case index(Int)
  }

  init(bytes: UnsafeBufferPointer<UInt8>, source: String) {
    self.bytes = bytes
    self.source = source
  }

  /// `a.b[2]` (a list at the top level is named by the source: `noise[0][3]`).
  var pathText: String {
    var text = ""
    if case .index = path.first { text = source }
    for element in path {
      switch element {
      case let .key(k): text += text.isEmpty ? k : "." + k
      case let .index(i): text += "[\(i)]"
      }
    }
    return text
  }

  var field: String { path.isEmpty ? source : pathText }

  /// Line and column (1-based, in bytes) of `offset`.
  func position(_ offset: Int) -> String {
    var line = 1, column = 1
    for i in 0..<min(offset, bytes.count) {
      if bytes[i] == UInt8(ascii: "\n") { line += 1; column = 1 } else { column += 1 }
    }
    return "line \(line), column \(column)"
  }

  func syntax(_ why: String, at offset: Int? = nil) -> InvalidInput {
    let at = position(offset ?? index)
    let text = pathText
    let inside = path.isEmpty ? "" : " (in \(text.count > 80 ? text.prefix(80) + "..." : text))"
    return InvalidInput(source, "not valid JSON at \(at)\(inside): \(why)")
  }

  func describeByte(_ offset: Int) -> String {
    guard offset < bytes.count else { return "the end of the file" }
    let b = bytes[offset]
    return (0x21..<0x7f).contains(b) ? "'\(Character(Unicode.Scalar(b)))'" : String(format: "byte 0x%02x", b)
  }

  mutating func skipWhitespace() {
    while index < bytes.count {
      switch bytes[index] {
      case 0x20, 0x09, 0x0a, 0x0d: index += 1
      default: return
      }
    }
  }

  mutating func document() throws -> JSONValue {
    if bytes.count >= 3, bytes[0] == 0xef, bytes[1] == 0xbb, bytes[2] == 0xbf { index = 3 }  // UTF-8 byte order mark
    skipWhitespace()
    guard index < bytes.count else { throw syntax("the file is empty") }
    let value = try self.value(depth: 0)
    skipWhitespace()
    guard index == bytes.count else { throw syntax("unexpected \(describeByte(index)) after the end of the document") }
    return value
  }

  mutating func value(depth: Int) throws -> JSONValue {
    guard index < bytes.count else { throw syntax("unexpected end of the file, expected a value") }
    switch bytes[index] {
    case UInt8(ascii: "{"): return try object(depth: depth + 1)
    case UInt8(ascii: "["): return try array(depth: depth + 1)
    case UInt8(ascii: "\""): return .string(try string())
    case UInt8(ascii: "t"): try literal("true"); return .bool(true)
    case UInt8(ascii: "f"): try literal("false"); return .bool(false)
    case UInt8(ascii: "n"): try literal("null"); return .null
    case UInt8(ascii: "N") where nonFiniteLiterals: try literal("NaN"); return .number(.nan, literal: "NaN")
    case UInt8(ascii: "I") where nonFiniteLiterals: try literal("Infinity"); return .number(.infinity, literal: "Infinity")
    case UInt8(ascii: "-") where nonFiniteLiterals && index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "I"):
      try literal("-Infinity"); return .number(-.infinity, literal: "-Infinity")
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
    default: throw syntax("unexpected \(describeByte(index)), expected a value")
    }
  }

  mutating func literal(_ word: StaticString) throws {
    let start = index
    let count = word.utf8CodeUnitCount
    guard index + count <= bytes.count,
          (0..<count).allSatisfy({ bytes[index + $0] == word.utf8Start[$0] }) else {
      throw syntax("unexpected \(describeByte(start)), expected a value", at: start)
    }
    index += count
  }

  mutating func object(depth: Int) throws -> JSONValue {
    guard depth <= JSONReader.maximumDepth else { throw syntax("nested deeper than \(JSONReader.maximumDepth) levels") }
    index += 1  // {
    var result: [String: JSONValue] = [:]
    skipWhitespace()
    if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(result) }
    while true {
      skipWhitespace()
      guard index < bytes.count else { throw syntax("unexpected end of the file inside an object") }
      guard bytes[index] == UInt8(ascii: "\"") else {
        if bytes[index] == UInt8(ascii: "}") { throw syntax("trailing comma before '}'") }
        throw syntax("unexpected \(describeByte(index)), expected a key in double quotes")
      }
      let keyStart = index
      let key = try string()
      path.append(.key(key))
      if result[key] != nil {
        throw InvalidInput(pathText, "duplicate key in \(source) (second occurrence at \(position(keyStart)))")
      }
      skipWhitespace()
      guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
        throw syntax("unexpected \(describeByte(index)), expected ':' after the key")
      }
      index += 1
      skipWhitespace()
      result[key] = try value(depth: depth)
      path.removeLast()
      skipWhitespace()
      guard index < bytes.count else { throw syntax("unexpected end of the file inside an object") }
      switch bytes[index] {
      case UInt8(ascii: ","): index += 1
      case UInt8(ascii: "}"): index += 1; return .object(result)
      default: throw syntax("unexpected \(describeByte(index)), expected ',' or '}'")
      }
    }
  }

  mutating func array(depth: Int) throws -> JSONValue {
    guard depth <= JSONReader.maximumDepth else { throw syntax("nested deeper than \(JSONReader.maximumDepth) levels") }
    index += 1  // [
    var result: [JSONValue] = []
    skipWhitespace()
    if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(result) }
    while true {
      skipWhitespace()
      if index < bytes.count, bytes[index] == UInt8(ascii: "]") { throw syntax("trailing comma before ']'") }
      path.append(.index(result.count))
      result.append(try value(depth: depth))
      path.removeLast()
      skipWhitespace()
      guard index < bytes.count else { throw syntax("unexpected end of the file inside a list") }
      switch bytes[index] {
      case UInt8(ascii: ","): index += 1
      case UInt8(ascii: "]"): index += 1; return .array(result)
      default: throw syntax("unexpected \(describeByte(index)), expected ',' or ']'")
      }
    }
  }

  mutating func hexDigit() throws -> UInt32 {
    guard index < bytes.count else { throw syntax("unexpected end of the file in a \\u escape") }
    let b = bytes[index]
    index += 1
    switch b {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(b - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(b - UInt8(ascii: "a") + 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(b - UInt8(ascii: "A") + 10)
    default: throw syntax("\\u escape needs four hex digits", at: index - 1)
    }
  }

  mutating func unicodeEscape() throws -> UInt32 {
    var v: UInt32 = 0
    for _ in 0..<4 { v = v << 4 | (try hexDigit()) }
    return v
  }

  mutating func string() throws -> String {
    let start = index
    index += 1  // opening quote
    var utf8: [UInt8] = []
    while true {
      guard index < bytes.count else { throw syntax("unterminated string", at: start) }
      let b = bytes[index]
      switch b {
      case UInt8(ascii: "\""):
        index += 1
        guard let text = String(validating: utf8, as: UTF8.self) else {
          throw syntax("string is not valid UTF-8", at: start)
        }
        return text
      case UInt8(ascii: "\\"):
        index += 1
        guard index < bytes.count else { throw syntax("unterminated string", at: start) }
        let e = bytes[index]
        index += 1
        switch e {
        case UInt8(ascii: "\""): utf8.append(0x22)
        case UInt8(ascii: "\\"): utf8.append(0x5c)
        case UInt8(ascii: "/"): utf8.append(0x2f)
        case UInt8(ascii: "b"): utf8.append(0x08)
        case UInt8(ascii: "f"): utf8.append(0x0c)
        case UInt8(ascii: "n"): utf8.append(0x0a)
        case UInt8(ascii: "r"): utf8.append(0x0d)
        case UInt8(ascii: "t"): utf8.append(0x09)
        case UInt8(ascii: "u"):
          var scalar = try unicodeEscape()
          if (0xd800..<0xdc00).contains(scalar) {
            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
              throw syntax("unpaired surrogate \\u escape", at: index)
            }
            index += 2
            let low = try unicodeEscape()
            guard (0xdc00..<0xe000).contains(low) else { throw syntax("unpaired surrogate \\u escape", at: index) }
            scalar = 0x10000 + ((scalar - 0xd800) << 10) + (low - 0xdc00)
          }
          guard let u = Unicode.Scalar(scalar) else { throw syntax("unpaired surrogate \\u escape", at: index) }
          utf8.append(contentsOf: Array(String(Character(u)).utf8))
        default: throw syntax("invalid escape '\\\(Character(Unicode.Scalar(e)))'", at: index - 2)
        }
      case 0x00..<0x20:
        throw syntax("control character (byte 0x\(String(b, radix: 16))) inside a string must be escaped")
      default:
        utf8.append(b)
        index += 1
      }
    }
  }

  /// A JSON number literal: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  mutating func number() throws -> JSONValue {
    let start = index
    func digits() -> Int {
      let begin = index
      while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
      return index - begin
    }
    var nonZeroMantissa = false
    if bytes[index] == UInt8(ascii: "-") { index += 1 }
    let integerStart = index
    let integerDigits = digits()
    guard integerDigits > 0 else { throw syntax("a number needs digits after '-'", at: start) }
    if integerDigits > 1, bytes[integerStart] == UInt8(ascii: "0") { throw syntax("a number must not have leading zeros", at: start) }
    nonZeroMantissa = (integerStart..<index).contains { bytes[$0] != UInt8(ascii: "0") }
    if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
      index += 1
      let fractionStart = index
      guard digits() > 0 else { throw syntax("a number needs digits after '.'", at: start) }
      nonZeroMantissa = nonZeroMantissa || (fractionStart..<index).contains { bytes[$0] != UInt8(ascii: "0") }
    }
    if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
      index += 1
      if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
      guard digits() > 0 else { throw syntax("a number needs digits in its exponent", at: start) }
    }
    let literal = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
    guard let x = Double(literal) else { throw syntax("'\(literal)' is not a number", at: start) }
    if !x.isFinite {
      throw InvalidInput(field, "\(literal) is out of range: beyond the largest Double (about 1.8e308)")
    }
    if x == 0, nonZeroMantissa {
      throw InvalidInput(field, "\(literal) is out of range: a non-zero number below the smallest Double (about 4.9e-324) would read as 0")
    }
    return .number(x, literal: literal)
  }
}
