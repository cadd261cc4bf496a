import Foundation

/// One line of a plot: points joined in order by a line, with a marker at each point. Points that cannot be shown
/// (NaN, ±∞, or ≤ 0 on a log axis: failed runs, exact zeros) are skipped and break the line; the legend counts them.
public struct PlotSeries: Sendable {
  public enum Style: Sendable, Equatable {
    case solid
    case dashed
  }

  public var name: String
  public var points: [(Double, Double)]
  public var style: Style
  /// Index into `PlotPalette.colors` (Okabe–Ito); nil: the series' position in the plot.
  public var colorIndex: Int?
  /// Marker shape; nil: by the series' position in the plot.
  public var marker: MarkerShape?
  /// Open (white-filled) markers instead of filled ones.
  public var hollowMarkers: Bool

  public init(
    name: String, points: [(Double, Double)], style: Style = .solid, colorIndex: Int? = nil,
    marker: MarkerShape? = nil, hollowMarkers: Bool = false
  ) {
    self.name = name
    self.points = points
    self.style = style
    self.colorIndex = colorIndex
    self.marker = marker
    self.hollowMarkers = hollowMarkers
  }
}

/// Marker shapes, distinguishable without colour.
public enum MarkerShape: Int, Sendable, CaseIterable {
  case circle, square, triangleUp, diamond, triangleDown, cross, plus, star

  /// SVG for a marker of size `size` px (about its bounding box) centred at (x, y).
  func svg(x: Double, y: Double, size: Double, fill: String, stroke: String, strokeWidth: Double) -> String {
    let r = size / 2
    let style = "fill=\"\(fill)\" stroke=\"\(stroke)\" stroke-width=\(q(strokeWidth))"
    func polygon(_ vertices: [(Double, Double)]) -> String {
      let d = vertices.enumerated().map { ($0.offset == 0 ? "M" : "L") + SVGText.n(x + $0.element.0) + " " + SVGText.n(y + $0.element.1) }
      return "<path d=\"\(d.joined(separator: " ")) Z\" \(style)/>"
    }
    switch self {
    case .circle:
      return "<circle cx=\(q(x)) cy=\(q(y)) r=\(q(r * 0.95)) \(style)/>"
    case .square:
      let s = r * 0.85
      return polygon([(-s, -s), (s, -s), (s, s), (-s, s)])
    case .triangleUp:
      return polygon([(0, -r * 1.1), (r * 1.05, r * 0.75), (-r * 1.05, r * 0.75)])
    case .triangleDown:
      return polygon([(0, r * 1.1), (r * 1.05, -r * 0.75), (-r * 1.05, -r * 0.75)])
    case .diamond:
      return polygon([(0, -r * 1.2), (r * 0.9, 0), (0, r * 1.2), (-r * 0.9, 0)])
    case .cross, .plus:
      // Stroked shapes: the colour goes to the stroke, thick enough to read.
      let s = r * 0.95
      let d = self == .cross
        ? "M\(SVGText.n(x - s)) \(SVGText.n(y - s)) L\(SVGText.n(x + s)) \(SVGText.n(y + s)) M\(SVGText.n(x - s)) \(SVGText.n(y + s)) L\(SVGText.n(x + s)) \(SVGText.n(y - s))"
        : "M\(SVGText.n(x - s * 1.15)) \(SVGText.n(y)) L\(SVGText.n(x + s * 1.15)) \(SVGText.n(y)) M\(SVGText.n(x)) \(SVGText.n(y - s * 1.15)) L\(SVGText.n(x)) \(SVGText.n(y + s * 1.15))"
      let color = fill == "#ffffff" ? stroke : fill
      return "<path d=\"\(d)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2.2\" stroke-linecap=\"round\"/>"
    case .star:
      var vertices: [(Double, Double)] = []
      for i in 0..<10 {
        let angle = -Double.pi / 2 + Double(i) * Double.pi / 5
        let radius = i % 2 == 0 ? r * 1.25 : r * 0.55
        vertices.append((radius * cos(angle), radius * sin(angle)))
      }
      return polygon(vertices)
    }
  }

  private func q(_ value: Double) -> String { "\"\(SVGText.n(value))\"" }
}

/// The Okabe–Ito colour-blind-safe palette, ordered for contrast on white (yellow last).
public enum PlotPalette {
  public static let colors = [
    "#0072B2",  // blue
    "#D55E00",  // vermillion
    "#009E73",  // bluish green
    "#CC79A7",  // reddish purple
    "#E69F00",  // orange
    "#56B4E9",  // sky blue
    "#000000",  // black
    "#F0E442",  // yellow
  ]

  public static func color(_ index: Int) -> String {
    colors[((index % colors.count) + colors.count) % colors.count]
  }
}
