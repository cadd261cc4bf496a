import ArgumentParser
import Convergence
import DiffusionCore
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
  @Option(help: "Output directory (created if missing).") var out: String

  func run() throws {
    let problem = try ToyProblem.load(from: URL(fileURLWithPath: config))
    let stepList = try steps.map(Self.integers) ?? [5, 10, 20, 40, 80, 160, 320, 640]
    let studyName = name ?? (URL(fileURLWithPath: config).deletingPathExtension().lastPathComponent + "-" + kind.rawValue)
    let base = StudyProblem<GaussianMixture>(problem)
    var study = try ConvergenceStudy(name: studyName, kind: kind, problem: base, variant: { try base.randomVariant(seed: $0) },
                                     solvers: solvers?.specs, steps: stepList, seeds: seeds)
    study.referenceTolerance = referenceTolerance
    study.fineFactor = fineFactor
    study.paths = paths
    study.rule.floor = floor
    try study.validate()
    let directory = try Self.writableDirectory(out)

    let started = Date()
    let result = try study.run { message in
      let elapsed = Date().timeIntervalSince(started)
      if elapsed > 2 { FileHandle.standardError.write(Data(String(format: "[%6.1f s] %@\n", elapsed, message).utf8)) }
    }
    for url in try result.write(to: directory) { FileHandle.standardError.write(Data("wrote \(url.path)\n".utf8)) }
    try AtomicFile.write(try result.summaryMarkdown(), to: directory.appendingPathComponent("\(studyName)-summary.md"))
    try Self.writeSummary(directory)
    let seconds = Date().timeIntervalSince(started)
    FileHandle.standardError.write(Data(String(format: "%@: %d runs in %.1f s\n", studyName, result.records.count, seconds).utf8))
    print(try result.summary().markdown)
  }

  static func integers(_ text: String) throws -> [Int] {
    // empty entries ("5,,10", "5,") are errors, not skipped
    try text.split(separator: ",", omittingEmptySubsequences: false).map {
      guard let v = Int($0.trimmingCharacters(in: .whitespaces)) else { throw InvalidInput("steps", "'\($0)' is not an integer") }
      return v
    }
  }

  /// Creates the directory if needed and proves it writable before any work starts.
  static func writableDirectory(_ path: String) throws -> URL {
    let url = URL(fileURLWithPath: path, isDirectory: true)
    do {
      try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
      let probe = url.appendingPathComponent(".write-test-\(ProcessInfo.processInfo.processIdentifier)")
      try Data().write(to: probe)
      try FileManager.default.removeItem(at: probe)
    } catch {
      throw InvalidInput("out", "cannot write to \(path): \(error.localizedDescription)")
    }
    return url
  }

  /// `summary.md`: every study's section in the directory, in name order.
  static func writeSummary(_ directory: URL) throws {
    let parts = try FileManager.default.contentsOfDirectory(atPath: directory.path)
      .filter { $0.hasSuffix("-summary.md") }.sorted()
    var text = "# Convergence summary\n\nFitted global orders: least-squares slope of log(relative error) against log(h_max).\n\n"
    for part in parts {
      text += (try String(contentsOf: directory.appendingPathComponent(part), encoding: .utf8)) + "\n"
    }
    try AtomicFile.write(text, to: directory.appendingPathComponent("summary.md"))
  }
}
