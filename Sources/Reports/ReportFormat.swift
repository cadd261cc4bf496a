import Foundation

/// Number formatting shared by the report writers.
public enum ReportFormat {
  /// Shortest text that reads back as exactly `value` (Swift's round-trip description); "nan", "inf", "-inf".
  public static func roundTrip(_ value: Double) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value > 0 ? "inf" : "-inf" }
    return "\(value)"
  }

  /// `digits` significant digits, trailing zeros removed (%g style): 0.25, 1e-11, 1.3.
  public static func short(_ value: Double, digits: Int = 3) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value > 0 ? "inf" : "-inf" }
    return String(format: "%.\(max(1, digits))g", value)
  }

  /// Fixed decimals: 1.98, 0.05.
  public static func fixed(_ value: Double, decimals: Int = 2) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value > 0 ? "inf" : "-inf" }
    let text = String(format: "%.\(max(0, decimals))f", value)
    // Avoid "-0.00".
    if text.hasPrefix("-"), Double(text) == 0 { return String(text.dropFirst()) }
    return text
  }
}
