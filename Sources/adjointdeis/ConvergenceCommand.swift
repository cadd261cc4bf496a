import ArgumentParser
import Convergence
import DiffusionCore
import Integrators
import Foundation
import ToyModels

/// `adjointdeis convergence`: error against steps for every solver, fitted orders, CSV and SVG plots.
struct ConvergenceCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "convergence",
    abstract: "Measure the global order of the adjoint solvers on a toy problem; write CSV, SVG plots and summary.md.",
    discussion: """
      Writes DIR/NAME.csv, DIR/NAME-error-a_x.svg (and a_z, a_theta), DIR/NAME-cosine.svg, DIR/NAME-norm-ratio.svg,
      DIR/NAME-summary.md, and DIR/summary.md (every *-summary.md in DIR, in name order).
      Solvers are the gradient methods of `adjointdeis gradient --solver`, NAME[/QUALIFIER...] (e.g. adjointdeis-1/exact,
      adjointdeis-2m-phi2/exact, dto/dpm-solver-2m), run with N = M on a grid uniform in lambda; in an ODE study
      AdjointDEIS-k runs on DPM-Solver-k's states unless a sampler is named, in an SDE study on the SDE path.
      \(methodListHelp())
      """)

  @Option(help: "The problem: a JSON config (see examples/).") var config: String
  @Option(help: "The dynamics.") var kind: StudyKind = .ode
  @Option(help: "Comma-separated solvers (default: all that apply to the kind).") var solvers: MethodList?
  @Option(help: "Comma-separated, strictly increasing step counts M (default 5,10,...,640).") var steps: String?
  @Option(help: "Seeds: 1 runs the config; K > 1 adds K - 1 random mixtures of the same shape.") var seeds: Int = 1
  @Option(help: "The study's name (file prefix); default: the config's file name and the kind.") var name: String?
  @Option(help: "rtol = atol of the RK45 reference (ODE).") var referenceTolerance: Double = 1e-12
  @Option(help: "SDE: fine steps per step of the finest M on the reference path.") var fineFactor: Int = 32
  @Option(help: "Errors below this are treated as round-off and left out of the order fit.") var floor: Double = 1e-11
  @Option(help: "SDE: Brownian paths per seed; the strong error is the RMS over paths.") var paths: Int = 1
  @Option(help: "ODE studies: the grids' spacing (default lambda; docs/gaussian-linear-part.md#measured).") var grid: GridSpacing = .lambda
  @Flag(name: .customLong("discrete-reference"), help: "Also compare each run with the exact gradient of its own discrete sampler (the rel_err_discrete_* columns; one more gradient per run).")
  var discreteReference = false
  @Option(help: "Output directory (created if missing).") var out: String
  @Option(help: "Run only shard I of N (0-based, e.g. $SLURM_ARRAY_TASK_ID/4) into DIR/shards/I-of-N/; then `adjointdeis merge DIR`.")
  var shard: String?

  func run() throws {
    let shardValue = try shard.map(Shard.init(parsing:))
    let study = try makeStudy()
    if let shardValue { return try runShard(study, shardValue, directory: try ShardArguments.writableDirectory(out)) }
    let folder = try OutputFolder(out, field: "out")  // all files appear together at the end, or none

    let started = Date()
    let result = try study.run { message in
      let elapsed = Date().timeIntervalSince(started)
      if elapsed > 2 { StandardStreams.error(String(format: "[%6.1f s] %@", elapsed, message)) }
    }
    try Self.writeOutputs(result, to: folder)
    let seconds = Date().timeIntervalSince(started)
    StandardStreams.error(String(format: "%@: %d runs in %.1f s", study.name, result.records.count, seconds))
    print(try result.summary().markdown)
  }

  /// The study the options describe, validated (no work done yet).
  func makeStudy() throws -> ConvergenceStudy<GaussianMixture> {
    let problem = try ToyProblem.load(from: URL(fileURLWithPath: config))
    let stepList = try steps.map(Self.integers) ?? [5, 10, 20, 40, 80, 160, 320, 640]
    let studyName = name ?? (URL(fileURLWithPath: config).deletingPathExtension().lastPathComponent + "-" + kind.rawValue)
    let base = StudyProblem<GaussianMixture>(problem)
    var study = try ConvergenceStudy(name: studyName, kind: kind, problem: base, variant: { try base.randomVariant(seed: $0) },
                                     solvers: solvers?.specs, steps: stepList, seeds: seeds)
    study.referenceTolerance = referenceTolerance
    study.fineFactor = fineFactor
    study.paths = paths
    if grid != .lambda && kind == .sde { throw InvalidInput("grid", "SDE studies nest their grids in a fine path uniform in lambda") }
    study.grid = grid
    study.compareDiscrete = discreteReference
    study.rule.floor = floor
    try study.rule.validate()
    try study.validate()
    return study
  }

  /// What the unsharded run and `merge` write: the CSV and plots, NAME-summary.md and summary.md, moved into the
  /// output folder together.
  static func writeOutputs(_ result: StudyResult<GaussianMixture>, to folder: OutputFolder) throws {
    _ = try folder.writing { try result.write(to: $0) }
    try folder.write(try result.summaryMarkdown(), as: "\(result.study.name)-summary.md")
    try Self.writeSummary(folder)
    for url in try folder.commit() { StandardStreams.error("wrote \(url.path)") }
  }

  static func integers(_ text: String) throws -> [Int] {
    try OptionList.integers(text, option: "steps")
  }

  /// `summary.md`: every study's section in the output folder (this run's staged ones replacing their namesakes
  /// already there), in name order.
  static func writeSummary(_ folder: OutputFolder) throws {
    let existing = (try? FileManager.default.contentsOfDirectory(atPath: folder.target.path)) ?? []
    let staged = Set(folder.stagedNames)
    let parts = Set(existing + staged).filter { $0.hasSuffix("-summary.md") && !$0.hasPrefix(".") }.sorted()
    var text = "# Convergence summary\n\nFitted global orders: least-squares slope of log(relative error) against log(h_max).\n\n"
    for part in parts {
      let url = staged.contains(part) ? folder.url(part) : folder.target.appendingPathComponent(part)
      text += try InputFile.text(url) + "\n"
    }
    try folder.write(text, as: "summary.md")
  }
}
