import DiffusionCore
import Morphing
import NeuralCore
import XCTest

/// The morph loss and its gradient through a CNN recognizer, against central finite differences in Float64.
final class MorphLossTests: XCTestCase {
  func testGradientMatchesFiniteDifferences() throws {
    let recognizer = try Recognizer(config: RecognizerConfig(imageSize: 8, width: 3, embeddingDimension: 6, classes: 3, seed: 4))
    var rng = SeededGenerator(seed: 9)
    let pairs = 2, d = 64
    let loss = try MorphLoss(recognizer: recognizer, xA: rng.normals(pairs * d), xB: rng.normals(pairs * d), pairs: pairs)
    let x0 = rng.normals(pairs * d)
    let g = loss.gradient(x0)
    XCTAssertEqual(g.count, pairs * d)
    let h = 1e-5
    var worst = 0.0
    for i in stride(from: 0, to: pairs * d, by: 5) {
      var xp = x0, xm = x0
      xp[i] += h
      xm[i] -= h
      let fd = (loss.value(xp) - loss.value(xm)) / (2 * h)
      worst = max(worst, abs(fd - g[i]) / max(1e-3, abs(fd)))
    }
    // Central differences with h = 1e-5 on a smooth function: truncation ~1e-10, round-off ~1e-11 / 1e-5.
    XCTAssertLessThan(worst, 1e-6)
  }

  func testLossIsZeroOnlyForAPerfectMorphAndSeparatesPairs() throws {
    let recognizer = try Recognizer(config: RecognizerConfig(imageSize: 8, width: 3, embeddingDimension: 6, classes: 3, seed: 4))
    var rng = SeededGenerator(seed: 10)
    let a = rng.normals(64), b = rng.normals(64)
    let loss = try MorphLoss(recognizer: recognizer, xA: a + b, xB: a + b, pairs: 2)
    // x_a = x_b: the morph x_0 = x_a has d_a = d_b = 0, so L = 0 for both pairs.
    XCTAssertEqual(try loss.perPair(a + b).max()!, 0, accuracy: 1e-12)
    // The loss is d_a + d_b + |d_a - d_b| = 2 max(d_a, d_b) and lies in [0, 4].
    let values = try loss.perPair(b + a)
    for v in values { XCTAssertGreaterThan(v, 0); XCTAssertLessThanOrEqual(v, 4) }
  }

  func testBadInputThrows() throws {
    let recognizer = try Recognizer(config: RecognizerConfig(imageSize: 8, width: 2, embeddingDimension: 4, classes: 2, seed: 1))
    XCTAssertThrowsInvalid(try MorphLoss(recognizer: recognizer, xA: [Double](repeating: 0, count: 63), xB: [Double](repeating: 0, count: 64), pairs: 1), field: "x_a")
    XCTAssertThrowsInvalid(try MorphLoss(recognizer: recognizer, xA: [], xB: [], pairs: 0), field: "pairs")
    XCTAssertThrowsInvalid(try MorphLoss(recognizer: recognizer, xA: [Double](repeating: .nan, count: 64), xB: [Double](repeating: 0, count: 64), pairs: 1), field: "x")
  }
}
