import Reports
import DiffusionCore
import Foundation
import Integrators
import ToyModels
import XCTest

@testable import Convergence

/// A study run in shards and merged writes what the unsharded run writes: the same CSV cell for cell (except the
/// wall times), the same plots byte for byte and the same summary (except the reference's wall time).
final class ShardedStudyTests: XCTestCase {
  func odeStudy() throws -> ConvergenceStudy<GaussianMixture> {
    let base = try TheoremOneTests.diagonal()
    return try ConvergenceStudy(name: "sharded-ode", kind: .ode, problem: base, variant: { try base.randomVariant(seed: $0) },
                                solvers: ["adjointdeis-1/exact", "adjointdeis-2m/recorded", "dto/dpm-solver-2m"].map { try MethodSpec($0) },
                                steps: [5, 10, 20, 40], seeds: 2)
  }

  func sdeStudy() throws -> ConvergenceStudy<GaussianMixture> {
    var study = try ConvergenceStudy(name: "sharded-sde", kind: .sde, problem: try TheoremOneTests.diagonal(),
                                     solvers: [MethodSpec("adjointdeis-1/recorded")], steps: [5, 10, 20])
    study.fineFactor = 4
    study.paths = 3
    return study
  }

  /// Everything the unsharded command writes, as text by file name, with the wall times masked.
  func outputs(_ result: StudyResult<GaussianMixture>) throws -> [String: String] {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sharded-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    var out: [String: String] = [:]
    for url in try result.write(to: dir) { out[url.lastPathComponent] = try String(contentsOf: url, encoding: .utf8) }
    let csv = try XCTUnwrap(out["\(result.study.name).csv"])
    var rows = try CSVTable.parse(csv)
    let wall = try XCTUnwrap(rows[0].firstIndex(of: "wall_time_s"))
    for i in rows.indices.dropFirst() { rows[i][wall] = "<wall>" }
    out["\(result.study.name).csv"] = rows.map { $0.joined(separator: ",") }.joined(separator: "\n")
    out["summary.md"] = try result.summaryMarkdown()
      .replacingOccurrences(of: #"slowest of (\d+): [^ ]+ s"#, with: "slowest of $1: <wall> s", options: .regularExpression)
    return out
  }

  func shardedResult(_ study: ConvergenceStudy<GaussianMixture>, shards n: Int) throws -> StudyResult<GaussianMixture> {
    var parts: [(name: String, runs: Data, references: Data)] = []
    for i in 0..<n {
      let shard = try Shard(index: i, count: n)
      let partial = try study.run(shard: shard)
      let files = Dictionary(uniqueKeysWithValues: try partial.shardFiles(indices: study.runIndices(shard)).map { ($0.name, $0.data) })
      parts.append((shard.name, try XCTUnwrap(files["runs.csv"]), try XCTUnwrap(files["references.csv"])))
    }
    return try StudyResult.merged(study: study, shards: parts.reversed())  // any order of shards
  }

  func testMergedODEStudyEqualsUnsharded() throws {
    let study = try odeStudy()
    let expected = try outputs(try study.run())
    XCTAssertEqual(expected.count, 7)
    for n in [1, 3, 4, 30] {  // 30 > 24 runs: some shards are empty
      let merged = try outputs(try shardedResult(study, shards: n))
      XCTAssertEqual(merged.keys.sorted(), expected.keys.sorted())
      for (name, text) in expected { XCTAssertEqual(merged[name], text, "\(n) shards: \(name) differs") }
    }
  }

  /// Grids from pure noise (flow matching at T = 1) record h_max = inf; their shards merge like any other.
  func testMergedStudyFromPureNoiseEqualsUnsharded() throws {
    let base = try TheoremOneTests.diagonal().problem
    let problem = StudyProblem(try ToyProblem(model: base.model.replacingSchedule(.flowMatching), T: 1, tEps: 1e-3, xT: base.xT,
                                              z: base.z, loss: base.loss))
    var study = try ConvergenceStudy(name: "sharded-t1", kind: .ode, problem: problem,
                                     solvers: ["adjointdeis-1/exact/data", "dto/dpm-solver-2m"].map { try MethodSpec($0) }, steps: [5, 10, 20])
    study.grid = .timeUniform
    let expected = try outputs(try study.run())
    let merged = try outputs(try shardedResult(study, shards: 2))
    for (name, text) in expected { XCTAssertEqual(merged[name], text, "\(name) differs") }
  }

  func testMergedSDEStudyEqualsUnsharded() throws {
    let study = try sdeStudy()
    let expected = try outputs(try study.run())
    let merged = try outputs(try shardedResult(study, shards: 4))
    for (name, text) in expected { XCTAssertEqual(merged[name], text, "\(name) differs") }
  }

  func testMergeRefusesMissingRepeatedAndForeignRuns() throws {
    let study = try odeStudy()
    func part(_ i: Int, _ n: Int, of s: ConvergenceStudy<GaussianMixture>) throws -> (name: String, runs: Data, references: Data) {
      let shard = try Shard(index: i, count: n)
      let files = Dictionary(uniqueKeysWithValues: try s.run(shard: shard).shardFiles(indices: s.runIndices(shard)).map { ($0.name, $0.data) })
      return (shard.name, files["runs.csv"]!, files["references.csv"]!)
    }
    let parts = try (0..<3).map { try part($0, 3, of: study) }
    XCTAssertThrowsError(try StudyResult.merged(study: study, shards: [parts[0], parts[2]])) { XCTAssertTrue("\($0)".contains("runs missing"), "\($0)") }
    XCTAssertThrowsError(try StudyResult.merged(study: study, shards: parts + [parts[1]])) { XCTAssertTrue("\($0)".contains("also written by shard 1-of-3"), "\($0)") }
    var other = study
    other.steps = [5, 10, 20, 80]
    let foreign = try part(2, 3, of: other)
    XCTAssertThrowsError(try StudyResult.merged(study: study, shards: [parts[0], parts[1], foreign])) { XCTAssertTrue("\($0)".contains("is not seed"), "\($0)") }
    let cut = (name: "2-of-3", runs: parts[2].runs.prefix(parts[2].runs.count / 2), references: parts[2].references)
    XCTAssertThrowsError(try StudyResult.merged(study: study, shards: [parts[0], parts[1], cut]))
  }

  /// The toy-versus-network comparison in shards (a second mixture stands in for the network: cheap, same code path),
  /// with the reference comparison: merged outputs equal the unsharded ones except the wall-time line.
  func testMergedNetworkComparisonEqualsUnsharded() throws {
    let data = try ImageMixtureConfig(K: 2, seed: 1, std: 0.3, condition: false, size: 4)
    let mixture = try ImageMixture.build(data)
    let other = try ImageMixture.build(try ImageMixtureConfig(K: 2, seed: 2, std: 0.35, condition: false, size: 4))
    var rng = SeededGenerator(seed: 4)
    let comparison = try NetworkComparison(
      name: "sharded-net", mixture: mixture, network: other, T: 0.8, tEps: 0.05, xT: rng.normals(16), z: [],
      loss: SquaredDistanceLoss(target: mixture.means[0]), solvers: [MethodSpec("adjointdeis-1/exact"), MethodSpec("adjointdeis-2m/recorded")],
      steps: [5, 10, 20], referenceTolerance: 1e-8, networkLabel: "other-mixture", networkDescription: "a second mixture")
    func texts(_ r: NetworkComparisonResult<GaussianMixture>) throws -> [String: String] {
      let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sharded-net-\(UUID().uuidString)", isDirectory: true)
      try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
      defer { try? FileManager.default.removeItem(at: dir) }
      var out: [String: String] = [:]
      for url in try r.write(to: dir) {
        out[url.lastPathComponent] = try String(contentsOf: url, encoding: .utf8)
          .replacingOccurrences(of: #"Wall time of the solver runs:[^\n]*"#, with: "<wall>", options: .regularExpression)
          .replacingOccurrences(of: #"(?m)^((?:[^,\n]*,){12})[^,\n]*"#, with: "$1<wall>", options: .regularExpression)  // wall_time_s, column 13
      }
      return out
    }
    XCTAssertEqual(StudyResult<GaussianMixture>.csvColumns[12], "wall_time_s")
    let expected = try texts(try comparison.run())
    XCTAssertFalse(try comparison.run().gradientDistance.isEmpty)
    for n in [2, 5] {
      var parts: [(name: String, files: [String: Data])] = []
      for i in 0..<n {
        let shard = try Shard(index: i, count: n)
        let files = try comparison.shardFiles(try comparison.run(shard: shard), shard: shard)
        parts.append((shard.name, Dictionary(uniqueKeysWithValues: files.map { ($0.name, $0.data) })))
      }
      XCTAssertEqual(parts.filter { $0.files["reference-comparison.csv"] != nil }.count, 1)
      let merged = try texts(try comparison.merged(shards: parts))
      XCTAssertEqual(merged.keys.sorted(), expected.keys.sorted())
      for (name, text) in expected { XCTAssertEqual(merged[name], text, "\(n) shards: \(name) differs") }
    }
  }
}
