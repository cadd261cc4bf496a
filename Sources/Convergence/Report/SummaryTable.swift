import Reports
import DiffusionCore
import Foundation

/// One line of the order summary: a solver's fitted order for one quantity (a_x, a_z, a_theta), and optionally
/// the spread of the orders fitted per seed.
public struct SummaryRow: Sendable, Equatable {
  public var solver: String
  public var quantity: String
  public var fit: OrderFit
  public var seeds: OrderStatistics?

  public init(solver: String, quantity: String, fit: OrderFit, seeds: OrderStatistics? = nil) {
    self.solver = solver
    self.quantity = quantity
    self.fit = fit
    self.seeds = seeds
  }
}

/// A markdown table of fitted orders: solver, quantity, order, confidence interval, points used / total, the
/// dropped points, and (when any row has them) the per-seed mean ± sd [min, max]; the asymptotic-range rule is
/// stated once below the table.
public struct SummaryTable: Sendable, Equatable {
  public var rows: [SummaryRow]

  public init(rows: [SummaryRow]) { self.rows = rows }

  public var markdown: String {
    let withSeeds = rows.contains { $0.seeds != nil }
    let levels = Set(rows.map { ReportFormat.short($0.fit.rule.confidence * 100) })
    let ciHeader = levels.count == 1 ? "\(levels.first!)% CI" : "CI"  // invariant: count == 1
    var header = ["solver", "quantity", "order", ciHeader, "points used", "dropped (reason)"]
    if withSeeds { header.append("order over seeds: mean ± sd [min, max]") }
    var lines = [Self.row(header), Self.row(header.map { _ in "---" })]
    var flagged = false
    for row in rows {
      let fit = row.fit
      var order = "n/a"
      var interval = "n/a"
      if let line = fit.line {
        order = ReportFormat.fixed(line.slope)
        if !fit.tailRuleMet {
          order += " †"
          flagged = true
        }
        interval = "[\(ReportFormat.fixed(line.slopeInterval.lowerBound)), \(ReportFormat.fixed(line.slopeInterval.upperBound))]"
      }
      let dropped = fit.dropped.isEmpty
        ? "none" : fit.dropped.map { "M=\($0.point.steps) (\($0.reason.rawValue))" }.joined(separator: ", ")
      var cells = [row.solver, row.quantity, order, interval, "\(fit.used.count)/\(fit.total)", dropped]
      if withSeeds { cells.append(row.seeds.map(Self.seedText) ?? "n/a") }
      lines.append(Self.row(cells))
    }
    var text = lines.joined(separator: "\n") + "\n"
    if flagged {
      text += "\n† No tail of the series met the slope-agreement rule; all points left after the floor and stagnation "
        + "checks were fitted.\n"
    }
    let rules = rows.map(\.fit.rule.text).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
    for rule in rules { text += "\nRule: \(rule)\n" }
    return text
  }

  /// Writes `markdown` atomically.
  public func write(to url: URL) throws {
    try OutputFile.write(markdown, to: url)
  }

  private static func seedText(_ s: OrderStatistics) -> String {
    var text = ReportFormat.fixed(s.mean)
    if let sd = s.standardDeviation { text += " ± \(ReportFormat.fixed(sd))" }
    text += " [\(ReportFormat.fixed(s.min)), \(ReportFormat.fixed(s.max))], n = \(s.count)"
    if s.unfitted > 0 { text += " (+\(s.unfitted) unfitted)" }
    return text
  }

  /// A markdown row; pipes and line breaks in cells are escaped so they cannot break the table.
  private static func row(_ cells: [String]) -> String {
    "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }
      .joined(separator: " | ") + " |"
  }
}
