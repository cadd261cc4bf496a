import CZlib
import DiffusionCore
import Foundation

/// 8-bit PNG images with 1 (gray) or 3 (RGB) channels, read and written (PNG, ISO/IEC 15948). Reading accepts
/// every non-interlaced PNG a user is likely to have: gray, RGB, palette, with or without alpha (the alpha channel
/// is dropped), bit depths 1-16 (16-bit samples keep their high byte); the zlib stream is inflated by the system
/// zlib (a correct inflate is ~300 lines of its own, and zlib1g-dev is on every Debian machine).
public struct PNGPixels: Sendable, Equatable {
  /// 1 (gray) or 3 (RGB).
  public let channels: Int
  public let height: Int
  public let width: Int
  /// Row-major, channels interleaved (H, W, C).
  public var bytes: [UInt8]

  public init(channels: Int, height: Int, width: Int, bytes: [UInt8]) throws {
    guard channels == 1 || channels == 3 else { throw InvalidInput("channels", "a PNG image here has 1 or 3 channels, got \(channels)") }
    try Check.positive(height, "height")
    try Check.positive(width, "width")
    guard bytes.count == channels * height * width else {
      throw InvalidInput("pixels", "expected \(channels * height * width) bytes, got \(bytes.count)")
    }
    self.channels = channels
    self.height = height
    self.width = width
    self.bytes = bytes
  }

  // MARK: - writing

  /// The PNG file: one IDAT, filter type 0 on every row, zlib-compressed.
  public func pngData() throws -> Data {
    var raw = [UInt8]()
    raw.reserveCapacity((width * channels + 1) * height)
    let row = width * channels
    for r in 0..<height { raw.append(0); raw += bytes[(r * row)..<((r + 1) * row)] }
    var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    let colorType: UInt8 = channels == 3 ? 2 : 0
    png += PNGImage.chunk("IHDR", PNGImage.bigEndian(UInt32(width)) + PNGImage.bigEndian(UInt32(height)) + [8, colorType, 0, 0, 0])
    png += PNGImage.chunk("IDAT", try Self.deflate(raw))
    png += PNGImage.chunk("IEND", [])
    return Data(png)
  }

  public func write(to url: URL) throws { try AtomicFile.write(try pngData(), to: url) }

  // MARK: - reading

  /// The largest PNG file read (a 16384 x 16384 RGB image compresses to far less; the file is held in memory).
  public static let fileLimit = InputFile.configLimit

  /// Reads a PNG through the input-file gate (regular files only, at most `fileLimit` bytes). With `width` and
  /// `height` (the model's size), a header declaring another size is refused before any pixel data is inflated.
  public static func read(_ url: URL, width: Int? = nil, height: Int? = nil) throws -> PNGPixels {
    let data = try InputFile.read(url, limit: fileLimit)
    do { return try decode(data, width: width, height: height) } catch let e as InvalidInput { throw InvalidInput(url.path, "\(e.field): \(e.reason)") }
  }

  /// The header fields that fix the decoded size (PNG 11.2.2).
  struct Header {
    let width: Int, height: Int, depth: Int, color: Int, interlace: Int
    /// Samples per pixel of the colour type at the bit depth; nil for a combination PNG does not allow.
    var samples: Int? {
      switch (color, depth) {
      case (0, 1), (0, 2), (0, 4), (0, 8), (0, 16): return 1
      case (2, 8), (2, 16): return 3
      case (3, 1), (3, 2), (3, 4), (3, 8): return 1
      case (4, 8), (4, 16): return 2
      case (6, 8), (6, 16): return 4
      default: return nil
      }
    }
  }

  /// Checks a header before any pixel data is read: the size (1...16384 a side, and the expected size if given),
  /// the colour type and bit depth, interlacing, and the memory decoding takes (the inflated rows, the unfiltered
  /// rows and the 8-bit output) against the budget.
  static func check(_ h: Header, width: Int?, height: Int?) throws {
    guard h.width > 0, h.height > 0, h.width <= 1 << 14, h.height <= 1 << 14 else {
      throw InvalidInput("IHDR", "image size \(h.width) x \(h.height) outside 1...16384")
    }
    if let width, let height, h.width != width || h.height != height {
      throw InvalidInput("IHDR", "the image is \(h.width) x \(h.height) pixels, the model's images are \(width) x \(height)")
    }
    guard let samples = h.samples else { throw InvalidInput("IHDR", "invalid color type \(h.color) with bit depth \(h.depth)") }
    guard h.interlace == 0 else { throw InvalidInput("IHDR", "Adam7-interlaced PNGs are not supported (save without interlacing)") }
    let rowBytes = (h.width * samples * h.depth + 7) / 8
    let bytes = Double(2 * rowBytes + 1) * Double(h.height) + 3 * Double(h.width) * Double(h.height)
    try Budget.checkMemory(bytes, "IHDR", what: "decoding a \(h.width) x \(h.height) PNG at \(h.depth) bits x \(samples) samples")
  }

  /// Decodes a PNG; errors name the chunk or field. IHDR must come first (PNG 5.6) and is checked (`check`, with the
  /// expected size if given) before the rest of the file is read.
  public static func decode(_ data: Data, width: Int? = nil, height: Int? = nil) throws -> PNGPixels {
    let b = [UInt8](data)
    guard b.count >= 8, Array(b[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else {
      throw InvalidInput("signature", "not a PNG file")
    }
    var offset = 8
    var header: Header?
    var palette: [UInt8] = []
    var idat: [UInt8] = []
    var ended = false
    while offset + 12 <= b.count {
      let length = Int(be32(b, offset))
      let type = String(decoding: b[(offset + 4)..<(offset + 8)], as: UTF8.self)
      guard length <= b.count - offset - 12 else { throw InvalidInput(type, "chunk runs past the end of the file") }
      guard header != nil || type == "IHDR" else { throw InvalidInput("IHDR", "missing (the first chunk is \(type))") }
      let body = b[(offset + 8)..<(offset + 8 + length)]
      guard be32(b, offset + 8 + length) == PNGImage.crc32(Array(b[(offset + 4)..<(offset + 8 + length)])) else {
        throw InvalidInput(type, "CRC mismatch (the file is damaged)")
      }
      switch type {
      case "IHDR":
        guard header == nil else { throw InvalidInput("IHDR", "appears twice") }
        guard length == 13 else { throw InvalidInput("IHDR", "must be 13 bytes") }
        let fields = Array(body)
        let h = Header(width: Int(be32(fields, 0)), height: Int(be32(fields, 4)), depth: Int(fields[8]), color: Int(fields[9]),
                       interlace: Int(fields[12]))
        try check(h, width: width, height: height)
        header = h
      case "PLTE": palette = Array(body)
      case "IDAT": idat += body
      case "IEND": ended = true
      default: break
      }
      offset += 12 + length
      if ended { break }
    }
    guard let h = header else { throw InvalidInput("IHDR", "missing") }
    guard ended else { throw InvalidInput("IEND", "missing (the file is truncated)") }
    let samples = h.samples!  // invariant: check(h) accepted the colour type and depth
    if h.color == 3 && palette.isEmpty { throw InvalidInput("PLTE", "missing for a palette image") }
    let bitsPerPixel = samples * h.depth
    let rowBytes = (h.width * bitsPerPixel + 7) / 8
    let bpp = max(1, bitsPerPixel / 8)
    let raw = try inflate(idat, expected: (rowBytes + 1) * h.height)
    // undo the row filters (PNG 9.2)
    var rows = [UInt8](repeating: 0, count: rowBytes * h.height)
    for r in 0..<h.height {
      let filter = raw[r * (rowBytes + 1)]
      let src = r * (rowBytes + 1) + 1, dst = r * rowBytes
      for i in 0..<rowBytes {
        let x = raw[src + i]
        let a = i >= bpp ? rows[dst + i - bpp] : 0
        let up = r > 0 ? rows[dst - rowBytes + i] : 0
        let c = (i >= bpp && r > 0) ? rows[dst - rowBytes + i - bpp] : 0
        let predicted: UInt8
        switch filter {
        case 0: predicted = 0
        case 1: predicted = a
        case 2: predicted = up
        case 3: predicted = UInt8((Int(a) + Int(up)) / 2)
        case 4:
          let p = Int(a) + Int(up) - Int(c)
          let (pa, pb, pc) = (abs(p - Int(a)), abs(p - Int(up)), abs(p - Int(c)))
          predicted = pa <= pb && pa <= pc ? a : (pb <= pc ? up : c)
        default: throw InvalidInput("IDAT", "row \(r) has invalid filter type \(filter)")
        }
        rows[dst + i] = x &+ predicted
      }
    }
    // samples to 8-bit gray or RGB
    let channels = (h.color == 2 || h.color == 3 || h.color == 6) ? 3 : 1
    var out = [UInt8](repeating: 0, count: h.width * h.height * channels)
    func sample(_ r: Int, _ index: Int) -> Int {  // the index-th sample of row r, at the image's bit depth
      let row = r * rowBytes
      switch h.depth {
      case 16: return Int(rows[row + 2 * index]) << 8 | Int(rows[row + 2 * index + 1])
      case 8: return Int(rows[row + index])
      default:
        let bit = index * h.depth
        return Int(rows[row + bit / 8] >> (8 - h.depth - bit % 8)) & ((1 << h.depth) - 1)
      }
    }
    func to8(_ v: Int) -> UInt8 {
      switch h.depth {
      case 16: return UInt8(v >> 8)
      case 8: return UInt8(v)
      default: return UInt8(v * 255 / ((1 << h.depth) - 1))
      }
    }
    for r in 0..<h.height {
      for c in 0..<h.width {
        let o = (r * h.width + c) * channels
        if h.color == 3 {
          let k = sample(r, c)
          guard 3 * k + 2 < palette.count else { throw InvalidInput("PLTE", "palette index \(k) out of range") }
          for j in 0..<3 { out[o + j] = palette[3 * k + j] }
        } else {
          for j in 0..<channels { out[o + j] = to8(sample(r, c * samples + j)) }
        }
      }
    }
    return try PNGPixels(channels: channels, height: h.height, width: h.width, bytes: out)
  }

  // MARK: - zlib

  static func be32(_ b: [UInt8], _ o: Int) -> UInt32 {
    UInt32(b[o]) << 24 | UInt32(b[o + 1]) << 16 | UInt32(b[o + 2]) << 8 | UInt32(b[o + 3])
  }

  /// Inflates a zlib stream that must hold exactly `expected` bytes.
  static func inflate(_ input: [UInt8], expected: Int) throws -> [UInt8] {
    var output = [UInt8](repeating: 0, count: expected)
    var length = uLongf(expected)
    let status = input.withUnsafeBufferPointer { src in
      output.withUnsafeMutableBufferPointer { dst in
        uncompress(dst.baseAddress, &length, src.baseAddress, uLong(src.count))
      }
    }
    guard status == Z_OK else {
      throw InvalidInput("IDAT", status == Z_BUF_ERROR ? "holds more pixel data than the header's size" : "corrupt compressed data (zlib error \(status))")
    }
    guard Int(length) == expected else { throw InvalidInput("IDAT", "holds \(length) bytes of rows, the header needs \(expected)") }
    return output
  }

  static func deflate(_ input: [UInt8]) throws -> [UInt8] {
    var length = compressBound(uLong(input.count))
    var output = [UInt8](repeating: 0, count: Int(length))
    let status = input.withUnsafeBufferPointer { src in
      output.withUnsafeMutableBufferPointer { dst in compress2(dst.baseAddress, &length, src.baseAddress, uLong(src.count), 9) }
    }
    guard status == Z_OK else { throw InvalidInput("png", "zlib compress failed (\(status))") }
    return Array(output[0..<Int(length)])
  }
}
