/// Element types of the safetensors format (the names are the strings stored in the header).
public enum SafeTensorDType: String, Sendable, CaseIterable, Hashable {
  case f64 = "F64"
  case f32 = "F32"
  case f16 = "F16"
  case bf16 = "BF16"
  case i64 = "I64"
  case i32 = "I32"
  case i16 = "I16"
  case i8 = "I8"
  case u64 = "U64"
  case u32 = "U32"
  case u16 = "U16"
  case u8 = "U8"
  case bool = "BOOL"

  /// Bytes per element.
  public var byteSize: Int {
    switch self {
    case .f64, .i64, .u64: return 8
    case .f32, .i32, .u32: return 4
    case .f16, .bf16, .i16, .u16: return 2
    case .i8, .u8, .bool: return 1
    }
  }

  /// Whether the writer can store this type (the reader accepts them all).
  public var isWritable: Bool { self == .f64 || self == .f32 }
}
