/// Bit-level conversions of the 16-bit float formats to Float, independent of platform `Float16` support.
@usableFromInline
enum HalfPrecision {
  /// IEEE 754 binary16 (1 sign, 5 exponent, 10 mantissa bits) to binary32, exact for every input incl. subnormals.
  @inlinable
  static func float(fromHalfBits h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x03FF)
    if exponent == 0x1F {  // infinity or NaN: keep the payload
      return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    if exponent == 0 {  // zero or subnormal: mantissa * 2^-24
      let magnitude = Float(mantissa) * Float(bitPattern: 0x3380_0000)  // 2^-24
      return sign == 0 ? magnitude : -magnitude
    }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))  // rebias 15 -> 127
  }

  /// bfloat16 is the upper half of a binary32.
  @inlinable
  static func float(fromBFloat16Bits b: UInt16) -> Float {
    Float(bitPattern: UInt32(b) << 16)
  }
}
