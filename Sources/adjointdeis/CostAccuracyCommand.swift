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
    // the output folder checked and staged before any input is read; its files appear together at the end, or none
    let folder = try OutputFolder(out, field: "out")
    let texts = try files.map { path -> (file: String, text: String) in
      (path, try InputFile.text(URL(fileURLWithPath: path), field: "csv"))
    }
    let report = try CostAccuracy(csv: texts)
    try folder.write(report.markdown(steps: stepList), as: "cost-accuracy.md")
    for study in report.studies { try folder.writing { try report.plot(study: study).write(to: $0.appendingPathComponent("\(study)-cost-accuracy.svg")) } }
    try folder.commit()
  }
}
