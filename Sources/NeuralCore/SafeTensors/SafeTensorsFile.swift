import DiffusionCore
import Foundation

/// A safetensors file: an 8-byte little-endian header length N, N bytes of JSON header
/// `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}`, then the byte buffer that
/// the offsets index. Everything in the header is checked before any byte is read; a malformed file throws
/// `InvalidInput` naming the file and the tensor, never reads out of bounds.
public struct SafeTensorsFile: Sendable {
  /// The header is at most 100 MB, as in the reference implementation.
  public static let maximumHeaderLength = 100_000_000

  public let tensors: [String: SafeTensor]
  /// The `__metadata__` strings (empty if the file has none).
  public let metadata: [String: String]

  /// Tensor names in sorted order.
  public var names: [String] { tensors.keys.sorted() }

  public subscript(name: String) -> SafeTensor? { tensors[name] }

  /// The tensor with this name, or an error naming it.
  public func tensor(_ name: String) throws -> SafeTensor {
    guard let tensor = tensors[name] else {
      throw InvalidInput("tensor \"\(name)\"", "not found in the safetensors file (it has \(tensors.count) tensors)")
    }
    return tensor
  }

  /// Reads the whole file in one read and parses it.
  public static func read(_ url: URL) throws -> SafeTensorsFile {
    let data = try InputFile.read(url, limit: InputFile.tensorLimit)
    return try SafeTensorsFile(data: data, source: url.path)
  }

  /// Parses and validates a whole file held in memory; `source` names it in errors.
  public init(data: Data, source: String = "safetensors") throws {
    let buffer = data.startIndex == 0 ? data : Data(data)
    guard buffer.count >= 8 else {
      throw InvalidInput(source, "file of \(buffer.count) bytes is shorter than the 8-byte header length")
    }
    let declared = buffer.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
    guard declared <= UInt64(Self.maximumHeaderLength) else {
      throw InvalidInput(source, "header length \(declared) exceeds the limit of \(Self.maximumHeaderLength) bytes")
    }
    let headerLength = Int(declared)
    guard headerLength <= buffer.count - 8 else {
      throw InvalidInput(source, "header length \(headerLength) runs past the end of the \(buffer.count)-byte file")
    }
    let headerBytes = buffer.subdata(in: 8..<(8 + headerLength))
    guard headerBytes.first == UInt8(ascii: "{") else {
      throw InvalidInput(source, "header does not start with '{'")
    }
    let header: SafeTensorsHeader
    do {
      header = try SafeTensorsHeader(json: headerBytes, source: source)
    } catch let error as InvalidInput where !error.field.hasPrefix(source) {
      throw InvalidInput("\(source): \(error.field)", error.reason)
    }
    let dataStart = 8 + headerLength
    let dataLength = buffer.count - dataStart
    var layout: [(name: String, range: Range<Int>)] = []
    var tensors: [String: SafeTensor] = [:]
    for (name, entry) in header.entries {
      let field = "\(source): tensor \"\(name)\""
      guard let dtype = SafeTensorDType(rawValue: entry.dtype) else {
        throw InvalidInput(field, "unknown or unsupported dtype \"\(entry.dtype)\"")
      }
      var elements = 1
      for dimension in entry.shape {
        guard dimension >= 0 else { throw InvalidInput(field, "negative dimension in shape \(entry.shape)") }
        let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
        guard !overflow else { throw InvalidInput(field, "shape \(entry.shape) overflows the element count") }
        elements = product
      }
      let (byteCount, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
      guard !overflow else { throw InvalidInput(field, "shape \(entry.shape) overflows the byte count") }
      guard entry.offsets.count == 2 else {
        throw InvalidInput(field, "data_offsets must be [begin, end], got \(entry.offsets)")
      }
      let begin = entry.offsets[0]
      let end = entry.offsets[1]
      guard 0 <= begin, begin <= end, end <= dataLength else {
        throw InvalidInput(field, "data_offsets [\(begin), \(end)] are not inside the \(dataLength)-byte data buffer")
      }
      guard end - begin == byteCount else {
        throw InvalidInput(
          field,
          "data_offsets span \(end - begin) bytes but shape \(entry.shape) of \(dtype.rawValue) needs \(byteCount)")
      }
      layout.append((name, begin..<end))
      tensors[name] = SafeTensor(
        name: name, dtype: dtype, shape: entry.shape, storage: buffer,
        byteRange: (dataStart + begin)..<(dataStart + end))
    }
    try Self.checkContiguous(layout, dataLength: dataLength, source: source)
    self.tensors = tensors
    self.metadata = header.metadata
  }

  /// The tensors must tile the data buffer exactly: no overlap, no gap, no trailing bytes (as the reference requires).
  private static func checkContiguous(
    _ layout: [(name: String, range: Range<Int>)], dataLength: Int, source: String
  ) throws {
    let ordered = layout.sorted {
      ($0.range.lowerBound, $0.range.upperBound, $0.name) < ($1.range.lowerBound, $1.range.upperBound, $1.name)
    }
    var position = 0
    var previous: String? = nil
    for (name, range) in ordered {
      if range.lowerBound < position {
        throw InvalidInput(
          "\(source): tensor \"\(name)\"", "data_offsets overlap those of tensor \"\(previous ?? "")\"")
      }
      if range.lowerBound > position {
        let after = previous.map { "after tensor \"\($0)\"" } ?? "at the start of the buffer"
        throw InvalidInput(
          "\(source): tensor \"\(name)\"",
          "data_offsets leave a gap of \(range.lowerBound - position) bytes \(after)")
      }
      position = range.upperBound
      previous = name
    }
    guard position == dataLength else {
      throw InvalidInput(source, "\(dataLength - position) bytes after the last tensor are not described by the header")
    }
  }
}
