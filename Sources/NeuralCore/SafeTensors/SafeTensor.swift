import DiffusionCore
import Foundation

/// One tensor of a safetensors file: its name, element type, row-major shape and its bytes (a view into the file's
/// buffer, shared by every tensor of the file, never copied until converted).
public struct SafeTensor: Sendable {
  public let name: String
  public let dtype: SafeTensorDType
  /// Row-major (outermost first), as PyTorch and NumPy store it.
  public let shape: [Int]
  /// The whole file buffer; `byteRange` is relative to its first byte.
  let storage: Data
  let byteRange: Range<Int>

  init(name: String, dtype: SafeTensorDType, shape: [Int], storage: Data, byteRange: Range<Int>) {
    self.name = name
    self.dtype = dtype
    self.shape = shape
    self.storage = storage
    self.byteRange = byteRange
  }

  /// Number of elements (the product of the shape; 1 for a scalar).
  public var count: Int { byteRange.count / dtype.byteSize }

  /// The raw little-endian bytes of the tensor.
  public var bytes: Data { storage.withUnsafeBytes { Data($0[byteRange]) } }

  /// Values converted to Double (exact for every floating type and for integers up to 2^53).
  public func doubles() -> [Double] {
    decode(exactCopy: .f64, fromFloat: { Double($0) }, fromDouble: { $0 })
  }

  /// Values converted to Float (F64 and wide integers are rounded to nearest).
  public func floats() -> [Float] {
    decode(exactCopy: .f32, fromFloat: { $0 }, fromDouble: { Float($0) })
  }

  /// Throws unless the tensor has exactly this shape, naming the tensor.
  public func checkShape(_ expected: [Int]) throws {
    guard shape == expected else {
      throw InvalidInput("tensor \"\(name)\"", "expected shape \(expected), the file has \(shape)")
    }
  }

  /// Converts every element; `exactCopy` is the dtype whose bytes are already the output's in-memory layout.
  @inline(__always)
  private func decode<Out>(
    exactCopy: SafeTensorDType, fromFloat: (Float) -> Out, fromDouble: (Double) -> Out
  ) -> [Out] {
    let n = count
    guard n > 0 else { return [] }
    return [Out](unsafeUninitializedCapacity: n) { out, initialized in
      storage.withUnsafeBytes { whole in
        let src = UnsafeRawBufferPointer(rebasing: whole[byteRange])
        #if _endian(little)
          if dtype == exactCopy {
            UnsafeMutableRawBufferPointer(out).copyMemory(from: src)
            initialized = n
            return
          }
        #endif
        switch dtype {
        case .f64:
          for i in 0..<n { out[i] = fromDouble(Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
        case .f32:
          for i in 0..<n { out[i] = fromFloat(Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))) }
        case .f16:
          for i in 0..<n { out[i] = fromFloat(HalfPrecision.float(fromHalfBits: UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
        case .bf16:
          for i in 0..<n { out[i] = fromFloat(HalfPrecision.float(fromBFloat16Bits: UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
        case .i64:
          for i in 0..<n { out[i] = fromDouble(Double(Int64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))) }
        case .i32:
          for i in 0..<n { out[i] = fromDouble(Double(Int32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))) }
        case .i16:
          for i in 0..<n { out[i] = fromDouble(Double(Int16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))) }
        case .i8:
          for i in 0..<n { out[i] = fromDouble(Double(src.load(fromByteOffset: i, as: Int8.self))) }
        case .u64:
          for i in 0..<n { out[i] = fromDouble(Double(UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
        case .u32:
          for i in 0..<n { out[i] = fromDouble(Double(UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))) }
        case .u16:
          for i in 0..<n { out[i] = fromDouble(Double(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
        case .u8:
          for i in 0..<n { out[i] = fromDouble(Double(src[i])) }
        case .bool:
          for i in 0..<n { out[i] = fromDouble(src[i] == 0 ? 0 : 1) }
        }
      }
      initialized = n
    }
  }
}
