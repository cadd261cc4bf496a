import ArgumentParser
import Convergence
import DiffusionCore
import Foundation

/// `adjointdeis which-gradient`: the "which gradient should you use?" report from convergence-study CSVs.
struct WhichGradientCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "which-gradient",
    abstract: "Error against network calls and memory from convergence-study CSVs: DIR/which-gradient.md and DIR/STUDY-which-gradient.svg.")

  @Option(help: "Comma-separated study CSVs (written by `adjointdeis convergence`).") var csv: String
  @Option(help: "Comma-separated N at which to tabulate.") var steps: String = "20,80"
  @Option(help: "The network-call budget of the decision table.") var budget: Int = 500
  @Option(help: "The relative dL/dx_T error the decision table asks for.") var target: Double = 0.01
  @Option(help: "Output directory (created if missing).") var out: String

  func run() throws {
    let stepList = try OptionList.integers(steps, option: "steps")
    guard budget > 0 else { throw InvalidInput("budget", "must be positive, got \(budget)") }
    guard target > 0 else { throw InvalidInput("target", "must be positive, got \(target)") }
    let files = csv.split(separator: ",").map(String.init)
    guard !files.isEmpty else { throw InvalidInput("csv", "no files given") }
    let folder = try OutputFolder(out, field: "out")  // every file checked writable before the CSVs are read
    let texts = try files.map { path in (file: path, text: String(decoding: try InputFile.read(path: path, field: "csv"), as: UTF8.self)) }
    let report = try WhichGradient(csv: texts)
    try folder.write(report.markdown(steps: stepList, budget: budget, target: target), as: "which-gradient.md")
    for study in report.studies { try folder.write(report.plot(study: study).svg(), as: "\(study)-which-gradient.svg") }
    _ = try folder.commit()
  }
}
