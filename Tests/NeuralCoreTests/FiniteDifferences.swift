import DiffusionCore
import XCTest

/// Central differences of the scalar `<v, f(x)>` against an analytic VJP, every coordinate (or a chosen subset).
enum FiniteDifferences {
  /// d/dx_i <v, f(x)> ~ (<v, f(x + h e_i)> - <v, f(x - h e_i)>) / 2h, error O(h^2).
  static func gradient(_ x: [Double], indices: [Int]? = nil, h: Double = 1e-5, _ objective: ([Double]) throws -> Double) rethrows -> [Int: Double] {
    var out: [Int: Double] = [:]
    for i in indices ?? Array(x.indices) {
      var plus = x, minus = x
      plus[i] += h
      minus[i] -= h
      out[i] = (try objective(plus) - objective(minus)) / (2 * h)
    }
    return out
  }

  static func dot(_ a: [Double], _ b: [Double]) -> Double {
    var s = 0.0
    for i in 0..<a.count { s += a[i] * b[i] }
    return s
  }

  /// Asserts |analytic_i - fd_i| <= tolerance max(1, |fd_i|) for every checked coordinate; returns the worst ratio.
  @discardableResult
  static func assertClose(
    _ analytic: [Double], _ fd: [Int: Double], tolerance: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line
  ) -> Double {
    var worst = 0.0
    for (i, expected) in fd {
      let error = abs(analytic[i] - expected) / max(1, abs(expected))
      worst = max(worst, error)
      if error > tolerance {
        XCTFail("\(what)[\(i)]: analytic \(analytic[i]) vs finite differences \(expected)", file: file, line: line)
        return error
      }
    }
    return worst
  }

  static func random(_ n: Int, _ rng: inout SeededGenerator, scale: Double = 1) -> [Double] {
    (0..<n).map { _ in scale * rng.normal() }
  }
}
