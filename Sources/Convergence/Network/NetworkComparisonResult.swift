import DiffusionCore
import Foundation
import Integrators
import ToyModels

/// Both studies' results, side by side: one CSV, one figure per quantity (toy solid, network dashed, one colour per
/// solver), fitted orders side by side, and the distance between the two models' reference gradients.
public struct NetworkComparisonResult<Network: NoisePredictor>: Sendable {
  public var name: String
  public var toy: StudyResult<GaussianMixture>
  public var network: StudyResult<Network>
  /// The RK45 reference gradients, when the comparison was asked to compare them.
  public var toyReference: GradientResult?
  public var networkReference: GradientResult?

  /// How far the network's reference gradient is from the analytic model's: a_x(T) and (when m > 0) a_z.
  /// The loss values and x_0 are compared too (relative).
  public var gradientDistance: [(quantity: String, comparison: GradientComparison)] {
    guard let networkReference, let toyReference else { return [] }
    var out = [("a_x", GradientComparison(networkReference.gradXT, reference: toyReference.gradXT))]
    let zNet = networkReference.gradZ.flatMap { $0 }, zToy = toyReference.gradZ.flatMap { $0 }
    if !zToy.isEmpty { out.append(("a_z", GradientComparison(zNet, reference: zToy))) }
    out.append(("x_0", GradientComparison(networkReference.x0, reference: toyReference.x0)))
    return out
  }

  /// The two studies' rows in one table (the `study` and `model` columns tell them apart).
  public var csv: CSVTable {
    get throws {
      var table = try toy.csv
      for row in try network.csv.rows { try table.append(row) }
      return table
    }
  }

  /// Error against h_max for one quantity: per solver, the toy solid and the network dashed in the same colour.
  public func errorPlot(_ q: GradientQuantity) -> LogLogPlot {
    var lines: [PlotSeries] = []
    for (i, spec) in toy.study.solvers.enumerated() {
      let marker = MarkerShape.allCases[i % MarkerShape.allCases.count]
      lines.append(PlotSeries(name: "\(spec.text) (toy)", points: toy.series(solver: spec.text).map { ($0.hMax, $0.comparisons[q]?.relativeError ?? .nan) },
                              style: .solid, colorIndex: i, marker: marker))
      lines.append(PlotSeries(name: "\(spec.text) (network)", points: network.series(solver: spec.text).map { ($0.hMax, $0.comparisons[q]?.relativeError ?? .nan) },
                              style: .dashed, colorIndex: i, marker: marker, hollowMarkers: true))
    }
    return LogLogPlot(title: "\(name): error of \(q.rawValue), analytic mixture (solid) vs trained UNet (dashed)",
                      xLabel: "h_max (largest step in λ)", yLabel: "relative L2 error of \(q.rawValue) vs own RK45 reference",
                      series: lines, referenceSlopes: [1, 2], idPrefix: "\(name)-\(q.rawValue)")
  }

  /// One row per solver and quantity: the fitted order and the error at the coarsest and finest M, toy and network.
  public func ordersMarkdown(quantities: [GradientQuantity] = [.x, .z, .theta]) throws -> String {
    var text = "| solver | quantity | order (toy) | order (network) | 95% CI (toy) | 95% CI (network) | error at M = \(toy.study.steps.first!) toy / network | error at M = \(toy.study.steps.last!) toy / network |\n"
    text += "|---|---|---|---|---|---|---|---|\n"
    for spec in toy.study.solvers {
      for q in quantities {
        let a = try toy.fit(solver: spec.text, quantity: q), b = try network.fit(solver: spec.text, quantity: q)
        func order(_ f: OrderFit) -> String { f.order.map { ReportFormat.fixed($0) + (f.tailRuleMet ? "" : " †") } ?? "n/a" }
        func ci(_ f: OrderFit) -> String { f.line.map { "[\(ReportFormat.fixed($0.slopeInterval.lowerBound)), \(ReportFormat.fixed($0.slopeInterval.upperBound))]" } ?? "n/a" }
        func err<M>(_ r: StudyResult<M>, first: Bool) -> String {
          let s = r.series(solver: spec.text)
          guard let p = first ? s.first : s.last, let e = p.comparisons[q]?.relativeError else { return "n/a" }
          return ReportFormat.short(e)
        }
        text += "| \(spec.text) | \(q.rawValue) | \(order(a)) | \(order(b)) | \(ci(a)) | \(ci(b)) | \(err(toy, first: true)) / \(err(network, first: true)) | \(err(toy, first: false)) / \(err(network, first: false)) |\n"
      }
    }
    return text + "\n† no tail met the slope-agreement rule; all points left after the floor and stagnation checks were fitted.\n"
  }

  public var distanceMarkdown: String {
    guard let networkReference, let toyReference else { return "(the reference gradients were not compared)\n" }
    var text = "| quantity | relative L2 distance (network vs analytic) | cosine | norm ratio ‖network‖ / ‖analytic‖ |\n|---|---|---|---|\n"
    for (q, c) in gradientDistance {
      text += "| \(q) | \(ReportFormat.short(c.relativeError)) | \(String(format: "%.6f", c.cosine)) | \(ReportFormat.short(c.normRatio)) |\n"
    }
    return text + String(format: "\nLoss L(x_0): analytic %.6g, network %.6g. RK45 reference evaluations: analytic %d eps + %d VJP, network %d eps + %d VJP.\n",
                         toyReference.loss, networkReference.loss, toyReference.sampling.eps + toyReference.adjoint.eps,
                         toyReference.sampling.vjp + toyReference.adjoint.vjp, networkReference.sampling.eps + networkReference.adjoint.eps,
                         networkReference.sampling.vjp + networkReference.adjoint.vjp)
  }

  /// Writes NAME.csv, NAME-error-a_x.svg (and a_z when m > 0, a_theta) and NAME-summary.md; returns the paths.
  @discardableResult
  public func write(to directory: URL, extraMarkdown: String = "") throws -> [URL] {
    var written: [URL] = []
    let csvURL = directory.appendingPathComponent("\(name).csv")
    try csv.write(to: csvURL)
    written.append(csvURL)
    let quantities: [GradientQuantity] = toy.study.problem.problem.model.conditionDimension > 0 ? [.x, .z, .theta] : [.x, .theta]
    for q in quantities {
      let url = directory.appendingPathComponent("\(name)-error-\(q.rawValue).svg")
      try errorPlot(q).write(to: url)
      written.append(url)
    }
    let url = directory.appendingPathComponent("\(name)-summary.md")
    try AtomicFile.write(try summaryMarkdown(quantities: quantities) + extraMarkdown, to: url)
    written.append(url)
    return written
  }

  public func summaryMarkdown(quantities: [GradientQuantity] = [.x, .theta]) throws -> String {
    var text = "# \(name): analytic mixture versus trained network\n\n"
    text += "Toy: \(toy.study.problem.description).\n\nNetwork: \(network.study.problem.description).\n\n"
    text += "Probability-flow ODE, grids uniform in lambda, M = \(toy.study.steps.map(String.init).joined(separator: ", ")). "
      + "Each model's errors are relative to its own RK45 black-box adjoint (rtol = atol = \(ReportFormat.short(toy.study.referenceTolerance))).\n\n"
    text += "## Fitted orders, side by side\n\n" + (try ordersMarkdown(quantities: quantities)) + "\n"
    if let rule = try? toy.fit(solver: toy.study.solvers[0].name, quantity: .x).ruleText { text += "Rule: \(rule)\n\n" }
    text += "## Network versus analytic gradient (RK45 references)\n\n" + distanceMarkdown + "\n"
    let toySeconds = toy.records.map(\.seconds).reduce(0, +), netSeconds = network.records.map(\.seconds).reduce(0, +)
    text += String(format: "Wall time of the solver runs: toy %.1f s, network %.1f s; references: toy %.1f s, network %.1f s.\n",
                   toySeconds, netSeconds, toy.references.map(\.seconds).reduce(0, +), network.references.map(\.seconds).reduce(0, +))
    return text
  }
}
