import CBLAS
import DiffusionCore
import XCTest

@testable import NeuralCore

/// A batch run as slices on several threads (`BatchParallel`) against the same batch run whole on one thread:
/// eps, the input, z and parameter VJPs agree to rounding (a slice of fewer images may take another convolution
/// algorithm, so the values are not bitwise equal), and the thread settings are restored.
final class BatchParallelTests: XCTestCase {
  private func withThreads<T>(_ n: Int, _ body: () throws -> T) rethrows -> T {
    let saved = ParallelRanges.threads
    setBLASThreads(n)
    defer { setBLASThreads(saved) }
    return try body()
  }

  func testSlicesPartitionTheBatch() {
    withThreads(3) {
      XCTAssertNil(BatchParallel.slices(batch: 2), "fewer images than threads: run whole")
      XCTAssertEqual(BatchParallel.slices(batch: 7), [0..<2, 2..<4, 4..<7])
    }
    withThreads(1) { XCTAssertNil(BatchParallel.slices(batch: 8)) }
    let s = BatchSlice(2..<5, batch: 7, x: 7 * 4, z: 7 * 3, timesteps: 7, cotangent: 7 * 4)
    XCTAssertEqual([s.count, s.x.lowerBound, s.x.upperBound, s.z.lowerBound, s.z.upperBound], [3, 8, 20, 6, 15])
    XCTAssertEqual(s.t, 2..<5)
    XCTAssertEqual(BatchSlice(2..<5, batch: 7, x: 28, z: 0, timesteps: 1).t, 0..<1, "one timestep for all images")
  }

  /// Float64, tiny layout (attention, identity class embedding), batch 5 on 2 threads (slices of 2 and 3) against
  /// batch 5 on 1 thread, per-image timesteps: 1e-12 relative.
  func testSlicedBatchEqualsWholeBatchInFloat64() throws {
    let model = try UNet2DModel<Double>(config: .tiny, seed: 3)
    let b = 5, d = 64, m = model.config.conditionDimension
    var rng = SeededGenerator(seed: 8)
    let x = FiniteDifferences.random(b * d, &rng), z = FiniteDifferences.random(b * m, &rng), v = FiniteDifferences.random(b * d, &rng)
    let t = [10.0, 200, 500, 800, 999]
    func both() throws -> ([Double], UNetVJP<Double>) {
      (try model.forward(x, batch: b, height: 8, width: 8, timesteps: t, z: z),
       try model.vjp(x, batch: b, height: 8, width: 8, timesteps: t, z: z, cotangent: v))
    }
    let (wholeEps, wholeVJP) = try withThreads(1) { try both() }
    let (slicedEps, slicedVJP) = try withThreads(2) {
      XCTAssertEqual(BatchParallel.slices(batch: b)?.count, 2)
      return try both()
    }
    for (name, a, w) in [("eps", slicedEps, wholeEps), ("vjp eps", slicedVJP.eps, wholeEps), ("x", slicedVJP.x, wholeVJP.x),
                         ("z", slicedVJP.z, wholeVJP.z), ("theta", slicedVJP.parameters, wholeVJP.parameters)] {
      XCTAssertEqual(a.count, w.count, name)
      XCTAssertFalse(a.isEmpty, name)
      let worst = zip(a, w).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
      XCTAssertLessThan(worst, 1e-12, name)
    }
  }

  /// Float32, batch 4 on 2 threads against 1 thread, one timestep for all: 1e-5 relative (float32 rounding), and
  /// OpenBLAS's and the elementwise passes' thread counts are what they were before the call.
  func testSlicedBatchInFloat32AndTheThreadSettingsAreRestored() throws {
    let model = try UNet2DModel<Float>(config: .tiny, seed: 4)
    let b = 4, d = 64, m = model.config.conditionDimension
    var rng = SeededGenerator(seed: 9)
    let x = FiniteDifferences.random(b * d, &rng).map(Float.init), z = FiniteDifferences.random(b * m, &rng).map(Float.init)
    let v = FiniteDifferences.random(b * d, &rng).map(Float.init)
    let whole = try withThreads(1) { try model.vjp(x, batch: b, height: 8, width: 8, timesteps: [300], z: z, cotangent: v) }
    try withThreads(2) {
      let sliced = try model.vjp(x, batch: b, height: 8, width: 8, timesteps: [300], z: z, cotangent: v)
      XCTAssertEqual(ParallelRanges.threads, 2)
      XCTAssertEqual(openblas_get_num_threads(), 2)
      for (name, a, w) in [("eps", sliced.eps, whole.eps), ("x", sliced.x, whole.x), ("theta", sliced.parameters, whole.parameters)] {
        let worst = zip(a, w).map { Double(abs($0 - $1)) / max(1, Double(abs($1))) }.max() ?? 0
        XCTAssertLessThan(worst, 1e-5, name)
      }
    }
  }
}
