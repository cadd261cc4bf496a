import DiffusionCore
import Foundation
import Integrators

/// One run of a study: one seed, Brownian path, solver and M.
public struct StudyRun: Sendable, Equatable {
  public var seed: Int
  public var path: Int
  public var solver: String
  public var steps: Int
}

extension ConvergenceStudy {
  /// Every run in the order `run()` performs them (seed, then path, then solver, then M): the list a shard cuts.
  public var runList: [StudyRun] {
    var out: [StudyRun] = []
    for seed in 0..<seeds {
      for path in 0..<paths {
        for spec in solvers {
          for m in steps { out.append(StudyRun(seed: seed, path: path, solver: spec.text, steps: m)) }
        }
      }
    }
    return out
  }

  /// The runs of one shard: a contiguous block of `runList`, weighted by M (a run's cost grows with its steps).
  public func runIndices(_ shard: Shard) -> Range<Int> {
    shard.range(weights: runList.map { Double($0.steps) })
  }

  /// Runs one shard's part of the study: the reference of every (seed, path) it touches, then its runs. The result
  /// holds only those records and references; `StudyResult.merged` puts the shards back together.
  public func run(shard: Shard, progress: (String) -> Void = { _ in }) throws -> StudyResult<Model> {
    try run(indices: runIndices(shard), label: "shard \(shard)", progress: progress)
  }

  /// Runs the runs `indices` of `runList` (with the references they need).
  public func run(indices: Range<Int>, label: String, progress: (String) -> Void = { _ in }) throws -> StudyResult<Model> {
    try validate()
    let all = runList
    guard indices.lowerBound >= 0, indices.upperBound <= all.count else {  // invariant: callers cut runList
      throw InvalidInput("shard", "runs \(indices) outside the study's \(all.count)")
    }
    var records: [RunRecord] = []
    var references: [ReferenceInfo] = []
    var current: (seed: Int, path: Int, problem: StudyProblem<Model>, reference: GradientResult, noise: NoiseSource)? = nil
    for k in indices {
      let run = all[k]
      if current == nil || current!.seed != run.seed || current!.path != run.path {
        let p = try problem(seed: run.seed)
        let started = Date()
        let (reference, noise, description) = try referenceGradient(p, seed: run.seed, path: run.path)
        references.append(ReferenceInfo(seed: run.seed, path: run.path, description: description, seconds: Date().timeIntervalSince(started),
                                        evaluations: reference.sampling + reference.adjoint))
        current = (run.seed, run.path, p, reference, noise)
      }
      guard let c = current, let spec = solvers.first(where: { $0.text == run.solver }) else { continue }  // invariant: set above; names from solvers
      progress("\(name) \(label): seed \(run.seed)\(kind == .sde ? " path \(run.path)" : "") \(spec.text) M=\(run.steps)")
      var record = runOne(spec, steps: run.steps, problem: c.problem, seed: run.seed, noise: c.noise, reference: c.reference)
      record.path = run.path
      records.append(record)
    }
    return StudyResult(study: self, records: records, references: references)
  }
}
