import DiffusionCore
import Foundation

/// A PNG grid of model images: one row per sample, one labelled column per image kind (start, each method's
/// result, target), each image scaled up `zoom` times, text in a 3 x 5 pixel font (upper case): column names above
/// the columns, wrapped to the cell's width (at '/', '-', '_' or ' ' where possible) on at most `maxLabelLines`
/// lines and abbreviated with '..' beyond them; row names in a left margin; and, for columns given losses, each
/// image's loss under it.
public struct ImageGrid {
  public let channels: Int
  public let height: Int
  public let width: Int
  public let zoom: Int
  /// (label, B x C x H x W values, one loss per image or empty) per column.
  public private(set) var columns: [(label: String, images: [Double], losses: [Double])] = []
  /// One name per row (empty: no row margin).
  public var rowLabels: [String] = []
  public var maxLabelLines = 3

  static let pad = 2, scale = 2  // font pixels are scale x scale
  static let lineHeight = 5 * scale + 2

  public init(channels: Int, height: Int, width: Int, zoom: Int? = nil) {
    self.channels = channels
    self.height = height
    self.width = width
    self.zoom = zoom ?? max(1, 64 / max(height, width))
  }

  /// A column; `losses` (one per image, or none) are written under the images.
  public mutating func add(_ label: String, _ images: [Double], losses: [Double] = []) { columns.append((label, images, losses)) }

  /// Characters per line of a column name: the image's width, at least 8.
  var charactersPerLine: Int { max(8, (width * zoom) / (4 * Self.scale)) }

  /// `text` in lines of at most `perLine` characters, broken after '/', '-', '_' or ' ' where one falls in the line,
  /// else at the limit; beyond `maxLines` lines the last kept line ends in '..'.
  static func wrap(_ text: String, perLine: Int, maxLines: Int) -> [String] {
    var lines: [String] = [], rest = Substring(text)
    while !rest.isEmpty {
      if rest.count <= perLine { lines.append(String(rest)); break }
      let window = rest.prefix(perLine)
      let cut = window.lastIndex(where: { "/-_ ".contains($0) }).map { rest.index(after: $0) } ?? window.endIndex
      lines.append(String(rest[..<cut]).trimmingCharacters(in: .whitespaces))
      rest = rest[cut...].drop(while: { $0 == " " })
    }
    guard lines.count > maxLines else { return lines }
    var kept = Array(lines.prefix(maxLines))
    kept[maxLines - 1] = String(kept[maxLines - 1].prefix(perLine - 2)) + ".."
    return kept
  }

  /// A loss as the font can write it: 4 significant digits, exponent as E.
  static func lossText(_ x: Double) -> String { String(format: "%.4g", x).uppercased() }

  public func pixels() throws -> PNGPixels {
    let (pad, scale) = (Self.pad, Self.scale)
    let d = channels * height * width
    let rows = columns.map { $0.images.count / d }.max() ?? 0
    let perLine = charactersPerLine
    let labels = columns.map { Self.wrap($0.label, perLine: perLine, maxLines: maxLabelLines) }
    let labelHeight = (labels.map(\.count).max() ?? 1) * Self.lineHeight + pad
    let lossHeight = columns.contains { !$0.losses.isEmpty } ? Self.lineHeight : 0
    let margin = rowLabels.isEmpty ? 0 : (rowLabels.map { Self.textWidth($0) }.max() ?? 0) * scale + 2 * pad
    let lossWidth = columns.flatMap { $0.losses.map { Self.textWidth(Self.lossText($0)) * scale } }.max() ?? 0
    let cellW = max(width * zoom, perLine * 4 * scale, lossWidth) + pad
    let cellH = height * zoom + lossHeight + pad
    let (gw, gh) = (max(1, margin + columns.count * cellW + pad), labelHeight + max(1, rows) * cellH + pad)
    var bytes = [UInt8](repeating: 255, count: gw * gh * channels)
    for (r, name) in rowLabels.enumerated() where r < rows {
      Self.draw(name, into: &bytes, width: gw, channels: channels, x: pad, y: labelHeight + r * cellH, scale: scale)
    }
    for (j, column) in columns.enumerated() {
      let x0 = margin + pad + j * cellW
      for (l, line) in labels[j].enumerated() {
        Self.draw(line, into: &bytes, width: gw, channels: channels, x: x0, y: pad + l * Self.lineHeight, scale: scale)
      }
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
        if r < column.losses.count {
          Self.draw(Self.lossText(column.losses[r]), into: &bytes, width: gw, channels: channels, x: x0, y: y0 + height * zoom + 1, scale: scale)
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
    "?": ["##.", "..#", ".#.", "...", ".#."], "+": ["...", ".#.", "###", ".#.", "..."], "#": ["#.#", "###", "#.#", "###", "#.#"],
    ":": ["...", ".#.", "...", ".#.", "..."],
  ]
}
