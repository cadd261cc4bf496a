import Reports
import DiffusionCore
import Foundation

/// The empirical global order p of a convergence series: the least-squares slope of log(error) on log(h_max),
/// error ≈ C·h_max^p, over the asymptotic range chosen by an `AsymptoticRule`.
public struct OrderFit: Sendable, Equatable {
  /// The fit over `used`; nil when fewer than `rule.minimumPoints` points survive the rule.
  public let line: LineFit?
  /// The points fitted, coarse → fine (h_max decreasing).
  public let used: [ErrorPoint]
  /// The points left out, coarse → fine, each with its reason.
  public let dropped: [DroppedPoint]
  /// False when no tail met the slope-agreement rule and all remaining points were fitted instead.
  public let tailRuleMet: Bool
  public let rule: AsymptoticRule

  /// The fitted order p (the slope), if there is a fit.
  public var order: Double? { line?.slope }
  /// The constant C of error ≈ C·h^p (exp of the intercept of the natural-log fit).
  public var constant: Double? { line.map { exp($0.intercept) } }
  /// Number of points given to the fit, valid or not.
  public var total: Int { used.count + dropped.count }
  public var ruleText: String { rule.text }

  /// A one-line account: "5/7 points; dropped M=4 (pre-asymptotic), M=256 (below-floor)".
  public var usageSummary: String {
    var text = "\(used.count)/\(total) points"
    if !dropped.isEmpty {
      text += "; dropped " + dropped.map { "M=\($0.point.steps) (\($0.reason.rawValue))" }.joined(separator: ", ")
    }
    if line != nil, !tailRuleMet { text += "; local slopes disagree, all remaining points fitted" }
    if line == nil { text += "; too few points to fit" }
    return text
  }

  /// Applies `rule` to `points` (any order) and fits the order. Throws on an invalid rule or two points sharing
  /// an h_max; a series with too few usable points is not an error: it returns `line == nil`.
  public static func fit(_ points: [ErrorPoint], rule: AsymptoticRule = AsymptoticRule()) throws -> OrderFit {
    try rule.validate()
    var dropped: [DroppedPoint] = []
    // Step 1: invalid points.
    var kept: [ErrorPoint] = []
    for point in points {
      if !(point.hMax.isFinite && point.hMax > 0) {
        dropped.append(DroppedPoint(point: point, reason: .invalid, detail: "h_max = \(point.hMax) is not a finite positive number"))
      } else if !(point.error.isFinite && point.error > 0) {
        dropped.append(DroppedPoint(point: point, reason: .invalid, detail: "error = \(point.error) is not a finite positive number"))
      } else {
        kept.append(point)
      }
    }
    kept.sort { $0.hMax > $1.hMax }
    for (a, b) in zip(kept, kept.dropFirst()) where a.hMax == b.hMax {
      throw InvalidInput("points", "M=\(a.steps) and M=\(b.steps) share h_max = \(a.hMax); fit one seed at a time")
    }
    // Step 2: round-off floor.
    kept = kept.filter { point in
      guard point.error < rule.floor else { return true }
      dropped.append(DroppedPoint(
        point: point, reason: .belowFloor,
        detail: "error \(ReportFormat.short(point.error)) < floor \(ReportFormat.short(rule.floor))"))
      return false
    }
    // Step 3: stagnation at the fine end.
    while kept.count >= 2 {
      let finest = kept[kept.count - 1]
      let previous = kept[kept.count - 2]
      let slope = localSlope(previous, finest)
      guard slope < rule.stagnationSlope else { break }
      dropped.append(DroppedPoint(
        point: finest, reason: .stagnated,
        detail: "local slope \(ReportFormat.short(slope)) from M=\(previous.steps) < \(ReportFormat.short(rule.stagnationSlope))"))
      kept.removeLast()
    }
    guard kept.count >= rule.minimumPoints else {
      return OrderFit(line: nil, used: kept, dropped: sorted(dropped), tailRuleMet: false, rule: rule)
    }
    // Step 4: the longest tail whose local slopes agree with its own fitted slope.
    for start in 0...(kept.count - rule.minimumPoints) {
      let tail = Array(kept[start...])
      let line = try lineFit(tail, confidence: rule.confidence)
      let slopes = zip(tail, tail.dropFirst()).map { localSlope($0, $1) }
      guard slopes.allSatisfy({ abs($0 - line.slope) <= rule.slopeTolerance }) else { continue }
      for index in 0..<start {
        let point = kept[index]
        let next = kept[index + 1]
        dropped.append(DroppedPoint(
          point: point, reason: .preAsymptotic,
          detail: "local slope \(ReportFormat.short(localSlope(point, next))) to M=\(next.steps) vs tail slope "
            + "\(ReportFormat.short(line.slope)) (tolerance \(ReportFormat.short(rule.slopeTolerance)))"))
      }
      return OrderFit(line: line, used: tail, dropped: sorted(dropped), tailRuleMet: true, rule: rule)
    }
    let line = try lineFit(kept, confidence: rule.confidence)
    return OrderFit(line: line, used: kept, dropped: sorted(dropped), tailRuleMet: false, rule: rule)
  }

  /// Slope of log(error) against log(h_max) between two points.
  public static func localSlope(_ coarse: ErrorPoint, _ fine: ErrorPoint) -> Double {
    log(coarse.error / fine.error) / log(coarse.hMax / fine.hMax)
  }

  private static func lineFit(_ points: [ErrorPoint], confidence: Double) throws -> LineFit {
    try LineFit(x: points.map { log($0.hMax) }, y: points.map { log($0.error) }, confidence: confidence)
  }

  private static func sorted(_ dropped: [DroppedPoint]) -> [DroppedPoint] {
    // Coarse → fine; invalid h_max (NaN) last, stable otherwise.
    dropped.enumerated().sorted { a, b in
      let ha = a.element.point.hMax.isNaN ? -Double.infinity : a.element.point.hMax
      let hb = b.element.point.hMax.isNaN ? -Double.infinity : b.element.point.hMax
      return ha != hb ? ha > hb : a.offset < b.offset
    }.map(\.element)
  }
}

/// Fitted orders aggregated over seeds: mean, sample standard deviation, min and max.
public struct OrderStatistics: Sendable, Equatable {
  public let count: Int
  public let mean: Double
  /// Sample standard deviation (divisor n − 1); nil for a single order.
  public let standardDeviation: Double?
  public let min: Double
  public let max: Double
  /// Series that had no fit (too few usable points); not part of the statistics.
  public let unfitted: Int

  public init(orders: [Double], unfitted: Int = 0) throws {
    guard !orders.isEmpty else { throw InvalidInput("orders", "needs at least one fitted order") }
    try Check.finite(orders, "orders")
    let n = Double(orders.count)
    let mean = orders.reduce(0, +) / n
    count = orders.count
    self.mean = mean
    standardDeviation = orders.count > 1
      ? (orders.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)).squareRoot() : nil
    min = orders.min()!  // invariant: orders is not empty
    max = orders.max()!  // invariant: orders is not empty
    self.unfitted = unfitted
  }

  /// Statistics of the orders of `fits`; nil when none of them has a fit.
  public static func over(_ fits: [OrderFit]) -> OrderStatistics? {
    let orders = fits.compactMap(\.order)
    return try? OrderStatistics(orders: orders, unfitted: fits.count - orders.count)
  }

  /// "1.98 ± 0.04 (min 1.93, max 2.02, n = 5)".
  public var text: String {
    var text = ReportFormat.fixed(mean)
    if let sd = standardDeviation { text += " ± " + ReportFormat.fixed(sd) }
    text += " (min \(ReportFormat.fixed(min)), max \(ReportFormat.fixed(max)), n = \(count)"
    if unfitted > 0 { text += ", \(unfitted) unfitted" }
    return text + ")"
  }
}
