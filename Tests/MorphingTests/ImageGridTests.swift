import XCTest

@testable import Morphing

/// `guide`'s grid.png: long column names wrapped to the cell (not widening it), row names in a margin, each image's
/// loss under it.
final class ImageGridTests: XCTestCase {
  func testWrapBreaksAtSeparatorsWithinTheLimitAndAbbreviatesBeyondTheLines() {
    let name = "adjointdeis-2m/ode/recorded/angle best"
    let lines = ImageGrid.wrap(name, perLine: 8, maxLines: 10)
    XCTAssertEqual(lines, ["adjointd", "eis-2m/", "ode/", "recorded", "/angle", "best"])
    XCTAssertTrue(lines.allSatisfy { !$0.isEmpty && $0.count <= 8 }, "\(lines)")
    XCTAssertEqual(lines.joined(separator: ""), name.replacingOccurrences(of: " ", with: ""), "nothing lost: \(lines)")
    // no separator in the window: a hard break at the limit
    XCTAssertEqual(ImageGrid.wrap("abcdefghijkl", perLine: 5, maxLines: 5), ["abcde", "fghij", "kl"])
    // more lines than allowed: the last kept line is abbreviated with '..'
    let short = ImageGrid.wrap(name, perLine: 8, maxLines: 2)
    XCTAssertEqual(short.count, 2)
    XCTAssertTrue(short[1].hasSuffix("..") && short[1].count <= 8, "\(short)")
    XCTAssertEqual(ImageGrid.wrap("dto", perLine: 8, maxLines: 3), ["dto"])
  }

  func image(_ value: Double, count: Int) -> [Double] { [Double](repeating: value, count: count) }

  /// The ink (0 bytes) in a rectangle of the PNG.
  func ink(_ p: PNGPixels, x: Range<Int>, y: Range<Int>) -> Int {
    var n = 0
    for yy in y { for xx in x where p.bytes[(yy * p.width + xx) * p.channels] == 0 { n += 1 } }
    return n
  }

  func testLongNamesDoNotWidenTheGridAndLossesAndRowNamesAreDrawn() throws {
    // 1 channel 8 x 8 images zoomed to 64 px: 8 characters a line
    var short = ImageGrid(channels: 1, height: 8, width: 8)
    short.add("dto", image(0.9, count: 128))
    var long = ImageGrid(channels: 1, height: 8, width: 8)
    long.add("adjointdeis-2m/ode/recorded/angle best", image(0.9, count: 128))
    let (a, b) = (try short.pixels(), try long.pixels())
    XCTAssertEqual(a.width, b.width, "a long name wraps instead of widening its column")
    XCTAssertEqual(b.height - a.height, 2 * ImageGrid.lineHeight, "three label lines instead of one")

    // losses under the images and row names in a margin: ink where they are written, none without them
    var plain = ImageGrid(channels: 1, height: 8, width: 8)
    plain.add("start", image(0.9, count: 128))
    var labelled = ImageGrid(channels: 1, height: 8, width: 8)
    labelled.rowLabels = ["#0", "#1"]
    labelled.add("start", image(0.9, count: 128), losses: [0.5, 1.25e-7])
    let (p, q) = (try plain.pixels(), try labelled.pixels())
    let labelHeight = ImageGrid.lineHeight + ImageGrid.pad
    let margin = 2 * 4 * ImageGrid.scale + 2 * ImageGrid.pad
    XCTAssertEqual(q.width - p.width, margin)
    XCTAssertEqual(q.height - p.height, 2 * ImageGrid.lineHeight, "one loss line under each of the two rows")
    let cellH = 64 + ImageGrid.lineHeight + ImageGrid.pad
    for r in 0..<2 {
      let lossRow = (labelHeight + r * cellH + 64)..<(labelHeight + r * cellH + 64 + ImageGrid.lineHeight)
      XCTAssertGreaterThan(ink(q, x: margin..<q.width, y: lossRow), 20, "row \(r)'s loss")
      XCTAssertGreaterThan(ink(q, x: 0..<margin, y: (labelHeight + r * cellH)..<(labelHeight + r * cellH + 12)), 10, "row \(r)'s name")
    }
    XCTAssertEqual(ink(p, x: 0..<p.width, y: labelHeight..<p.height), 0, "no text under the images without losses")
    XCTAssertEqual(ImageGrid.lossText(1.25e-7), "1.25E-07")
    XCTAssertEqual(ImageGrid.lossText(1.25e7), "1.25E+07")
    XCTAssertNotNil(ImageGrid.glyphs["+"], "the exponent's sign has a glyph")
  }
}
