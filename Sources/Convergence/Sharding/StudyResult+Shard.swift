import Reports
import DiffusionCore
import Foundation
import Integrators

/// A shard's part of a convergence study as files, and the merge of all shards' files back into the result the
/// unsharded run produces: the same records in the same order and the same references, every number read back
/// exactly (the CSV writes Swift's shortest round-trip text).
extension StudyResult {
  public static var shardRunsFile: String { "runs.csv" }
  public static var shardReferencesFile: String { "references.csv" }
  static var referenceColumns: [String] { ["seed", "path", "description", "wall_time_s", "nfe_eps", "nfe_vjp"] }

  /// `runs.csv` (the study's CSV with the index of each run in `runList` in front) and `references.csv`.
  /// `indices` are the run indices of `records`, in order.
  public func shardFiles(indices: Range<Int>) throws -> [(name: String, data: Data)] {
    guard indices.count == records.count else {
      throw InvalidInput("shard", "\(records.count) records for \(indices.count) runs")
    }
    var runs = try CSVTable(columns: ["run_index"] + Self.csvColumns)
    for (k, row) in zip(indices, try csv.rows) { try runs.append([.integer(k)] + row) }
    var refs = try CSVTable(columns: Self.referenceColumns)
    for r in references {
      try refs.append([.integer(r.seed), .integer(r.path), .text(r.description), .real(r.seconds), .integer(r.evaluations.eps), .integer(r.evaluations.vjp)])
    }
    return [(Self.shardRunsFile, Data(runs.text.utf8)), (Self.shardReferencesFile, Data(refs.text.utf8))]
  }

  /// The whole study's result from every shard's files (`(shard name, runs.csv, references.csv)`, in shard order).
  /// Throws, naming the shard, when a run is missing, repeated, or not the run the study has at that index.
  public static func merged(study: ConvergenceStudy<Model>, shards: [(name: String, runs: Data, references: Data)]) throws -> StudyResult<Model> {
    let all = study.runList
    var slots = [RunRecord?](repeating: nil, count: all.count)
    var owner = [String?](repeating: nil, count: all.count)
    var references: [String: ReferenceInfo] = [:]
    for shard in shards {
      let rows = try table(shard.runs, columns: ["run_index"] + csvColumns, what: "\(shard.name)/\(shardRunsFile)")
      for (line, row) in rows.enumerated() {
        let field = Field(row: row, columns: ["run_index"] + csvColumns, what: "\(shard.name)/\(shardRunsFile) row \(line + 1)")
        let k = try field.integer("run_index")
        guard all.indices.contains(k) else { throw InvalidInput(field.what, "run_index \(k) is outside the study's \(all.count) runs") }
        if let other = owner[k] { throw InvalidInput(field.what, "run \(k) was also written by shard \(other)") }
        let record = try runRecord(field)
        let expected = all[k]
        guard record.seed == expected.seed, record.path == expected.path, record.solver == expected.solver, record.steps == expected.steps,
              try field.text("study") == study.name, try field.text("kind") == study.kind.rawValue else {
          throw InvalidInput(field.what, "run \(k) is not seed \(expected.seed), path \(expected.path), \(expected.solver), M = \(expected.steps) of study \(study.name)")
        }
        slots[k] = record
        owner[k] = shard.name
      }
      let refs = try table(shard.references, columns: referenceColumns, what: "\(shard.name)/\(shardReferencesFile)")
      for (line, row) in refs.enumerated() {
        let field = Field(row: row, columns: referenceColumns, what: "\(shard.name)/\(shardReferencesFile) row \(line + 1)")
        let seconds = try field.real("wall_time_s")
        guard seconds.isFinite, seconds >= 0 else { throw InvalidInput(field.what, "wall_time_s \(seconds) is not a non-negative number") }
        let info = ReferenceInfo(seed: try field.integer("seed"), path: try field.integer("path"), description: try field.text("description"),
                                 seconds: try field.real("wall_time_s"),
                                 evaluations: EvaluationCount(eps: try field.integer("nfe_eps"), vjp: try field.integer("nfe_vjp")))
        let key = "\(info.seed)/\(info.path)"
        if let earlier = references[key] {
          guard earlier.description == info.description, earlier.evaluations == info.evaluations else {
            throw InvalidInput(field.what, "the reference of seed \(info.seed), path \(info.path) differs from another shard's")
          }
        } else {
          references[key] = info
        }
      }
    }
    if let k = slots.firstIndex(where: { $0 == nil }) {
      let count = slots.filter { $0 == nil }.count
      throw InvalidInput("shards", "\(count) of \(all.count) runs missing (first: run \(k), seed \(all[k].seed), \(all[k].solver), M = \(all[k].steps))")
    }
    var ordered: [ReferenceInfo] = []
    for seed in 0..<study.seeds {
      for path in 0..<study.paths {
        guard let r = references["\(seed)/\(path)"] else { throw InvalidInput("shards", "no shard holds the reference of seed \(seed), path \(path)") }
        ordered.append(r)
      }
    }
    return StudyResult(study: study, records: slots.compactMap { $0 }, references: ordered)
  }

  static func table(_ data: Data, columns: [String], what: String) throws -> [[String]] {
    let records = try CSVTable.parse(String(decoding: data, as: UTF8.self))
    guard let header = records.first, header == columns else { throw InvalidInput(what, "the columns are not the expected ones") }
    for (i, r) in records.enumerated() where r.count != columns.count {
      throw InvalidInput(what, "row \(i) has \(r.count) fields, expected \(columns.count)")
    }
    return Array(records.dropFirst())
  }

  static func runRecord(_ f: Field) throws -> RunRecord {
    let ok: Bool
    switch try f.text("status") {
    case "ok": ok = true
    case "failed": ok = false
    case let other: throw InvalidInput(f.what, "status '\(other)' is neither ok nor failed")
    }
    var comparisons: [GradientQuantity: GradientComparison] = [:]
    if ok {
      for q in GradientQuantity.allCases {
        let c = GradientComparison(relativeError: try f.real("rel_err_\(q.rawValue)"), cosine: try f.real("cosine_\(q.rawValue)"),
                                   normRatio: try f.real("norm_ratio_\(q.rawValue)"))
        // values, not only hashes: a shard's CSV edited and re-hashed must still hold numbers a run can produce
        guard c.isAttainable else {
          throw InvalidInput(f.what, "\(q.rawValue): relative error \(c.relativeError), cosine \(c.cosine), norm ratio \(c.normRatio) are not values a comparison can have")
        }
        comparisons[q] = c
      }
    }
    let hMax = ok ? try f.real("h_max_lambda") : .nan
    // +inf is a grid from pure noise (lambda_T = -inf, docs/math.md#noise-end)
    guard !ok || (hMax > 0 && !hMax.isNaN) else { throw InvalidInput(f.what, "h_max_lambda \(hMax) is not a positive number") }
    for column in ["wall_time_s"] {
      let v = try f.real(column)
      guard v.isFinite, v >= 0 else { throw InvalidInput(f.what, "\(column) \(v) is not a non-negative number") }
    }
    for column in ["nfe_eps", "nfe_vjp", "gradient_nfe_eps", "gradient_nfe_vjp", "seed", "path", "M"] where try f.integer(column) < 0 {
      throw InvalidInput(f.what, "\(column) is negative")
    }
    var record = RunRecord(solver: try f.text("solver"), seed: try f.integer("seed"), steps: try f.integer("M"),
                           hMax: hMax,
                           evaluations: EvaluationCount(eps: try f.integer("nfe_eps"), vjp: try f.integer("nfe_vjp")),
                           gradientEvaluations: EvaluationCount(eps: try f.integer("gradient_nfe_eps"), vjp: try f.integer("gradient_nfe_vjp")),
                           seconds: try f.real("wall_time_s"), comparisons: comparisons, failure: ok ? nil : try f.text("failure_reason"))
    record.path = try f.integer("path")
    (record.storedStates, record.storedBytes) = (try f.optionalInteger("stored_states"), try f.optionalInteger("stored_bytes"))
    record.roundTripError = try f.optionalReal("round_trip_error")
    for q in GradientQuantity.allCases { record.discreteErrors[q] = try f.optionalReal("rel_err_discrete_\(q.rawValue)") }
    return record
  }

  /// Typed access to one parsed CSV row by column name.
  struct Field {
    let row: [String]
    let columns: [String]
    let what: String
    func text(_ name: String) throws -> String {
      guard let i = columns.firstIndex(of: name) else { throw InvalidInput(what, "no column \(name)") }
      return row[i]
    }
    func integer(_ name: String) throws -> Int {
      guard let v = Int(try text(name)) else { throw InvalidInput(what, "\(name) '\(try text(name))' is not an integer") }
      return v
    }
    /// An empty cell is nil (a column the method leaves missing).
    func optionalInteger(_ name: String) throws -> Int? { try text(name).isEmpty ? nil : try integer(name) }
    func optionalReal(_ name: String) throws -> Double? { try text(name).isEmpty ? nil : try real(name) }
    func real(_ name: String) throws -> Double {
      guard let v = Double(try text(name)) else { throw InvalidInput(what, "\(name) '\(try text(name))' is not a number") }
      return v
    }
  }
}
