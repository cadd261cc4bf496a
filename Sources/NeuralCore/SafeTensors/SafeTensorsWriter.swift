import DiffusionCore
import Foundation

extension SafeTensorsFile {
  /// One tensor to write: a name, a row-major shape, values, and the stored type (F64 or F32).
  public struct Entry: Sendable {
    enum Values: Sendable {
      case doubles([Double])
      case floats([Float])
    }

    public let name: String
    public let shape: [Int]
    public let dtype: SafeTensorDType
    let values: Values

    public init(_ name: String, shape: [Int], doubles: [Double], dtype: SafeTensorDType = .f64) {
      self.name = name
      self.shape = shape
      self.dtype = dtype
      self.values = .doubles(doubles)
    }

    public init(_ name: String, shape: [Int], floats: [Float], dtype: SafeTensorDType = .f32) {
      self.name = name
      self.shape = shape
      self.dtype = dtype
      self.values = .floats(floats)
    }

    var count: Int {
      switch values {
      case .doubles(let v): return v.count
      case .floats(let v): return v.count
      }
    }

    /// Appends the values as little-endian bytes of `dtype`.
    func append(to data: inout Data) {
      switch (values, dtype) {
      case (.doubles(let v), .f64): Self.appendLittleEndian(v.map { $0.bitPattern }, to: &data)
      case (.doubles(let v), _): Self.appendLittleEndian(v.map { Float($0).bitPattern }, to: &data)
      case (.floats(let v), .f64): Self.appendLittleEndian(v.map { Double($0).bitPattern }, to: &data)
      case (.floats(let v), _): Self.appendLittleEndian(v.map { $0.bitPattern }, to: &data)
      }
    }

    private static func appendLittleEndian<T: FixedWidthInteger>(_ words: [T], to data: inout Data) {
      #if _endian(little)
        words.withUnsafeBytes { data.append(contentsOf: $0) }
      #else
        words.map { $0.littleEndian }.withUnsafeBytes { data.append(contentsOf: $0) }
      #endif
    }
  }

  /// The bytes of a safetensors file holding these tensors in sorted-name order, the header padded with spaces to a
  /// multiple of 8 bytes (as the reference writer does, so every tensor starts 8-byte aligned).
  public static func encode(_ entries: [Entry], metadata: [String: String] = [:]) throws -> Data {
    let sorted = entries.sorted { $0.name < $1.name }
    var seen = Set<String>()
    var parts: [String] = []
    if !metadata.isEmpty {
      let pairs = metadata.sorted { $0.key < $1.key }.map { "\(jsonStringLiteral($0.key)):\(jsonStringLiteral($0.value))" }
      parts.append("\"\(SafeTensorsHeader.metadataKey)\":{\(pairs.joined(separator: ","))}")
    }
    var offset = 0
    for entry in sorted {
      let field = "tensor \"\(entry.name)\""
      guard !entry.name.isEmpty, entry.name != SafeTensorsHeader.metadataKey else {
        throw InvalidInput(field, "is not a valid tensor name")
      }
      guard seen.insert(entry.name).inserted else { throw InvalidInput(field, "appears twice") }
      guard entry.dtype.isWritable else {
        throw InvalidInput(field, "cannot be written as \(entry.dtype.rawValue): only F64 and F32 are supported")
      }
      var elements = 1
      for dimension in entry.shape {
        guard dimension >= 0 else { throw InvalidInput(field, "negative dimension in shape \(entry.shape)") }
        let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
        guard !overflow else { throw InvalidInput(field, "shape \(entry.shape) overflows the element count") }
        elements = product
      }
      guard elements == entry.count else {
        throw InvalidInput(field, "shape \(entry.shape) needs \(elements) values, got \(entry.count)")
      }
      let end = offset + elements * entry.dtype.byteSize
      let shape = entry.shape.map(String.init).joined(separator: ",")
      parts.append(
        "\(jsonStringLiteral(entry.name)):{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
      offset = end
    }
    var header = Data(("{" + parts.joined(separator: ",") + "}").utf8)
    header.append(contentsOf: [UInt8](repeating: UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
    var file = Data(capacity: 8 + header.count + offset)
    withUnsafeBytes(of: UInt64(header.count).littleEndian) { file.append(contentsOf: $0) }
    file.append(header)
    for entry in sorted { entry.append(to: &file) }
    return file
  }

  /// Writes the file whole (temporary file, then rename); refuses non-finite values (`checkFinite`).
  public static func write(_ entries: [Entry], metadata: [String: String] = [:], to url: URL) throws {
    try checkFinite(entries)
    try OutputFile.write(encode(entries, metadata: metadata), to: url)
  }
}
