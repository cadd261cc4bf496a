import DiffusionCore
import Foundation
import TestSupport
import XCTest

@testable import Morphing

#if canImport(Glibc)
  import Glibc
#endif

/// Inputs bounded before they cost anything: a PNG's header is checked against the model's size and the budget before
/// its pixel data is inflated; a FIFO given as target or mask is refused at once; the per-image copies of a
/// covariance basis are budgeted.
final class BoundedInputTests: XCTestCase {
  var dir: URL!

  override func setUpWithError() throws {
    dir = FileManager.default.temporaryDirectory.appendingPathComponent("bounded-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

  /// A PNG of a header and an empty IDAT: what a 65-byte file can declare.
  func headerOnly(width: UInt32, height: UInt32, depth: UInt8, color: UInt8, interlace: UInt8 = 0) throws -> Data {
    var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    png += PNGImage.chunk("IHDR", PNGImage.bigEndian(width) + PNGImage.bigEndian(height) + [depth, color, 0, 0, interlace])
    png += PNGImage.chunk("IDAT", try PNGPixels.deflate([]))
    png += PNGImage.chunk("IEND", [])
    return Data(png)
  }

  func reason<T>(_ body: () throws -> T) -> String { invalidInputReason(body) }

  func testAHeaderOfAnotherSizeIsRefusedBeforeDecoding() throws {
    // 16384 x 16384 RGBA16 would inflate to 2 GB of rows; the header alone refuses it.
    let huge = try headerOnly(width: 16384, height: 16384, depth: 16, color: 6)
    XCTAssertLessThan(huge.count, 80)
    XCTAssertEqual(reason { try PNGPixels.decode(huge, width: 8, height: 8) },
                   "IHDR: the image is 16384 x 16384 pixels, the model's images are 8 x 8")
    let file = dir.appendingPathComponent("huge.png")
    try huge.write(to: file)
    XCTAssertEqual(reason { try ModelImage.read(file, channels: 3, height: 8, width: 8) },
                   "\(file.path): IHDR: the image is 16384 x 16384 pixels, the model's images are 8 x 8")
    XCTAssertEqual(reason { try PipelineInputs.readMask(file, batch: 1, shape: [3, 8, 8]) },
                   "\(file.path): IHDR: the image is 16384 x 16384 pixels, the model's images are 8 x 8")
  }

  func testHeaderFieldsAreCheckedBeforeThePixelData() throws {
    XCTAssertEqual(reason { try PNGPixels.decode(try self.headerOnly(width: 8, height: 8, depth: 3, color: 2)) },
                   "IHDR: invalid color type 2 with bit depth 3")
    XCTAssertEqual(reason { try PNGPixels.decode(try self.headerOnly(width: 0, height: 8, depth: 8, color: 2)) },
                   "IHDR: image size 0 x 8 outside 1...16384")
    XCTAssertEqual(reason { try PNGPixels.decode(try self.headerOnly(width: 8, height: 8, depth: 8, color: 2, interlace: 1)) },
                   "IHDR: Adam7-interlaced PNGs are not supported (save without interlacing)")
    // a chunk before IHDR: refused without reading on
    var first: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    first += PNGImage.chunk("IDAT", try PNGPixels.deflate([0]))
    XCTAssertEqual(reason { try PNGPixels.decode(Data(first)) }, "IHDR: missing (the first chunk is IDAT)")
    // the right size still decodes
    let png = try PNGPixels(channels: 3, height: 8, width: 8, bytes: (0..<192).map { UInt8($0) })
    XCTAssertEqual(try PNGPixels.decode(try png.pngData(), width: 8, height: 8), png)
  }

  func testAFIFOAsTargetOrMaskIsRefusedAtOnce() throws {
    let fifo = dir.appendingPathComponent("fifo")
    guard mkfifo(fifo.path, 0o600) == 0 else { throw XCTSkip("mkfifo failed: errno \(errno)") }
    let expected = "\(fifo.path): is a FIFO (named pipe), expected a regular file"
    XCTAssertEqual(reason { try PipelineInputs.readTarget(fifo, batch: 1, shape: [3, 8, 8]) }, expected)
    XCTAssertEqual(reason { try PipelineInputs.readMask(fifo, batch: 1, shape: [3, 8, 8]) }, expected)
  }

  func testPerImageCopiesOfACovarianceBasisAreBudgeted() throws {
    let d = 64
    let basis = (0..<(d * d)).map { $0 / d == $0 % d ? 1.0 : 0.0 }
    let one = try DataStatistics(mean: [Double](repeating: 0, count: d), eigenvalues: [Double](repeating: 1, count: d),
                                 eigenvectors: basis, field: "statistics")
    // 100 copies of 64 x 64 doubles: 3.3 MB, refused on a 1 MB machine (usable 0.8 MB), taken on a 1 GB one
    let parts = [DataStatistics](repeating: one, count: 100)
    let text = reason { try DataStatistics.blockDiagonal(parts, available: 1 << 20) }
    XCTAssertTrue(text.hasPrefix("statistics: the covariance basis (64 x 64) copied for each of 100 images needs about 3.3 MB"), text)
    XCTAssertEqual(try DataStatistics.blockDiagonal(parts, available: 1 << 30).eigenvectors.count, 100 * d * d)
  }
}
