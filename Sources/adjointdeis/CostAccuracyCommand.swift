import ArgumentParser
import Convergence
import DiffusionCore
import Foundation

/// `adjointdeis cost-accuracy`: tables and plots of error against VJP count from convergence-study CSVs.
struct CostAccuracyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "cost-accuracy",
    abstract: "Error against VJP count from convergence-study CSVs: DIR/cost-accuracy.md and DIR/STUDY-cost-accuracy.svg.")

  @Option(help: "Comma-separated study CSVs (written by `adjointdeis convergence`).") var csv: String
  @Option(help: "Comma-separated M at which to tabulate the errors.") var steps: String = "20,80"
  @Option(help: "Output directory (created if missing).") var out: String

  func run() throws {
    let stepList = try steps.split(separator: ",").map { s -> Int in
      guard let m = Int(s.trimmingCharacters(in: .whitespaces)), m > 0 else { throw InvalidInput("steps", "'\(s)' is not a positive integer") }
      return m
    }
    let files = csv.split(separator: ",").map { String($0) }
    guard !files.isEmpty else { throw InvalidInput("csv", "no files given") }
    let texts = try files.map { path -> (file: String, text: String) in
      guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
        throw InvalidInput(path, "cannot read the CSV")
      }
      return (path, text)
    }
    let report = try CostAccuracy(csv: texts)
    let dir = URL(fileURLWithPath: out)
    do {
      try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    } catch {
      throw InvalidInput("out", "cannot create \(out): \(error.localizedDescription)")
    }
    try AtomicFile.write(report.markdown(steps: stepList), to: dir.appendingPathComponent("cost-accuracy.md"))
    for study in report.studies { try report.plot(study: study).write(to: dir.appendingPathComponent("\(study)-cost-accuracy.svg")) }
  }
}
