import Reports
import DiffusionCore
import Foundation

/// Error against cost, read back from the tidy CSV a convergence study writes (seed 0, path 0, finished runs):
/// tables of the errors at chosen M, of the fewest VJPs that reached given relative errors and cosine, and a plot of
/// error against VJP count (docs/gaussian-linear-part.md#measured).
public struct CostAccuracy: Sendable {
  public struct Run: Sendable {
    public let study: String
    public let solver: String
    public let steps: Int
    public let vjp: Int
    public let errorX: Double
    public let errorZ: Double
    public let errorTheta: Double
    public let cosineX: Double
  }

  public let runs: [Run]

  /// Parses study CSVs (`ConvergenceStudy`'s format); errors name the file and the column.
  public init(csv texts: [(file: String, text: String)]) throws {
    var runs: [Run] = []
    for (file, text) in texts {
      let table = try StudyRows(file: file, text: text)
      let c = try (study: table.index("study"), solver: table.index("solver"), m: table.index("M"), vjp: table.index("gradient_nfe_vjp"),
                   x: table.index("rel_err_a_x"), z: table.index("rel_err_a_z"), t: table.index("rel_err_a_theta"), cos: table.index("cosine_a_x"))
      for (row, f) in table.rows {
        guard let m = Int(f[c.m]), let vjp = Int(f[c.vjp]) else { throw InvalidInput(file, "row \(row): M or gradient_nfe_vjp is not an integer") }
        runs.append(Run(study: f[c.study], solver: f[c.solver], steps: m, vjp: vjp, errorX: try table.number(f, c.x, row: row),
                        errorZ: f[c.z].isEmpty ? .nan : try table.number(f, c.z, row: row),
                        errorTheta: f[c.t].isEmpty ? .nan : try table.number(f, c.t, row: row), cosineX: try table.number(f, c.cos, row: row)))
      }
    }
    self.runs = runs
  }

  /// One CSV line's fields (double-quoted fields may hold commas and doubled quotes).
  static func fields(_ line: String) -> [String] {
    var out: [String] = [], field = "", quoted = false
    var chars = Array(line)[...]
    while let ch = chars.popFirst() {
      if quoted {
        if ch == "\"" {
          if chars.first == "\"" { field.append("\""); chars.removeFirst() } else { quoted = false }
        } else { field.append(ch) }
      } else if ch == "\"" { quoted = true } else if ch == "," { out.append(field); field = "" } else { field.append(ch) }
    }
    out.append(field)
    return out
  }

  public var studies: [String] { runs.map(\.study).reduce(into: []) { if !$0.contains($1) { $0.append($1) } } }
  func solvers(_ study: String) -> [String] {
    runs.filter { $0.study == study }.map(\.solver).reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
  }
  func series(_ study: String, _ solver: String) -> [Run] {
    runs.filter { $0.study == study && $0.solver == solver }.sorted { $0.steps < $1.steps }
  }

  static func format(_ x: Double) -> String { x.isFinite ? String(format: "%.3g", x) : "–" }

  /// Markdown: per study, the errors at `steps` and the fewest VJPs (on the measured M) reaching each target.
  public func markdown(steps: [Int], targets: [Double] = [0.1, 0.01, 0.001], cosine: Double = 0.999) -> String {
    var text = "Runs of seed 0 (path 0 in SDE studies), relative L2 errors against the study's reference.\n\n"
    for study in studies {
      text += "### \(study)\n\n"
      var header = "| solver | VJPs/step |"
      for m in steps { header += " a_x M=\(m) |" }
      for m in steps { header += " a_z M=\(m) |" }
      for m in steps { header += " a_theta M=\(m) |" }
      text += header + "\n|" + String(repeating: " --- |", count: 2 + 3 * steps.count) + "\n"
      for solver in solvers(study) {
        let s = series(study, solver)
        let perStep = s.first.map { Double($0.vjp) / Double($0.steps) } ?? .nan
        var line = "| \(solver) | \(Self.format(perStep)) |"
        for m in steps { line += " \(Self.format(s.first { $0.steps == m }?.errorX ?? .nan)) |" }
        for m in steps { line += " \(Self.format(s.first { $0.steps == m }?.errorZ ?? .nan)) |" }
        for m in steps { line += " \(Self.format(s.first { $0.steps == m }?.errorTheta ?? .nan)) |" }
        text += line + "\n"
      }
      text += "\nFewest VJPs (gradient only, on the measured M) with a relative a_x error at most the target, and with a_x's cosine at least \(cosine):\n\n"
      text += "| solver |" + targets.map { " \(Self.format($0 * 100))% |" }.joined() + " cosine ≥ \(cosine) |\n|"
        + String(repeating: " --- |", count: targets.count + 2) + "\n"
      for solver in solvers(study) {
        let s = series(study, solver)
        func fewest(_ ok: (Run) -> Bool) -> String { s.first(where: ok).map { "\($0.vjp)" } ?? "> \(s.last?.vjp ?? 0)" }
        text += "| \(solver) |" + targets.map { t in " \(fewest { $0.errorX <= t }) |" }.joined() + " \(fewest { $0.cosineX >= cosine }) |\n"
      }
      text += "\n"
    }
    return text
  }

  /// Relative a_x error against gradient VJPs, one line per solver.
  public func plot(study: String) -> LogLogPlot {
    let lines = solvers(study).enumerated().map { i, solver in
      PlotSeries(name: solver, points: series(study, solver).map { (Double($0.vjp), $0.errorX) },
                 style: solver.hasPrefix("dto") ? .dashed : .solid, colorIndex: i,
                 // colour and marker both cycle with period 8: shift the marker and hollow it on each later round
                 marker: MarkerShape.allCases[(i + i / 8) % MarkerShape.allCases.count], hollowMarkers: i >= 8)
    }
    return LogLogPlot(title: "\(study): error of a_x against cost", xLabel: "VJPs (gradient)", yLabel: "relative L2 error of a_x",
                      series: lines, referenceSlopes: [], referenceSymbol: "VJP", idPrefix: "\(study)-cost")
  }
}
