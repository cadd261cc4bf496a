import Foundation

extension LogLogPlot {
  /// A reference line y = C·x^p in pixels, left end first.
  struct ReferenceLine {
    let slope: Double
    let start: (Double, Double)
    let end: (Double, Double)
    let label: RichText
  }

  /// Lines y = C·x^p, each anchored a factor 3 below the series whose own log-log slope is closest to p (within
  /// 0.5; the lowest such series) and spanning that series' x range, so the eye compares slopes side by side. With
  /// no such series the line spans all data and starts a factor 3 below the lowest series at the coarse end. Only
  /// the part inside the plotting area is kept; lines that would be invisible are left out.
  func referenceSegments(allPoints: [(Double, Double)], shown: [[(Double, Double)?]], frame: Frame) -> [ReferenceLine] {
    guard !allPoints.isEmpty else { return [] }
    let logSeries: [[(Double, Double)]] = shown.map { points in points.compactMap { $0 }.map { (log10($0.0), log10($0.1)) } }
    let offset = log10(3.0)
    var lines: [ReferenceLine] = []
    for p in referenceSlopes where p.isFinite {
      // Candidates: series with ≥ 2 points whose least-squares slope is within 0.5 of p; among those within 0.15 of
      // the closest slope, the lowest. Anchor c = mean(v − p·u) − log10(3).
      var candidates: [(gap: Double, c: Double, uMin: Double, uMax: Double)] = []
      for points in logSeries where points.count >= 2 {
        guard let slope = Self.slope(points), abs(slope - p) <= 0.5 else { continue }
        let c = points.reduce(0) { $0 + $1.1 - p * $1.0 } / Double(points.count) - offset
        candidates.append((abs(slope - p), c, points.map(\.0).min()!, points.map(\.0).max()!))  // invariant: count ≥ 2
      }
      var anchor: (c: Double, uMin: Double, uMax: Double)? = nil
      if let closest = candidates.map(\.gap).min() {
        let best = candidates.filter { $0.gap <= closest + 0.15 }.min { $0.c < $1.c }!  // invariant: closest is in it
        anchor = (best.c, best.uMin, best.uMax)
      }
      if anchor == nil {
        let uAll = allPoints.map { log10($0.0) }
        let uMax = uAll.max()!  // invariant: allPoints is not empty
        let coarseEnds = logSeries.compactMap { points in points.max { $0.0 < $1.0 } }
        let v = coarseEnds.map(\.1).min()! - offset  // invariant: a shown point implies a coarse end
        anchor = (v - p * uMax, uAll.min()!, uMax)  // invariant: allPoints is not empty
      }
      guard let (c, uMin, uMax) = anchor else { continue }
      // v(u) = c + p·u, clipped to the visible x and y ranges.
      var lo = max(uMin, frame.x.lower)
      var hi = min(uMax, frame.x.upper)
      if p != 0 {
        let a = (frame.y.lower - c) / p
        let b = (frame.y.upper - c) / p
        lo = max(lo, min(a, b))
        hi = min(hi, max(a, b))
      } else if c < frame.y.lower || c > frame.y.upper {
        continue
      }
      guard hi > lo else { continue }
      func pixel(_ u: Double) -> (Double, Double) {
        let fx = (u - frame.x.lower) / (frame.x.upper - frame.x.lower)
        let fy = (c + p * u - frame.y.lower) / (frame.y.upper - frame.y.lower)
        return (frame.px(fx), frame.py(fy))
      }
      let start = pixel(lo)
      let end = pixel(hi)
      guard hypot(end.0 - start.0, end.1 - start.1) >= 24 else { continue }
      lines.append(ReferenceLine(slope: p, start: start, end: end, label: RichText.order(p, symbol: referenceSymbol)))
    }
    return lines
  }

  /// Least-squares slope of v on u; nil when all u are equal.
  static func slope(_ points: [(Double, Double)]) -> Double? {
    let n = Double(points.count)
    let uMean = points.reduce(0) { $0 + $1.0 } / n
    let vMean = points.reduce(0) { $0 + $1.1 } / n
    let suu = points.reduce(0) { $0 + ($1.0 - uMean) * ($1.0 - uMean) }
    let suv = points.reduce(0) { $0 + ($1.0 - uMean) * ($1.1 - vMean) }
    return suu > 0 ? suv / suu : nil
  }

  /// Each reference line's label beside its line, at the position (searched from the left end) that overlaps the
  /// fewest markers, series lines, other reference lines and labels; drawn with a white halo.
  func referenceLabelsSVG(_ lines: [ReferenceLine], shown: [[(Double, Double)?]], frame: Frame) -> String {
    guard !lines.isEmpty else { return "" }
    var obstacles: [Box] = []
    for points in shown {
      var previous: (Double, Double)? = nil
      for point in points {
        guard let point, let pixel = frame.pixel(point) else {
          previous = nil
          continue
        }
        let half = Self.markerSize / 2 + 2
        obstacles.append(Box(x0: pixel.0 - half, y0: pixel.1 - half, x1: pixel.0 + half, y1: pixel.1 + half))
        if let previous { obstacles += Self.samples(from: previous, to: pixel) }
        previous = pixel
      }
    }
    let font = Self.tickFont
    var out = "<g class=\"reference-labels\" font-size=\"\(SVGText.n(font))\" fill=\"#444444\">\n"
    for (index, line) in lines.enumerated() {
      var others = obstacles
      for (otherIndex, other) in lines.enumerated() where otherIndex != index {
        others += Self.samples(from: other.start, to: other.end)
      }
      let width = line.label.width(fontSize: font)
      var best: (score: Double, x: Double, y: Double, box: Box)? = nil
      for step in 0...40 {
        let t = Double(step) / 40
        let px = line.start.0 + t * (line.end.0 - line.start.0)
        let py = line.start.1 + t * (line.end.1 - line.start.1)
        // Below-right of a rising line (the lines sit below the data they are anchored to), below-left of a
        // falling one: the text hangs from a point 5 px below the line.
        let x0 = line.slope >= 0 ? px + 3 : px - 3 - width
        let baseline = py + 5 + font * 1.05
        let box = Box(x0: x0 - 1, y0: baseline - font * 1.2, x1: x0 + width + 1, y1: baseline + font * 0.28)
        guard box.x0 >= frame.left + 2, box.x1 <= frame.right - 2, box.y0 >= frame.top + 2, box.y1 <= frame.bottom - 2
        else { continue }
        let score = others.reduce(0) { $0 + $1.overlap(box) }
        if best == nil || score < best!.score - 1e-9 {  // invariant: best is non-nil when compared
          best = (score, x0, baseline, box)
        }
        if score == 0 { break }
      }
      guard let best else { continue }
      obstacles.append(best.box)
      out += "<text class=\"reference-label\" x=\"\(SVGText.n(best.x))\" y=\"\(SVGText.n(best.y))\" stroke=\"#ffffff\" "
      out += "stroke-width=\"3\" stroke-linejoin=\"round\" paint-order=\"stroke\">\(line.label.svgContent(fontSize: font))</text>\n"
    }
    return out + "</g>\n"
  }

  /// An axis-aligned box in pixels.
  struct Box {
    var x0: Double
    var y0: Double
    var x1: Double
    var y1: Double

    func overlap(_ other: Box) -> Double {
      max(0, min(x1, other.x1) - max(x0, other.x0)) * max(0, min(y1, other.y1) - max(y0, other.y0))
    }
  }

  /// Small boxes every 4 px along a segment, standing in for the line as an obstacle.
  static func samples(from a: (Double, Double), to b: (Double, Double)) -> [Box] {
    let length = hypot(b.0 - a.0, b.1 - a.1)
    let count = max(1, Int(length / 4))
    return (0...count).map { i in
      let t = Double(i) / Double(count)
      let x = a.0 + t * (b.0 - a.0)
      let y = a.1 + t * (b.1 - a.1)
      return Box(x0: x - 2, y0: y - 2, x1: x + 2, y1: y + 2)
    }
  }
}
