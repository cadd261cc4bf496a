import DiffusionCore
import Foundation

/// A PNG grid of model images: one row per sample, one labelled column per image kind (start, each method's
/// result, target), each image scaled up `zoom` times, labels in a 3 x 5 pixel font (upper case) above the columns.
public struct ImageGrid {
  public let channels: Int
  public let height: Int
  public let width: Int
  public let zoom: Int
  /// (label, B x C x H x W values) per column.
  public private(set) var columns: [(label: String, images: [Double])] = []

  public init(channels: Int, height: Int, width: Int, zoom: Int? = nil) {
    self.channels = channels
    self.height = height
    self.width = width
    self.zoom = zoom ?? max(1, 64 / max(height, width))
  }

  public mutating func add(_ label: String, _ images: [Double]) { columns.append((label, images)) }

  public func pixels() throws -> PNGPixels {
    let d = channels * height * width
    let rows = columns.map { $0.images.count / d }.max() ?? 0
    let pad = 2, scale = 2  // font pixels are scale x scale
    let labelHeight = 5 * scale + 2 * pad
    let cellW = max(width * zoom, columns.map { Self.textWidth($0.label) * scale }.max() ?? 0) + pad
    let cellH = height * zoom + pad
    let (gw, gh) = (max(1, columns.count * cellW + pad), labelHeight + max(1, rows) * cellH + pad)
    var bytes = [UInt8](repeating: 255, count: gw * gh * channels)
    for (j, column) in columns.enumerated() {
      let x0 = pad + j * cellW
      Self.draw(column.label, into: &bytes, width: gw, channels: channels, x: x0, y: pad, scale: scale)
      for r in 0..<(column.images.count / d) {
        let img = try ModelImage.pixels(column.images[(r * d)..<((r + 1) * d)], channels: channels, height: height, width: width)
        let y0 = labelHeight + r * cellH
        for y in 0..<(height * zoom) {
          for x in 0..<(width * zoom) {
            for k in 0..<channels {
              bytes[((y0 + y) * gw + x0 + x) * channels + k] = img.bytes[((y / zoom) * width + x / zoom) * channels + k]
            }
          }
        }
      }
    }
    return try PNGPixels(channels: channels, height: gh, width: gw, bytes: bytes)
  }

  static func textWidth(_ s: String) -> Int { s.count * 4 }

  static func draw(_ text: String, into bytes: inout [UInt8], width: Int, channels: Int, x: Int, y: Int, scale: Int) {
    let height = bytes.count / (width * channels)
    for (n, ch) in text.uppercased().enumerated() {
      let rows = glyphs[ch] ?? glyphs["?"]!  // invariant: '?' is in the table
      for (r, row) in rows.enumerated() {
        for (c, bit) in row.enumerated() where bit == "#" {
          for dy in 0..<scale {
            for dx in 0..<scale {
              let (px, py) = (x + (n * 4 + c) * scale + dx, y + r * scale + dy)
              guard px < width, py < height else { continue }
              for k in 0..<channels { bytes[(py * width + px) * channels + k] = 0 }
            }
          }
        }
      }
    }
  }

  /// A 3 x 5 font: each glyph five rows of three pixels ('#' ink).
  static let glyphs: [Character: [String]] = [
    "A": [".#.", "#.#", "###", "#.#", "#.#"], "B": ["##.", "#.#", "##.", "#.#", "##."], "C": [".##", "#..", "#..", "#..", ".##"],
    "D": ["##.", "#.#", "#.#", "#.#", "##."], "E": ["###", "#..", "##.", "#..", "###"], "F": ["###", "#..", "##.", "#..", "#.."],
    "G": [".##", "#..", "#.#", "#.#", ".##"], "H": ["#.#", "#.#", "###", "#.#", "#.#"], "I": ["###", ".#.", ".#.", ".#.", "###"],
    "J": ["..#", "..#", "..#", "#.#", ".#."], "K": ["#.#", "#.#", "##.", "#.#", "#.#"], "L": ["#..", "#..", "#..", "#..", "###"],
    "M": ["#.#", "###", "###", "#.#", "#.#"], "N": ["##.", "#.#", "#.#", "#.#", "#.#"], "O": [".#.", "#.#", "#.#", "#.#", ".#."],
    "P": ["##.", "#.#", "##.", "#..", "#.."], "Q": [".#.", "#.#", "#.#", "##.", ".##"], "R": ["##.", "#.#", "##.", "#.#", "#.#"],
    "S": [".##", "#..", ".#.", "..#", "##."], "T": ["###", ".#.", ".#.", ".#.", ".#."], "U": ["#.#", "#.#", "#.#", "#.#", "###"],
    "V": ["#.#", "#.#", "#.#", "#.#", ".#."], "W": ["#.#", "#.#", "###", "###", "#.#"], "X": ["#.#", "#.#", ".#.", "#.#", "#.#"],
    "Y": ["#.#", "#.#", ".#.", ".#.", ".#."], "Z": ["###", "..#", ".#.", "#..", "###"],
    "0": ["###", "#.#", "#.#", "#.#", "###"], "1": [".#.", "##.", ".#.", ".#.", "###"], "2": ["##.", "..#", ".#.", "#..", "###"],
    "3": ["##.", "..#", ".#.", "..#", "##."], "4": ["#.#", "#.#", "###", "..#", "..#"], "5": ["###", "#..", "##.", "..#", "##."],
    "6": [".##", "#..", "###", "#.#", "###"], "7": ["###", "..#", ".#.", ".#.", ".#."], "8": ["###", "#.#", "###", "#.#", "###"],
    "9": ["###", "#.#", "###", "..#", "##."], "-": ["...", "...", "###", "...", "..."], "/": ["..#", "..#", ".#.", "#..", "#.."],
    ".": ["...", "...", "...", "...", ".#."], "_": ["...", "...", "...", "...", "###"], " ": ["...", "...", "...", "...", "..."],
    "[": ["##.", "#..", "#..", "#..", "##."], "]": [".##", "..#", "..#", "..#", ".##"], "=": ["...", "###", "...", "###", "..."],
    "?": ["##.", "..#", ".#.", "...", ".#."],
  ]
}
