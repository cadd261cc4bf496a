import CBLAS
import DiffusionCore
import Foundation
import Integrators
import Reports
@testable import ToyModels
import XCTest

@testable import Convergence

/// The toy results do not depend on OpenBLAS's thread count (ToyModels' SerialBLAS): a study run with 1 and with 2
/// threads writes the same CSV cell for cell (wall times aside), and a larger full-covariance model (d = 128: past
/// the sizes where threaded dgemv and dsyevd split their sums) gives the same bits.
final class ThreadCountTests: XCTestCase {
  /// `body` with OpenBLAS on `threads` threads; the previous count is restored.
  func withBLASThreads<T>(_ threads: Int32, _ body: () throws -> T) rethrows -> T {
    let previous = openblas_get_num_threads()
    openblas_set_num_threads(threads)
    defer { openblas_set_num_threads(previous) }
    XCTAssertEqual(openblas_get_num_threads(), threads)
    return try body()
  }

  /// The study's CSV rows with the wall-time column masked.
  func rows(_ result: StudyResult<GaussianMixture>) throws -> [[String]] {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("threads-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let csv = try XCTUnwrap(try result.write(to: dir).first { $0.lastPathComponent == "\(result.study.name).csv" })
    var rows = try CSVTable.parse(try String(contentsOf: csv, encoding: .utf8))
    let wall = try XCTUnwrap(rows[0].firstIndex(of: "wall_time_s"))
    for i in rows.indices.dropFirst() { rows[i][wall] = "<wall>" }
    return rows
  }

  func testFullCovarianceStudyIsTheSameOnOneAndTwoThreads() throws {
    // Random full-covariance variants: their QR and eigendecompositions are where 2 threads changed digits.
    let base = try TheoremOneTests.fullCovariance()
    let study = try ConvergenceStudy(name: "threads", kind: .ode, problem: base, variant: { try base.randomVariant(seed: $0) },
                                     solvers: ["adjointdeis-1/exact", "adjointdeis-2m/recorded"].map { try MethodSpec($0) },
                                     steps: [5, 10, 20], seeds: 3)
    let one = try withBLASThreads(1) { try rows(try study.run()) }
    let two = try withBLASThreads(2) { try rows(try study.run()) }
    XCTAssertEqual(one.count, 1 + 2 * 3 * 3)
    XCTAssertEqual(one.count, two.count)
    for (a, b) in zip(one, two) { XCTAssertEqual(a, b) }
  }

  func testLargeFullCovarianceModelIsTheSameOnOneAndTwoThreads() throws {
    let d = 128
    func evaluate() throws -> (eigen: [Double], eps: [Double], gradients: [[Double]]) {
      let model = try GaussianMixture.random(d: d, K: 2, m: 1, covariance: .full, schedule: .vpCosine, seed: 7)
      var rng = SeededGenerator(seed: 11)
      var gradients: [[Double]] = []
      var eps: [Double] = []
      for batch in [1, 3] {  // 1 sample: dgemv per row; 3 samples with cotangents: 6 rows, dgemm
        let x = rng.normals(batch * d), z = rng.normals(batch), v = rng.normals(batch * d)
        eps += try model.eps(x, z: z, t: 0.4, batch: batch)
        let vjp = try model.vjp(x, z: z, t: 0.4, batch: batch, cotangent: v, wantParameters: true)
        gradients += [vjp.eps, vjp.x, vjp.z, vjp.theta]
      }
      return (model.eigenvalues, eps, gradients)
    }
    let one = try withBLASThreads(1) { try evaluate() }
    let two = try withBLASThreads(2) { try evaluate() }
    XCTAssertEqual(one.eigen, two.eigen)
    XCTAssertEqual(one.eps, two.eps)
    XCTAssertEqual(one.gradients, two.gradients)
  }
}
