import Foundation

/// One axis of a plot: its scale, visible range and ticks. Log axes carry decade ticks labelled 10^k and minor ticks
/// at 2..9 × 10^k; linear axes carry "nice" ticks (1, 2, 2.5, 5 × 10^k).
struct PlotAxis {
  struct Tick {
    var value: Double
    var label: RichText?  // nil: an unlabelled major tick
  }

  let logScale: Bool
  /// Visible range in axis units: log10 of the value on a log axis, the value itself on a linear axis.
  let lower: Double
  let upper: Double
  let major: [Tick]
  let minor: [Double]

  /// Position of `value` along the axis in [0, 1]; nil when it cannot be shown (non-finite, ≤ 0 on a log axis).
  func fraction(_ value: Double) -> Double? {
    guard value.isFinite else { return nil }
    if logScale {
      guard value > 0 else { return nil }
      return (log10(value) - lower) / (upper - lower)
    }
    return (value - lower) / (upper - lower)
  }

  /// Axis units of a value (log10 on a log axis).
  func unit(_ value: Double) -> Double { logScale ? log10(value) : value }

  static func canShow(_ value: Double, logScale: Bool) -> Bool {
    value.isFinite && (!logScale || value > 0)
  }

  /// A log axis covering `values` (already filtered to finite positives) with 5 % padding, at least two decade
  /// ticks, labels thinned so that labels `labelGap` px apart fit into `length` px.
  static func logarithmic(values: [Double], length: Double, fontSize: Double, vertical: Bool, explicitTicks: [Double]?) -> PlotAxis {
    var lo = values.map(log10).min() ?? -1
    var hi = values.map(log10).max() ?? 0
    if let ticks = explicitTicks?.filter({ $0 > 0 && $0.isFinite }), !ticks.isEmpty {
      lo = min(lo, ticks.map(log10).min()!)  // invariant: ticks is not empty
      hi = max(hi, ticks.map(log10).max()!)  // invariant: ticks is not empty
    }
    if hi - lo < 1e-9 {
      lo -= 0.5
      hi += 0.5
    }
    let pad = 0.05 * (hi - lo)
    let lower = lo - pad
    let upper = hi + pad
    let pixelsPerUnit = length / (upper - lower)

    if let explicit = explicitTicks?.filter({ $0 > 0 && $0.isFinite }).sorted(), !explicit.isEmpty {
      // Plain-number labels (e.g. step counts M), thinned so neighbours do not collide.
      var ticks: [Tick] = []
      var lastEdge = -Double.infinity
      for value in explicit {
        let label = RichText(plainNumber(value))
        let position = (log10(value) - lower) * pixelsPerUnit
        let extent = vertical ? fontSize * 1.2 : label.width(fontSize: fontSize)
        if position - extent / 2 >= lastEdge + 6 {
          ticks.append(Tick(value: value, label: label))
          lastEdge = position + extent / 2
        } else {
          ticks.append(Tick(value: value, label: nil))
        }
      }
      // No 2..9 × 10^k minor ticks: they would not line up with ticks such as powers of two.
      return PlotAxis(logScale: true, lower: lower, upper: upper, major: ticks, minor: [])
    }

    let first = Int(Foundation.ceil(lower - 1e-9))
    let last = Int(Foundation.floor(upper + 1e-9))
    if last - first + 1 < 2 {
      return narrowLogarithmic(lower: lower, upper: upper, length: length, fontSize: fontSize, vertical: vertical)
    }
    let widest = (first...last).map { RichText.powerOfTen($0).width(fontSize: fontSize) }.max() ?? 0
    let extent = vertical ? fontSize * 1.6 : widest
    let step = max(1, Int(Foundation.ceil((extent + 8) / pixelsPerUnit)))
    let ticks = (first...last).map { k in
      Tick(value: pow(10, Double(k)), label: k % step == 0 ? RichText.powerOfTen(k) : nil)
    }
    return PlotAxis(logScale: true, lower: lower, upper: upper, major: ticks, minor: minorTicks(lower, upper, pixelsPerUnit))
  }

  /// A log axis spanning less than two decade ticks: labelled ticks at m × 10^k ("2×10⁻³") for the densest mantissa
  /// set among {1..9}, {1, 2, 5}, {1, 3}, {1} whose labels fit, the other integer multiples as minor ticks.
  private static func narrowLogarithmic(lower: Double, upper: Double, length: Double, fontSize: Double, vertical: Bool) -> PlotAxis {
    func multiples(_ lower: Double, _ upper: Double) -> [(value: Double, m: Int, k: Int)] {
      var all: [(value: Double, m: Int, k: Int)] = []
      for k in Int(Foundation.floor(lower))...Int(Foundation.ceil(upper)) {
        for m in 1...9 {
          let value = Double(m) * pow(10, Double(k))
          let u = log10(value)
          if u >= lower - 1e-12, u <= upper + 1e-12 { all.append((value, m, k)) }
        }
      }
      return all
    }
    var lower = lower
    var upper = upper
    var all = multiples(lower, upper)
    if all.count < 2 {
      // Widen to the enclosing integer multiples m × 10^k so that at least two ticks exist.
      let kLow = Foundation.floor(lower)
      lower = kLow + log10(Foundation.floor(pow(10, lower - kLow) + 1e-9))
      let kHigh = Foundation.floor(upper)
      upper = kHigh + log10(Foundation.ceil(pow(10, upper - kHigh) - 1e-9))
      all = multiples(lower, upper)
    }
    let pixelsPerUnit = length / (upper - lower)
    func label(_ m: Int, _ k: Int) -> RichText {
      let power = RichText.powerOfTen(k)
      return m == 1 ? power : RichText(runs: [RichText.Run(text: "\(m)×", superscript: false)] + power.runs)
    }
    for mantissas in [Set(1...9), [1, 2, 5], [1, 3], [1]] as [Set<Int>] {
      let chosen = all.filter { mantissas.contains($0.m) }
      // Neighbouring labels must keep 8 px apart.
      var fits = true
      for (a, b) in zip(chosen, chosen.dropFirst()) {
        let gap = (log10(b.value) - log10(a.value)) * pixelsPerUnit
        let need = vertical
          ? fontSize * 1.6
          : (label(a.m, a.k).width(fontSize: fontSize) + label(b.m, b.k).width(fontSize: fontSize)) / 2
        if gap < need + 8 { fits = false }
      }
      guard fits, chosen.count >= 2 || mantissas == [1] else { continue }
      let major = chosen.map { Tick(value: $0.value, label: label($0.m, $0.k)) }
      let minor = all.filter { !mantissas.contains($0.m) }.map(\.value)
      return PlotAxis(logScale: true, lower: lower, upper: upper, major: major, minor: minor)
    }
    return PlotAxis(logScale: true, lower: lower, upper: upper, major: [], minor: all.map(\.value))  // unreachable: [1] always fits
  }

  /// Minor ticks at 2..9 × 10^k, drawn only while a decade is at least 40 px long.
  private static func minorTicks(_ lower: Double, _ upper: Double, _ pixelsPerUnit: Double) -> [Double] {
    guard pixelsPerUnit >= 40 else { return [] }
    var minor: [Double] = []
    for k in Int(Foundation.floor(lower))...Int(Foundation.ceil(upper)) {
      for m in 2...9 {
        let value = Double(m) * pow(10, Double(k))
        let u = log10(value)
        if u >= lower, u <= upper { minor.append(value) }
      }
    }
    return minor
  }

  /// A linear axis covering `values` with 5 % padding and about one tick per `spacing` px.
  static func linear(values: [Double], length: Double, fontSize: Double, vertical: Bool) -> PlotAxis {
    var lo = values.min() ?? 0
    var hi = values.max() ?? 1
    if hi - lo <= 1e-12 * max(1, abs(hi)) {
      let half = max(abs(hi) * 0.05, 1e-9)
      lo -= half
      hi += half
    }
    let pad = 0.05 * (hi - lo)
    let lower = lo - pad
    let upper = hi + pad
    let target = max(2, (length / (vertical ? 50 : 80)).rounded(.down))
    let raw = (upper - lower) / target
    let magnitude = pow(10, Foundation.floor(log10(raw)))
    let mantissa = [1, 2, 2.5, 5, 10].first { $0 * magnitude >= raw } ?? 10
    let step = mantissa * magnitude
    var decimals = max(0, -Int(Foundation.floor(log10(step) + 1e-9)))
    if mantissa == 2.5 { decimals += 1 }
    var ticks: [Tick] = []
    var k = Foundation.ceil(lower / step - 1e-9)
    while k * step <= upper + 1e-9 * step {
      let value = k * step
      ticks.append(Tick(value: value, label: RichText(linearLabel(value, decimals: decimals))))
      k += 1
    }
    return PlotAxis(logScale: false, lower: lower, upper: upper, major: ticks, minor: [])
  }

  private static func linearLabel(_ value: Double, decimals: Int) -> String {
    let magnitude = abs(value)
    let text = (magnitude >= 1e6 || decimals > 10) ? String(format: "%.12g", value) : ReportFormat.fixed(value, decimals: decimals)
    return text.replacingOccurrences(of: "-", with: "\u{2212}")
  }

  private static func plainNumber(_ value: Double) -> String {
    if value == value.rounded(), abs(value) < 1e9 { return String(Int(value)) }
    return ReportFormat.short(value, digits: 3).replacingOccurrences(of: "-", with: "\u{2212}")
  }
}
