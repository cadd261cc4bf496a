import DiffusionCore
import XCTest

@testable import NeuralCore

/// The fused GroupNorm + SiLU passes give bitwise the values of the separate layers (forward, dx, and the scale and
/// shift gradients), in both precisions, on one and two threads.
final class GroupNormSiLUTests: XCTestCase {
  private func check<S: BLASScalar>(_: S.Type, threads: Int) {
    let saved = ParallelRanges.threads
    ParallelRanges.threads = threads
    defer { ParallelRanges.threads = saved }
    var layout = ParameterLayout()
    let norm = GroupNorm(&layout, "n", groups: 4, channels: 16, eps: 1e-5)
    var rng = SeededGenerator(seed: 11)
    let theta = (0..<layout.total).map { _ in S(1 + 0.3 * rng.normal()) }
    let (b, h, w) = (3, 9, 7)
    let x = Activation<S>(channels: 16, batch: b, height: h, width: w, data: (0..<16 * b * h * w).map { _ in S(2 * rng.normal() + 0.5) })
    let da = Activation<S>(channels: 16, batch: b, height: h, width: w, data: (0..<16 * b * h * w).map { _ in S(rng.normal()) })
    theta.withUnsafeBufferPointer { tp in
      let p = tp.baseAddress!
      let (n, stats) = norm.forward(x, p)
      let (a, fusedStats) = norm.forwardSiLU(x, p)
      XCTAssertEqual(a.data, SiLU.forward(n).data, "forward \(S.self) \(threads) threads")
      XCTAssertEqual(fusedStats.values, stats.values)
      var g1 = [S](repeating: 0.25, count: theta.count), g2 = g1
      let dx1 = g1.withUnsafeMutableBufferPointer { norm.backward(SiLU.backward(da, input: n), input: x, stats, p, $0.baseAddress!) }
      let dx2 = g2.withUnsafeMutableBufferPointer { norm.backwardSiLU(da, input: x, stats, p, $0.baseAddress!) }
      XCTAssertEqual(dx2.data, dx1.data, "dx \(S.self) \(threads) threads")
      XCTAssertEqual(g2, g1, "dtheta \(S.self) \(threads) threads")
      XCTAssertEqual(norm.backwardSiLU(da, input: x, stats, p, nil).data, dx1.data)
    }
  }

  func testFusedEqualsSeparateBitwise() {
    for threads in [1, 2] {
      check(Double.self, threads: threads)
      check(Float.self, threads: threads)
    }
  }
}
