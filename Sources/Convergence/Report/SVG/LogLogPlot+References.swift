import Foundation

extension LogLogPlot {
  /// A reference line y = C·x^p in pixels, left end first.
  struct ReferenceLine {
    let slope: Double
    let start: (Double, Double)
    let end: (Double, Double)
    let label: RichText
  }

  /// Lines y = C·x^p over the data's x range, anchored at the coarse (largest-x) end a factor 2.5 below the lowest
  /// series there; only the part inside the plotting area is kept, lines that would be invisible are left out.
  func referenceSegments(allPoints: [(Double, Double)], shown: [[(Double, Double)?]], frame: Frame) -> [ReferenceLine] {
    guard !allPoints.isEmpty else { return [] }
    let coarseEnds = shown.compactMap { points in points.compactMap { $0 }.max { $0.0 < $1.0 } }
    let xAnchor = log10(allPoints.map(\.0).max()!)  // invariant: allPoints is not empty
    let yAnchor = log10(coarseEnds.map(\.1).min()!) - log10(2.5)  // invariant: a shown point implies a coarse end
    let uMin = max(log10(allPoints.map(\.0).min()!), frame.x.lower)  // invariant: allPoints is not empty
    let uMax = min(xAnchor, frame.x.upper)
    var lines: [ReferenceLine] = []
    for p in referenceSlopes where p.isFinite {
      // v(u) = yAnchor + p·(u − xAnchor), clipped to the visible y range.
      var lo = uMin
      var hi = uMax
      if p != 0 {
        let a = xAnchor + (frame.y.lower - yAnchor) / p
        let b = xAnchor + (frame.y.upper - yAnchor) / p
        lo = max(lo, min(a, b))
        hi = min(hi, max(a, b))
      } else if yAnchor < frame.y.lower || yAnchor > frame.y.upper {
        continue
      }
      guard hi > lo else { continue }
      func pixel(_ u: Double) -> (Double, Double) {
        let fx = (u - frame.x.lower) / (frame.x.upper - frame.x.lower)
        let fy = (yAnchor + p * (u - xAnchor) - frame.y.lower) / (frame.y.upper - frame.y.lower)
        return (frame.px(fx), frame.py(fy))
      }
      let start = pixel(lo)
      let end = pixel(hi)
      guard hypot(end.0 - start.0, end.1 - start.1) >= 24 else { continue }
      lines.append(ReferenceLine(slope: p, start: start, end: end, label: RichText.order(p, symbol: referenceSymbol)))
    }
    return lines
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
        // Above-left of a rising line (text ends left of the point), above-right of a falling one.
        let x0 = line.slope > 0 ? px - 4 - width : px + 4
        let baseline = py - 6
        let box = Box(x0: x0 - 1, y0: baseline - font * 1.25, x1: x0 + width + 1, y1: baseline + font * 0.28)
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
