import DiffusionCore
import Foundation

/// A dependency-free SVG line plot with a logarithmic x axis and a logarithmic (default) or linear y axis: decade
/// ticks labelled 10^k, minor ticks, grid, axis labels, title, a legend to the right of the plotting area, one
/// `<path>` plus markers per series, and dashed reference-slope lines O(h^p) anchored just below the data's coarse
/// end. Colours are Okabe–Ito; each series also differs in marker shape, and `.dashed` series in dash pattern.
public struct LogLogPlot: Sendable {
  public var title: String
  public var xLabel: String
  public var yLabel: String
  public var series: [PlotSeries]
  /// Slopes p of dashed reference lines y ∝ x^p, labelled "O(h^p)" (log-y plots only).
  public var referenceSlopes: [Double]
  public var logY: Bool
  /// The symbol in the reference-line labels, "h" by default.
  public var referenceSymbol: String
  /// Dashed grey horizontal lines at these y values (e.g. 1 for cosine similarity and norm ratio).
  public var horizontalReferences: [Double]
  /// Labelled x ticks at these values (e.g. the step counts M) instead of decades 10^k.
  public var xTicks: [Double]?
  /// Size of the plotting area in px; the margins, legend and title are added around it.
  public var plotWidth: Double
  public var plotHeight: Double
  /// Prefix of the SVG element ids (the clip path), unique per plot when several are inlined in one page.
  public var idPrefix: String

  public init(
    title: String, xLabel: String, yLabel: String, series: [PlotSeries], referenceSlopes: [Double] = [1, 2],
    logY: Bool = true, referenceSymbol: String = "h", horizontalReferences: [Double] = [], xTicks: [Double]? = nil,
    plotWidth: Double = 480, plotHeight: Double = 360, idPrefix: String = "plot"
  ) {
    self.title = title
    self.xLabel = xLabel
    self.yLabel = yLabel
    self.series = series
    self.referenceSlopes = referenceSlopes
    self.logY = logY
    self.referenceSymbol = referenceSymbol
    self.horizontalReferences = horizontalReferences
    self.xTicks = xTicks
    self.plotWidth = plotWidth
    self.plotHeight = plotHeight
    self.idPrefix = idPrefix
  }

  /// Writes `svg()` atomically. Throws `InvalidInput` for a non-positive plot size.
  public func write(to url: URL) throws {
    guard plotWidth >= 100, plotHeight >= 80, plotWidth.isFinite, plotHeight.isFinite else {
      throw InvalidInput("plotWidth/plotHeight", "must be at least 100 × 80 px, got \(plotWidth) × \(plotHeight)")
    }
    try OutputFile.write(svg(), to: url)
  }

  // Typography and spacing, px.
  static let tickFont = 12.0
  static let labelFont = 13.0
  static let titleFont = 15.0
  static let legendFont = 12.0
  static let tickLength = 6.0
  static let minorTickLength = 3.0
  static let markerSize = 8.0
  static let legendRow = 20.0
  static let legendSample = 30.0

  /// The complete SVG document.
  public func svg() -> String {
    let plotWidth = max(100, plotWidth.isFinite ? plotWidth : 480)
    let plotHeight = max(80, plotHeight.isFinite ? plotHeight : 360)
    let shown: [[(Double, Double)?]] = series.map { s in
      s.points.map { p in
        PlotAxis.canShow(p.0, logScale: true) && PlotAxis.canShow(p.1, logScale: logY) ? p : nil
      }
    }
    let allPoints = shown.flatMap { $0.compactMap { $0 } }
    let xAxis = PlotAxis.logarithmic(
      values: allPoints.map(\.0), length: plotWidth, fontSize: Self.tickFont, vertical: false, explicitTicks: xTicks)
    let yValues = allPoints.map(\.1) + (logY ? horizontalReferences.filter { $0 > 0 && $0.isFinite } : horizontalReferences.filter(\.isFinite))
    let yAxis = logY
      ? PlotAxis.logarithmic(values: yValues, length: plotHeight, fontSize: Self.tickFont, vertical: true, explicitTicks: nil)
      : PlotAxis.linear(values: yValues, length: plotHeight, fontSize: Self.tickFont, vertical: true)

    // Legend entries and margins.
    let legendNames: [String] = zip(series, shown).map { s, points in
      let skipped = points.filter { $0 == nil }.count
      return skipped > 0 ? "\(s.name) (\(skipped) skipped)" : s.name
    }
    let legendTextWidth = legendNames.map { SVGText.width($0, fontSize: Self.legendFont) }.max() ?? 0
    let legendWidth = series.isEmpty ? 0 : 8 + Self.legendSample + 8 + legendTextWidth + 10
    let legendHeight = series.isEmpty ? 0 : 6 + Double(series.count) * Self.legendRow + 4
    let yTickWidth = yAxis.major.compactMap { $0.label?.width(fontSize: Self.tickFont) }.max() ?? 0
    let left = 14 + Self.labelFont + 12 + yTickWidth + 4 + Self.tickLength
    // The title is laid out against the figure width without it; wrapping adds lines to the top margin.
    let figureWidthEstimate = 14 + Self.labelFont + 12 + yTickWidth + 4 + Self.tickLength + plotWidth
      + (series.isEmpty ? 20 : 18 + legendWidth + 14)
    let titleLayout = layoutTitle(maxWidth: figureWidthEstimate - 20)
    let top = 14 + Double(titleLayout.lines.count) * titleLayout.fontSize * 1.25 + 8
    let bottom = Self.tickLength + 4 + Self.tickFont * 1.3 + 12 + Self.labelFont + 12
    let right = series.isEmpty ? 20 : 18 + legendWidth + 14
    let width = left + plotWidth + right
    let height = max(top + plotHeight + bottom, top + legendHeight + 14)
    let frame = Frame(left: left, top: top, width: plotWidth, height: plotHeight, x: xAxis, y: yAxis)

    var out = ""
    out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(SVGText.n(width))\" height=\"\(SVGText.n(height))\" "
    out += "viewBox=\"0 0 \(SVGText.n(width)) \(SVGText.n(height))\" font-family=\"\(SVGText.fontFamily)\">\n"
    out += "<title>\(SVGText.escape(title))</title>\n"
    out += "<rect x=\"0\" y=\"0\" width=\"\(SVGText.n(width))\" height=\"\(SVGText.n(height))\" fill=\"#ffffff\"/>\n"
    out += "<defs><clipPath id=\"\(SVGText.escape(idPrefix))-area\"><rect x=\"\(SVGText.n(left))\" y=\"\(SVGText.n(top))\" "
    out += "width=\"\(SVGText.n(plotWidth))\" height=\"\(SVGText.n(plotHeight))\"/></clipPath></defs>\n"
    out += axesSVG(frame)
    out += titleSVG(titleLayout, width: width, frame: frame)
    if allPoints.isEmpty {
      out += "<text x=\"\(SVGText.n(left + plotWidth / 2))\" y=\"\(SVGText.n(top + plotHeight / 2))\" text-anchor=\"middle\" "
      out += "font-size=\"\(SVGText.n(Self.labelFont))\" fill=\"#666666\">no data to show</text>\n"
    }
    let clip = "clip-path=\"url(#\(SVGText.escape(idPrefix))-area)\""
    out += "<g class=\"references\" \(clip)>\n"
    for level in horizontalReferences {
      guard let fy = yAxis.fraction(level), fy >= 0, fy <= 1 else { continue }
      let py = frame.py(fy)
      out += "<path d=\"M\(SVGText.n(left)) \(SVGText.n(py)) L\(SVGText.n(left + plotWidth)) \(SVGText.n(py))\" "
      out += "fill=\"none\" stroke=\"#777777\" stroke-width=\"1.2\" stroke-dasharray=\"5 4\"/>\n"
    }
    out += "</g>\n"
    let referenceLines = logY ? referenceSegments(allPoints: allPoints, shown: shown, frame: frame) : []
    for line in referenceLines {
      out += "<path class=\"reference-slope\" d=\"M\(SVGText.n(line.start.0)) \(SVGText.n(line.start.1)) "
      out += "L\(SVGText.n(line.end.0)) \(SVGText.n(line.end.1))\" fill=\"none\" stroke=\"#666666\" stroke-width=\"1.3\" "
      out += "stroke-dasharray=\"6 4\" \(clip)/>\n"
    }
    out += seriesSVG(shown: shown, frame: frame, clip: clip)
    out += referenceLabelsSVG(referenceLines, shown: shown, frame: frame)
    out += legendSVG(names: legendNames, x: left + plotWidth + 18, y: top, width: legendWidth, height: legendHeight)
    out += "</svg>\n"
    return out
  }

  /// The plotting area and the axis → pixel maps.
  struct Frame {
    let left: Double
    let top: Double
    let width: Double
    let height: Double
    let x: PlotAxis
    let y: PlotAxis
    var right: Double { left + width }
    var bottom: Double { top + height }
    func px(_ fraction: Double) -> Double { left + width * fraction }
    func py(_ fraction: Double) -> Double { top + height * (1 - fraction) }
    func pixel(_ point: (Double, Double)) -> (Double, Double)? {
      guard let fx = x.fraction(point.0), let fy = y.fraction(point.1) else { return nil }
      return (px(fx), py(fy))
    }
  }

  private func axesSVG(_ f: Frame) -> String {
    var grid = ""
    var ticks = ""
    var labels = ""
    for tick in f.x.major {
      guard let fx = f.x.fraction(tick.value), fx >= -1e-9, fx <= 1 + 1e-9 else { continue }
      let x = f.px(fx)
      grid += "M\(SVGText.n(x)) \(SVGText.n(f.top)) L\(SVGText.n(x)) \(SVGText.n(f.bottom)) "
      ticks += "M\(SVGText.n(x)) \(SVGText.n(f.bottom)) L\(SVGText.n(x)) \(SVGText.n(f.bottom + Self.tickLength)) "
      if let label = tick.label {
        labels += "<text x=\"\(SVGText.n(x))\" y=\"\(SVGText.n(f.bottom + Self.tickLength + 4 + Self.tickFont * 1.15))\" "
        labels += "text-anchor=\"middle\">\(label.svgContent(fontSize: Self.tickFont))</text>\n"
      }
    }
    for value in f.x.minor {
      guard let fx = f.x.fraction(value), fx >= 0, fx <= 1 else { continue }
      let x = f.px(fx)
      ticks += "M\(SVGText.n(x)) \(SVGText.n(f.bottom)) L\(SVGText.n(x)) \(SVGText.n(f.bottom + Self.minorTickLength)) "
    }
    for tick in f.y.major {
      guard let fy = f.y.fraction(tick.value), fy >= -1e-9, fy <= 1 + 1e-9 else { continue }
      let y = f.py(fy)
      grid += "M\(SVGText.n(f.left)) \(SVGText.n(y)) L\(SVGText.n(f.right)) \(SVGText.n(y)) "
      ticks += "M\(SVGText.n(f.left - Self.tickLength)) \(SVGText.n(y)) L\(SVGText.n(f.left)) \(SVGText.n(y)) "
      if let label = tick.label {
        labels += "<text x=\"\(SVGText.n(f.left - Self.tickLength - 4))\" y=\"\(SVGText.n(y + Self.tickFont * 0.36))\" "
        labels += "text-anchor=\"end\">\(label.svgContent(fontSize: Self.tickFont))</text>\n"
      }
    }
    for value in f.y.minor {
      guard let fy = f.y.fraction(value), fy >= 0, fy <= 1 else { continue }
      let y = f.py(fy)
      ticks += "M\(SVGText.n(f.left - Self.minorTickLength)) \(SVGText.n(y)) L\(SVGText.n(f.left)) \(SVGText.n(y)) "
    }
    var out = "<g class=\"grid\"><path d=\"\(grid)\" fill=\"none\" stroke=\"#e3e3e3\" stroke-width=\"1\"/></g>\n"
    out += "<g class=\"axes\" fill=\"none\" stroke=\"#333333\" stroke-width=\"1\">"
    out += "<rect x=\"\(SVGText.n(f.left))\" y=\"\(SVGText.n(f.top))\" width=\"\(SVGText.n(f.width))\" height=\"\(SVGText.n(f.height))\"/>"
    out += "<path d=\"\(ticks)\"/></g>\n"
    out += "<g class=\"tick-labels\" font-size=\"\(SVGText.n(Self.tickFont))\" fill=\"#222222\">\n\(labels)</g>\n"
    let xLabelY = f.bottom + Self.tickLength + 4 + Self.tickFont * 1.3 + 12 + Self.labelFont * 0.8
    out += "<text class=\"x-label\" x=\"\(SVGText.n(f.left + f.width / 2))\" y=\"\(SVGText.n(xLabelY))\" text-anchor=\"middle\" "
    out += "font-size=\"\(SVGText.n(Self.labelFont))\" fill=\"#111111\">\(SVGText.escape(xLabel))</text>\n"
    let yLabelX = 14 + Self.labelFont * 0.8
    let yLabelY = f.top + f.height / 2
    out += "<text class=\"y-label\" x=\"\(SVGText.n(yLabelX))\" y=\"\(SVGText.n(yLabelY))\" text-anchor=\"middle\" "
    out += "transform=\"rotate(-90 \(SVGText.n(yLabelX)) \(SVGText.n(yLabelY)))\" font-size=\"\(SVGText.n(Self.labelFont))\" "
    out += "fill=\"#111111\">\(SVGText.escape(yLabel))</text>\n"
    return out
  }

  /// Bold text runs about 12 % wider than the regular advance widths `SVGText.width` knows.
  static let boldFactor = 1.12

  /// The title in as few lines as fit `maxWidth` at the title font (wrapped at spaces, at most 3 lines), shrunk
  /// when a single word or the third line is still too wide.
  func layoutTitle(maxWidth: Double) -> (lines: [String], fontSize: Double) {
    let size = Self.titleFont
    func width(_ text: String, _ size: Double) -> Double { SVGText.width(text, fontSize: size) * Self.boldFactor }
    var lines: [String] = []
    var current = ""
    for word in title.split(separator: " ", omittingEmptySubsequences: true).map(String.init) {
      let candidate = current.isEmpty ? word : current + " " + word
      if current.isEmpty || width(candidate, size) <= maxWidth || lines.count == 2 {
        current = candidate
      } else {
        lines.append(current)
        current = word
      }
    }
    if !current.isEmpty || lines.isEmpty { lines.append(current) }
    let widest = lines.map { width($0, size) }.max() ?? 0
    return (lines, widest > maxWidth ? max(6, size * maxWidth / widest) : size)
  }

  /// The title centred over the plotting area, or over the whole figure when it is wider than the plotting area.
  private func titleSVG(_ layout: (lines: [String], fontSize: Double), width: Double, frame f: Frame) -> String {
    let widest = layout.lines.map { SVGText.width($0, fontSize: layout.fontSize) * Self.boldFactor }.max() ?? 0
    let center = widest > f.width ? width / 2 : f.left + f.width / 2
    var out = "<text class=\"title\" x=\"\(SVGText.n(center))\" y=\"\(SVGText.n(14 + layout.fontSize))\" text-anchor=\"middle\" "
    out += "font-size=\"\(SVGText.n(layout.fontSize))\" font-weight=\"bold\" fill=\"#111111\">"
    for (index, line) in layout.lines.enumerated() {
      let dy = index == 0 ? "0" : SVGText.n(layout.fontSize * 1.25)
      out += "<tspan x=\"\(SVGText.n(center))\" dy=\"\(dy)\">\(SVGText.escape(line))</tspan>"
    }
    return out + "</text>\n"
  }

  private func color(_ index: Int) -> String { PlotPalette.color(series[index].colorIndex ?? index) }
  private func marker(_ index: Int) -> MarkerShape {
    series[index].marker ?? MarkerShape.allCases[index % MarkerShape.allCases.count]
  }

  private func seriesSVG(shown: [[(Double, Double)?]], frame: Frame, clip: String) -> String {
    var out = "<g class=\"series\" \(clip)>\n"
    for (index, points) in shown.enumerated() {
      let s = series[index]
      var d = ""
      var penDown = false
      for point in points {
        guard let point, let (x, y) = frame.pixel(point) else {
          penDown = false
          continue
        }
        d += (penDown ? "L" : "M") + "\(SVGText.n(x)) \(SVGText.n(y)) "
        penDown = true
      }
      let dash = s.style == .dashed ? " stroke-dasharray=\"7 4\"" : ""
      out += "<path class=\"series-line\" data-series=\"\(SVGText.escape(s.name))\" d=\"\(d.isEmpty ? "M0 0" : d)\" "
      out += "fill=\"none\" stroke=\"\(color(index))\" stroke-width=\"1.8\" stroke-linejoin=\"round\"\(dash)"
      out += d.isEmpty ? " visibility=\"hidden\"/>\n" : "/>\n"
      out += "<g class=\"markers\">"
      for point in points.compactMap({ $0 }) {
        guard let (x, y) = frame.pixel(point) else { continue }
        out += markerSVG(index, x: x, y: y)
      }
      out += "</g>\n"
    }
    return out + "</g>\n"
  }

  private func markerSVG(_ index: Int, x: Double, y: Double) -> String {
    let hollow = series[index].hollowMarkers
    return marker(index).svg(
      x: x, y: y, size: Self.markerSize, fill: hollow ? "#ffffff" : color(index),
      stroke: hollow ? color(index) : "#ffffff", strokeWidth: hollow ? 1.5 : 0.8)
  }

  private func legendSVG(names: [String], x: Double, y: Double, width: Double, height: Double) -> String {
    guard !series.isEmpty else { return "" }
    var out = "<g class=\"legend\">\n"
    out += "<rect x=\"\(SVGText.n(x))\" y=\"\(SVGText.n(y))\" width=\"\(SVGText.n(width))\" height=\"\(SVGText.n(height))\" "
    out += "fill=\"#ffffff\" stroke=\"#bbbbbb\" stroke-width=\"1\" rx=\"3\"/>\n"
    for (index, name) in names.enumerated() {
      let rowY = y + 6 + Self.legendRow * (Double(index) + 0.5)
      let x0 = x + 8
      let dash = series[index].style == .dashed ? " stroke-dasharray=\"7 4\"" : ""
      out += "<g class=\"legend-entry\">"
      out += "<path d=\"M\(SVGText.n(x0)) \(SVGText.n(rowY)) L\(SVGText.n(x0 + Self.legendSample)) \(SVGText.n(rowY))\" "
      out += "fill=\"none\" stroke=\"\(color(index))\" stroke-width=\"1.8\"\(dash)/>"
      out += markerSVG(index, x: x0 + Self.legendSample / 2, y: rowY)
      out += "<text x=\"\(SVGText.n(x0 + Self.legendSample + 8))\" y=\"\(SVGText.n(rowY + Self.legendFont * 0.36))\" "
      out += "font-size=\"\(SVGText.n(Self.legendFont))\" fill=\"#111111\">\(SVGText.escape(name))</text></g>\n"
    }
    return out + "</g>\n"
  }
}
