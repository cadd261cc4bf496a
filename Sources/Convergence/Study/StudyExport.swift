import Reports
import DiffusionCore
import Foundation

/// Writes a study's tidy CSV, its plots and its summary of fitted orders.
extension StudyResult {
  public static var csvColumns: [String] {
    var c = ["study", "kind", "model", "seed", "path", "solver", "M", "h_max_lambda", "nfe_eps", "nfe_vjp",
             "gradient_nfe_eps", "gradient_nfe_vjp", "wall_time_s", "stored_states", "stored_bytes", "round_trip_error"]
    for q in GradientQuantity.allCases {
      c += ["rel_err_\(q.rawValue)", "cosine_\(q.rawValue)", "norm_ratio_\(q.rawValue)"]
    }
    return c + GradientQuantity.allCases.map { "rel_err_discrete_\($0.rawValue)" } + ["status", "failure_reason"]
  }

  public var csv: CSVTable {
    get throws {
      var table = try CSVTable(columns: Self.csvColumns)
      let model = study.problem.label
      for r in records {
        var row: [CSVValue] = [.text(study.name), .text(study.kind.rawValue), .text(model), .integer(r.seed), .integer(r.path), .text(r.solver),
                               .integer(r.steps), r.failure == nil ? .real(r.hMax) : .missing,
                               .integer(r.evaluations.eps), .integer(r.evaluations.vjp),
                               .integer(r.gradientEvaluations.eps), .integer(r.gradientEvaluations.vjp), .real(r.seconds),
                               r.storedStates.map(CSVValue.integer) ?? .missing, r.storedBytes.map(CSVValue.integer) ?? .missing,
                               r.roundTripError.map(CSVValue.real) ?? .missing]
        for q in GradientQuantity.allCases {
          let c = r.comparison(q)
          row += r.failure == nil ? [.real(c.relativeError), .real(c.cosine), .real(c.normRatio)] : [.missing, .missing, .missing]
        }
        row += GradientQuantity.allCases.map { r.discreteErrors[$0].map(CSVValue.real) ?? .missing }
        row += [.text(r.failure == nil ? "ok" : "failed"), r.failure.map(CSVValue.text) ?? .missing]
        try table.append(row)
      }
      return table
    }
  }

  /// Every solver's fit for every quantity, on seed 0, with the spread of the orders over all seeds.
  public func summary() throws -> SummaryTable {
    var rows: [SummaryRow] = []
    for spec in study.solvers {
      for q in GradientQuantity.allCases {
        let fit = try self.fit(solver: spec.text, quantity: q)
        let perSeed = try (0..<study.seeds).map { try self.fit(solver: spec.text, quantity: q, seed: $0) }
        rows.append(SummaryRow(solver: spec.text, quantity: q.rawValue, fit: fit,
                               seeds: study.seeds > 1 ? OrderStatistics.over(perSeed) : nil))
      }
    }
    return SummaryTable(rows: rows)
  }

  /// Error against h_max for one quantity, one line per solver (seed 0), dashed reference slopes 1 and 2.
  public func errorPlot(_ q: GradientQuantity) -> LogLogPlot {
    let lines = study.solvers.enumerated().map { i, spec in
      PlotSeries(name: spec.text, points: series(solver: spec.text).map { ($0.step, $0.comparisons[q]?.relativeError ?? .nan) },
                 style: spec.text.hasPrefix("dto") ? .dashed : .solid, colorIndex: i, marker: MarkerShape.allCases[i % MarkerShape.allCases.count])
    }
    return LogLogPlot(title: "\(study.name): error of \(q.rawValue) (\(study.kind == .ode ? "probability-flow ODE" : "SDE, RMS over \(study.paths) paths"))",
                      xLabel: "h_max (largest step in λ)", yLabel: "relative L2 error of \(q.rawValue)",
                      series: lines, referenceSlopes: [1, 2], idPrefix: "\(study.name)-\(q.rawValue)")
  }

  /// Cosine similarity (linear y) or norm ratio (log y: it spans decades at small M) of a_x(T) against M:
  /// is the direction right while the error is large?
  public func directionPlot(cosine: Bool) -> LogLogPlot {
    let lines = study.solvers.enumerated().map { i, spec in
      PlotSeries(name: spec.text, points: series(solver: spec.text).map {
        (Double($0.steps), (cosine ? $0.comparisons[.x]?.cosine : $0.comparisons[.x]?.normRatio) ?? .nan)
      }, style: spec.text.hasPrefix("dto") ? .dashed : .solid, colorIndex: i, marker: MarkerShape.allCases[i % MarkerShape.allCases.count])
    }
    let what = cosine ? "cosine similarity" : "norm ratio |g| / |g_ref|"
    return LogLogPlot(title: "\(study.name): \(what) of a_x(T) with the reference", xLabel: "M (adjoint steps; N = M)",
                      yLabel: what, series: lines, referenceSlopes: [], logY: !cosine, horizontalReferences: [1],
                      xTicks: study.steps.map(Double.init), idPrefix: "\(study.name)-\(cosine ? "cosine" : "norm")")
  }

  /// Writes `NAME.csv`, `NAME-error-a_x.svg` (and a_z, a_theta), `NAME-cosine.svg`, `NAME-norm-ratio.svg`.
  /// Returns the paths written.
  @discardableResult
  public func write(to directory: URL) throws -> [URL] {
    var written: [URL] = []
    let csvURL = directory.appendingPathComponent("\(study.name).csv")
    try csv.write(to: csvURL)
    written.append(csvURL)
    for q in GradientQuantity.allCases {
      let url = directory.appendingPathComponent("\(study.name)-error-\(q.rawValue).svg")
      try errorPlot(q).write(to: url)
      written.append(url)
    }
    for (cosine, suffix) in [(true, "cosine"), (false, "norm-ratio")] {
      let url = directory.appendingPathComponent("\(study.name)-\(suffix).svg")
      try directionPlot(cosine: cosine).write(to: url)
      written.append(url)
    }
    return written
  }

  /// The markdown section of `summary.md` for this study.
  public func summaryMarkdown() throws -> String {
    var text = "## \(study.name) (\(study.kind == .ode ? "probability-flow ODE" : "SDE"))\n\n"
    text += "Model: \(study.problem.description). Grids \(study.grid == .lambda || study.kind == .sde ? "uniform in lambda" : study.grid.rawValue), M = \(study.steps.map(String.init).joined(separator: ", ")); seeds: \(study.seeds)"
      + (study.kind == .sde ? "; Brownian paths per seed: \(study.paths) (error = RMS over paths)" : "") + ".\n\n"
    if records.contains(where: { $0.failure == nil && $0.hMax == .infinity }) {
      text += "The grids start at pure noise (alpha_T = 0, lambda_T = -inf, so h_max is infinite): orders are fitted and plotted against 1/M.\n\n"
    }
    let slowest = references.max { $0.seconds < $1.seconds }
    if let ref = references.first, let slowest {
      text += "Reference: \(ref.description); seed 0: \(ref.evaluations.eps) eps + \(ref.evaluations.vjp) VJP evaluations; "
        + "slowest of \(references.count): \(ReportFormat.short(slowest.seconds)) s.\n"
    }
    let failures = records.filter { $0.failure != nil }
    if !failures.isEmpty {
      text += "\nFailed runs: " + failures.map { "\($0.solver) M=\($0.steps) seed \($0.seed): \($0.failure!)" }.joined(separator: "; ") + "\n"
    }
    return text + "\n" + (try summary().markdown) + "\n"
  }
}
