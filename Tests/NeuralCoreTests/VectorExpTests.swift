import DiffusionCore
import Foundation
import XCTest

@testable import NeuralCore

/// The vectorized float exponential against Double's exp rounded to Float.
final class VectorExpTests: XCTestCase {
  /// At most 2 ulp relative on [-87, 88] (Cephes states ~1 ulp), and the tail of a buffer gets the same values as
  /// a full vector.
  func testExponentialIsWithinTwoUlpOfExp() {
    var rng = SeededGenerator(seed: 21)
    var worst: Float = 0
    for _ in 0..<4096 {
      var v = SIMD16<Float>()
      for k in 0..<16 { v[k] = Float.random(in: -87...88, using: &rng) }
      let e = exponential16(v)
      for k in 0..<16 {
        let exact = Float(exp(Double(v[k])))
        worst = max(worst, abs(e[k] - exact) / exact)
      }
    }
    XCTAssertLessThan(worst, 2 * Float.ulpOfOne)
    let xs: [Float] = (0..<37).map { Float($0) * 0.37 - 6 }
    var buffer = xs
    buffer.withUnsafeMutableBufferPointer { exponentialsInPlace($0.baseAddress!, count: $0.count) }
    for (x, e) in zip(xs, buffer) { XCTAssertEqual(e, exponential16(SIMD16(repeating: x))[0], "x = \(x)") }
  }

  /// Exact at 0, finite and ordered at the clamps (no infinity, no NaN): softmax and SiLU stay finite.
  func testClampsAndZero() {
    let e = exponential16(SIMD16<Float>(0, 1, -1, 200, -200, 88.37, -87.3, 1e30, -1e30, 0, 0, 0, 0, 0, 0, 0))
    XCTAssertEqual(e[0], 1)
    XCTAssertEqual(e[1], Float(M_E), accuracy: 2 * Float(M_E).ulp)
    XCTAssertTrue((0..<16).allSatisfy { e[$0].isFinite && e[$0] >= 0 })
    XCTAssertGreaterThan(e[3], 1e38)
    XCTAssertLessThan(e[4], 1e-37)
    XCTAssertEqual(e[7], e[3])
    XCTAssertEqual(e[8], e[4])
  }
}
