@testable import Reports
import DiffusionCore
import Foundation
import XCTest

#if canImport(FoundationXML)
  import FoundationXML
#endif

@testable import Convergence

final class ReportTests: XCTestCase {
  // MARK: CSV

  func testCSVQuotesOnlyWhatNeedsQuoting() {
    XCTAssertEqual(CSVTable.quoted("adjointdeis-1/ode/exact"), "adjointdeis-1/ode/exact")
    XCTAssertEqual(CSVTable.quoted("a,b"), "\"a,b\"")
    XCTAssertEqual(CSVTable.quoted("say \"hi\""), "\"say \"\"hi\"\"\"")
    XCTAssertEqual(CSVTable.quoted("two\nlines"), "\"two\nlines\"")
    XCTAssertEqual(CSVTable.quoted(" padded"), "\" padded\"")
    XCTAssertEqual(CSVTable.quoted(""), "")
  }

  func testCSVRoundTripsFieldsAndDoubles() throws {
    let doubles = [0.1, 1.0 / 3, 2.2250738585072014e-308, 5e-324, 1.7976931348623157e308, -123456.789e-20, 1e16, 0.0]
    var table = try CSVTable(columns: ["solver", "M", "h_max_lambda", "rel_err_a_x", "failure_reason"])
    for (i, value) in doubles.enumerated() {
      try table.append([.text("s,\"\(i)\"\nx"), .integer(i), .real(value), .real(-value), .missing])
    }
    try table.append(["solver": "failed run", "M": 7, "failure_reason": "nan in step 3, \"adjoint\""])
    let records = try CSVTable.parse(table.text)
    XCTAssertEqual(records.count, doubles.count + 2)
    XCTAssertEqual(records[0], table.columns)
    for (i, value) in doubles.enumerated() {
      let record = records[i + 1]
      XCTAssertEqual(record[0], "s,\"\(i)\"\nx")
      XCTAssertEqual(Int(record[1]), i)
      // Exact: the written text must read back as the same bits.
      XCTAssertEqual(Double(record[2])?.bitPattern, value.bitPattern, record[2])
      XCTAssertEqual(Double(record[3])?.bitPattern, (-value).bitPattern, record[3])
      XCTAssertEqual(record[4], "")
    }
    XCTAssertEqual(records.last, ["failed run", "7", "", "", "nan in step 3, \"adjoint\""])
    XCTAssertEqual(CSVValue.real(.nan).field, "nan")
    XCTAssertEqual(CSVValue.real(-.infinity).field, "-inf")
  }

  func testCSVRejectsBadShapesAndWritesAtomically() throws {
    XCTAssertThrowsInvalid(try CSVTable(columns: []), field: "columns")
    XCTAssertThrowsInvalid(try CSVTable(columns: ["a", "a"]), field: "columns")
    XCTAssertThrowsInvalid(try CSVTable(columns: ["a", "b"], rows: [[1]]), field: "rows[0]")
    var table = try CSVTable(columns: ["a"])
    XCTAssertThrowsInvalid(try table.append(["b": 1]), field: "rows[0]")
    XCTAssertThrowsInvalid(try CSVTable.parse("a,\"b\n"), field: "csv line 2")
    XCTAssertThrowsInvalid(try CSVTable.parse("a,b\"c\n"), field: "csv line 1")

    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("csv-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    try table.append([.real(2.5)])
    let url = directory.appendingPathComponent("runs.csv")
    try table.write(to: url)
    XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "a\n2.5\n")
    XCTAssertThrowsInvalid(try table.write(to: directory.appendingPathComponent("missing/runs.csv")), field: "missing/runs.csv", suffix: true)
  }

  // MARK: SVG

  /// Parses the SVG as XML and counts elements by name and class.
  private final class SVGCounter: NSObject, XMLParserDelegate {
    var elements: [String: Int] = [:]
    var seriesPaths: [String] = []
    var legendTexts: [String] = []
    var referenceLabels: [String] = []
    private var textStack: [(className: String?, text: String)] = []
    private var classStack: [String?] = []

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
      elements[name, default: 0] += 1
      let className = attributes["class"]
      if name == "path", className == "series-line" { seriesPaths.append(attributes["data-series"] ?? "") }
      classStack.append(className)
      if name == "text" { textStack.append((className, "")) }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
      if !textStack.isEmpty { textStack[textStack.count - 1].text += string }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
      classStack.removeLast()
      guard name == "text", let (className, text) = textStack.popLast() else { return }
      if classStack.contains("legend-entry") { legendTexts.append(text) }
      if className == "reference-label" { referenceLabels.append(text) }
    }
  }

  private func parse(_ svg: String) throws -> SVGCounter {
    let parser = XMLParser(data: Data(svg.utf8))
    let counter = SVGCounter()
    parser.delegate = counter
    XCTAssertTrue(parser.parse(), "not well-formed XML: \(String(describing: parser.parserError))")
    return counter
  }

  func testLogLogPlotIsWellFormedWithOnePathPerSeriesAndLegend() throws {
    let plot = Self.demoErrorPlot()
    let counter = try parse(plot.svg())
    XCTAssertEqual(counter.elements["svg"], 1)
    XCTAssertEqual(counter.seriesPaths, plot.series.map(\.name))
    XCTAssertEqual(counter.legendTexts.count, plot.series.count)
    for (text, series) in zip(counter.legendTexts, plot.series) {
      XCTAssertTrue(text.hasPrefix(series.name), "\(text) vs \(series.name)")
    }
    // The failed (NaN) and zero points of the third series are skipped and counted in its legend entry.
    XCTAssertTrue(counter.legendTexts[2].hasSuffix("(2 skipped)"), counter.legendTexts[2])
    XCTAssertEqual(Set(counter.referenceLabels), ["O(h)", "O(h2)"])
  }

  func testLinearYPlotAndEmptyPlotAreWellFormed() throws {
    let cosine = Self.demoCosinePlot()
    let counter = try parse(cosine.svg())
    XCTAssertEqual(counter.seriesPaths.count, cosine.series.count)
    XCTAssertTrue(counter.referenceLabels.isEmpty)
    let empty = LogLogPlot(title: "nothing <&> here", xLabel: "h", yLabel: "error", series: [
      PlotSeries(name: "all failed", points: [(0.1, .nan), (0.05, .nan)])
    ])
    let emptyCounter = try parse(empty.svg())
    XCTAssertEqual(emptyCounter.seriesPaths, ["all failed"])
    XCTAssertTrue(empty.svg().contains("no data to show"))
  }

  func testLogAxisLabelsDecadesWithSuperscripts() {
    let axis = PlotAxis.logarithmic(values: [3e-9, 2e-2], length: 360, fontSize: 12, vertical: true, explicitTicks: nil)
    let labelled = axis.major.compactMap { $0.label?.plain }
    XCTAssertTrue(labelled.contains("10\u{2212}5"), "\(labelled)")
    XCTAssertEqual(axis.major.first.map { log10($0.value) } ?? 0, -8, accuracy: 1e-12)
    XCTAssertTrue(RichText.powerOfTen(-3).svgContent(fontSize: 12).contains("<tspan dy=\"-5.04\""))
    // Less than a decade: labelled multiples m × 10^k, at least two of them.
    let narrow = PlotAxis.logarithmic(values: [2.2e-3, 4.6e-3], length: 360, fontSize: 12, vertical: true, explicitTicks: nil)
    XCTAssertEqual(narrow.major.compactMap { $0.label?.plain }, ["3×10\u{2212}3", "4×10\u{2212}3"])
    // No multiple inside the range at all: widened to the enclosing ones, 2 × 10^-3 and 3 × 10^-3.
    let tiny = PlotAxis.logarithmic(values: [2.1e-3, 2.2e-3], length: 360, fontSize: 12, vertical: true, explicitTicks: nil)
    XCTAssertEqual(tiny.major.compactMap { $0.label?.plain }, ["2×10\u{2212}3", "3×10\u{2212}3"])
  }

  // MARK: Summary

  func testSummaryTableListsOrdersIntervalsAndRule() throws {
    let points = (0..<6).map { k in
      ErrorPoint(steps: 4 << k, hMax: pow(0.5, Double(k)), error: 0.3 * pow(0.25, Double(k)) * (1 + 0.01 * Double(k % 2)))
    }
    let fit = try OrderFit.fit(points)
    let unfitted = try OrderFit.fit([ErrorPoint(steps: 4, hMax: 1, error: .nan)])
    let table = SummaryTable(rows: [
      SummaryRow(solver: "adjointdeis-2/ode|exact", quantity: "a_x", fit: fit, seeds: try OrderStatistics(orders: [1.98, 2.02])),
      SummaryRow(solver: "euler", quantity: "a_theta", fit: unfitted),
    ])
    let markdown = table.markdown
    let lines = markdown.split(separator: "\n", omittingEmptySubsequences: false)
    XCTAssertEqual(lines[0], "| solver | quantity | order | 95% CI | points used | dropped (reason) | order over seeds: mean ± sd [min, max] |")
    XCTAssertTrue(lines[2].hasPrefix("| adjointdeis-2/ode\\|exact | a_x | 2.00 | ["), String(lines[2]))
    XCTAssertTrue(lines[2].contains("| 6/6 | none | 2.00 ± 0.03 [1.98, 2.02], n = 2 |"), String(lines[2]))
    XCTAssertTrue(lines[3].contains("| n/a | n/a | 0/1 | M=4 (invalid) | n/a |"), String(lines[3]))
    XCTAssertTrue(markdown.contains("Rule: Points ordered coarse to fine."))
  }

  // MARK: Demo (for looking at the plots; skipped unless CONVERGENCE_DEMO_DIR is set)

  /// Writes the demo plots to $CONVERGENCE_DEMO_DIR; render them with scripts/render-svg.sh.
  func testWriteDemoPlots() throws {
    guard let path = ProcessInfo.processInfo.environment["CONVERGENCE_DEMO_DIR"] else {
      throw XCTSkip("set CONVERGENCE_DEMO_DIR to write the demo plots")
    }
    let directory = URL(fileURLWithPath: path)
    try Self.demoErrorPlot().write(to: directory.appendingPathComponent("demo-error.svg"))
    try Self.demoCosinePlot().write(to: directory.appendingPathComponent("demo-cosine.svg"))
    // Stress cases: eight series with long names in less than a decade; sixteen decades; a linear range of 1e-6.
    let names = (1...8).map { "solver-\($0)/sde/with-a-rather-long-configuration-name" }
    let narrow = names.enumerated().map { k, name in
      PlotSeries(name: name, points: Self.demoSteps.map { m in (1.0 / Double(m), 2e-3 * (1 + 0.1 * Double(k)) * pow(Double(m), 0.05)) },
                 style: k % 2 == 0 ? .solid : .dashed)
    }
    try LogLogPlot(title: "Eight series within one decade", xLabel: "h_max", yLabel: "error", series: narrow)
      .write(to: directory.appendingPathComponent("demo-narrow.svg"))
    let wide = [
      PlotSeries(name: "order 4", points: Self.demoSteps.map { m in (1.0 / Double(m), 10 * pow(1.0 / Double(m), 4)) }),
      PlotSeries(name: "order 1", points: Self.demoSteps.map { m in (1.0 / Double(m), 1e2 / Double(m)) }),
    ]
    try LogLogPlot(title: "Sixteen decades", xLabel: "h_max", yLabel: "error", series: wide, referenceSlopes: [1, 2, 4])
      .write(to: directory.appendingPathComponent("demo-wide.svg"))
    let ratio = [PlotSeries(name: "|g| / |g_ref|", points: Self.demoSteps.map { m in (Double(m), 1 + 1e-6 / Double(m) - 3e-7 * sin(Double(m))) })]
    try LogLogPlot(title: "Norm ratio within 1e-6 of one", xLabel: "number of steps M", yLabel: "norm ratio", series: ratio,
                   referenceSlopes: [], logY: false, horizontalReferences: [1])
      .write(to: directory.appendingPathComponent("demo-tiny-linear.svg"))
    // A legend taller than the plotting area and a title wider than the figure.
    let many = (0..<14).map { k in
      PlotSeries(name: "series \(k)", points: Self.demoSteps.map { m in (1.0 / Double(m), pow(1.0 / Double(m), 1 + Double(k) / 10)) },
                 style: k >= 7 ? .dashed : .solid)
    }
    try LogLogPlot(title: "A very long title that is wider than the plotting area and the legend together, so it has to shrink to fit",
                   xLabel: "h_max", yLabel: "error", series: many, plotWidth: 300, plotHeight: 200)
      .write(to: directory.appendingPathComponent("demo-crowded.svg"))
  }

  static let demoSteps = [4, 8, 16, 32, 64, 128, 256, 512]

  /// Synthetic errors: orders 1 and 2 (ODE, solid) and their noisy SDE counterparts (dashed), one with a failed and
  /// a zero point, one reaching a round-off floor.
  static func demoErrorPlot() -> LogLogPlot {
    var generator = SeededGenerator(seed: 5)
    func series(_ order: Double, _ c: Double, noise: Double) -> [(Double, Double)] {
      demoSteps.map { m in
        let h = 4.0 / Double(m)
        return (h, max(c * pow(h, order) * exp(noise * generator.normal()), 1e-15 * (1 + generator.uniform())))
      }
    }
    var sdeOne = series(1, 0.08, noise: 0.15)
    sdeOne[3].1 = .nan
    sdeOne[5].1 = 0
    let floorSeries = series(3, 2e-4, noise: 0.02).map { ($0.0, max($0.1, 3e-9 * (1 + 0.3 * generator.uniform()))) }
    return LogLogPlot(
      title: "Relative error of a_x against the reference (demo data)",
      xLabel: "largest step h_max in λ", yLabel: "relative L2 error",
      series: [
        PlotSeries(name: "adjointdeis-1/ode/exact", points: series(1, 0.05, noise: 0.02)),
        PlotSeries(name: "adjointdeis-2/ode/exact", points: series(2, 0.02, noise: 0.02)),
        PlotSeries(name: "adjointdeis-1/sde/exact", points: sdeOne, style: .dashed, colorIndex: 0, hollowMarkers: true),
        PlotSeries(name: "adjointdeis-2/sde/exact", points: series(2, 0.03, noise: 0.15), style: .dashed, colorIndex: 1, hollowMarkers: true),
        PlotSeries(name: "order 3 with round-off floor", points: floorSeries),
      ],
      referenceSlopes: [1, 2])
  }

  static func demoCosinePlot() -> LogLogPlot {
    func series(_ order: Double, _ c: Double) -> [(Double, Double)] {
      demoSteps.map { m in (Double(m), 1 - c * pow(4.0 / Double(m), 2 * order)) }
    }
    return LogLogPlot(
      title: "Cosine similarity with the reference gradient (demo data)",
      xLabel: "number of steps M", yLabel: "cosine similarity",
      series: [
        PlotSeries(name: "adjointdeis-1/ode/exact", points: series(1, 0.02)),
        PlotSeries(name: "adjointdeis-2/ode/exact", points: series(2, 0.01)),
        PlotSeries(name: "adjointdeis-1/sde/exact", points: series(0.5, 0.05), style: .dashed, colorIndex: 0, hollowMarkers: true),
      ],
      referenceSlopes: [], logY: false, horizontalReferences: [1], xTicks: demoSteps.map(Double.init))
  }
}
