import DiffusionCore
import Foundation

/// An 8-bit grayscale image written as PNG (stored, uncompressed deflate blocks: no zlib needed; the images here
/// are small). Spec: PNG (ISO/IEC 15948) chunks IHDR/IDAT/IEND, zlib (RFC 1950) with stored blocks (RFC 1951 3.2.4).
public struct PNGImage: Sendable, Equatable {
  public let width: Int
  public let height: Int
  /// Row-major gray levels.
  public var pixels: [UInt8]

  public init(width: Int, height: Int, fill: UInt8 = 255) throws {
    try Check.positive(width, "width")
    try Check.positive(height, "height")
    self.width = width
    self.height = height
    pixels = [UInt8](repeating: fill, count: width * height)
  }

  /// Pastes an s x s image (row-major values) at (x, y), mapping [low, high] to [0, 255], each pixel scaled up `zoom` times.
  public mutating func paste(_ values: ArraySlice<Double>, side s: Int, atX x: Int, y: Int, zoom: Int, low: Double, high: Double) {
    for (i, v) in values.enumerated() {
      let level = UInt8(max(0, min(255, ((v - low) / (high - low) * 255).rounded())))
      let (r, c) = (i / s, i % s)
      for dy in 0..<zoom {
        for dx in 0..<zoom {
          let (py, px) = (y + r * zoom + dy, x + c * zoom + dx)
          if py < height && px < width { pixels[py * width + px] = level }
        }
      }
    }
  }

  public var pngData: Data {
    var raw: [UInt8] = []
    raw.reserveCapacity((width + 1) * height)
    for r in 0..<height { raw.append(0); raw += pixels[(r * width)..<((r + 1) * width)] }  // filter type 0 per row
    var zlib: [UInt8] = [0x78, 0x01]
    var offset = 0
    repeat {
      let n = min(65535, raw.count - offset)
      let last: UInt8 = offset + n == raw.count ? 1 : 0
      zlib += [last, UInt8(n & 0xff), UInt8(n >> 8), UInt8(~n & 0xff), UInt8((~n >> 8) & 0xff)]
      zlib += raw[offset..<(offset + n)]
      offset += n
    } while offset < raw.count
    zlib += Self.bigEndian(Self.adler32(raw))
    var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    png += Self.chunk("IHDR", Self.bigEndian(UInt32(width)) + Self.bigEndian(UInt32(height)) + [8, 0, 0, 0, 0])
    png += Self.chunk("IDAT", zlib)
    png += Self.chunk("IEND", [])
    return Data(png)
  }

  public func write(to url: URL) throws { try OutputFile.write(pngData, to: url) }

  static func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
    let typed = Array(type.utf8) + body
    return bigEndian(UInt32(body.count)) + typed + bigEndian(crc32(typed))
  }

  static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }

  static func adler32(_ bytes: [UInt8]) -> UInt32 {
    var a: UInt32 = 1, b: UInt32 = 0
    for x in bytes { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
    return (b << 16) | a
  }

  /// CRC-32 (polynomial 0xEDB88320, reflected), as PNG requires.
  static func crc32(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xffff_ffff
    for x in bytes {
      c ^= UInt32(x)
      for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    }
    return ~c
  }
}
