import DiffusionCore
import Integrators
import Foundation
import Reports
import XCTest

@testable import Convergence

/// A merge checks the values in a shard's CSV, not only its hashes (which anyone editing the file can recompute): a
/// number no run can produce (a NaN error, a cosine past 1, a negative wall time) is refused naming the row.
final class ShardValueTests: XCTestCase {
  func testNonFiniteOrImpossibleValuesInAShardAreRefused() throws {
    let base = try TheoremOneTests.diagonal()
    let study = try ConvergenceStudy(name: "values", kind: .ode, problem: base, variant: { try base.randomVariant(seed: $0) },
                                     solvers: [try MethodSpec("adjointdeis-1/exact")], steps: [5, 10], seeds: 2)
    let shard = try Shard(index: 0, count: 1)
    let files = Dictionary(uniqueKeysWithValues: try study.run(shard: shard).shardFiles(indices: study.runIndices(shard)).map { ($0.name, $0.data) })
    let runs = try XCTUnwrap(files["runs.csv"]), references = try XCTUnwrap(files["references.csv"])
    XCTAssertNoThrow(try StudyResult.merged(study: study, shards: [("0-of-1", runs, references)]), "the untouched shard merges")

    func edited(_ data: Data, column: String, row: Int, to value: String) throws -> Data {
      var rows = try CSVTable.parse(String(decoding: data, as: UTF8.self))
      let i = try XCTUnwrap(rows[0].firstIndex(of: column))
      rows[row][i] = value
      return Data((rows.map { $0.joined(separator: ",") }.joined(separator: "\n") + "\n").utf8)
    }
    for (column, value) in [("rel_err_a_x", "nan"), ("rel_err_a_z", "inf"), ("cosine_a_theta", "1.5"), ("norm_ratio_a_x", "-1"),
                            ("cosine_a_x", "nan"), ("h_max_lambda", "nan"), ("wall_time_s", "-1"), ("nfe_vjp", "-4")] {
      let bad = try edited(runs, column: column, row: 2, to: value)
      XCTAssertThrowsError(try StudyResult.merged(study: study, shards: [("0-of-1", bad, references)]), "\(column) = \(value)") { error in
        XCTAssertTrue("\(error)".contains("runs.csv row 2"), "\(error)")
      }
    }
    let badReference = try edited(references, column: "wall_time_s", row: 1, to: "inf")
    XCTAssertThrowsError(try StudyResult.merged(study: study, shards: [("0-of-1", runs, badReference)]))
  }

  func testTheValuesAZeroReferenceOrGradientGivesAreAttainable() {
    XCTAssertTrue(GradientComparison([0, 0], reference: [0, 0]).isAttainable)
    XCTAssertTrue(GradientComparison([1, 0], reference: [0, 0]).isAttainable)  // error inf, cosine and ratio NaN
    XCTAssertTrue(GradientComparison([0, 0], reference: [1, 2]).isAttainable)  // cosine NaN, ratio 0
    XCTAssertTrue(GradientComparison([1, -2], reference: [-1, 2]).isAttainable)  // cosine -1
    XCTAssertFalse(GradientComparison.failed.isAttainable)
  }
}
