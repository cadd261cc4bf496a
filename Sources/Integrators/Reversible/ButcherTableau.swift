import DiffusionCore

/// An explicit Runge-Kutta tableau (c, A, b): the base step of Rex's Lawson step (docs/reversible-solvers.md#lawson).
/// Stage i sits at `c_i` of the step and reads the earlier stages through row i of A; the step adds `sum_i b_i k_i`.
public struct ButcherTableau: Sendable, Equatable {
  /// The name used in labels (`rex-<name>`).
  public let name: String
  public let c: [Double]
  /// s x s, strictly lower triangular (explicit).
  public let a: [[Double]]
  public let b: [Double]

  /// The number of stages s (network forwards per step).
  public var stages: Int { b.count }

  /// Throws `InvalidInput("tableau", ...)` unless the sizes agree, every entry is finite, A is strictly lower
  /// triangular (an explicit method) and every c_i lies in [0, 1] (stage times inside the step).
  public init(name: String, c: [Double], a: [[Double]], b: [Double]) throws {
    let s = b.count
    guard s >= 1 else { throw InvalidInput("tableau", "needs at least one stage") }
    guard c.count == s else { throw InvalidInput("tableau", "c has \(c.count) entries, b has \(s)") }
    guard a.count == s, a.allSatisfy({ $0.count == s }) else {
      throw InvalidInput("tableau", "A must be \(s) x \(s) (rows of lengths \(a.map(\.count)))")
    }
    for (field, values) in [("c", c), ("b", b)] + a.enumerated().map({ ("A[\($0.offset)]", $0.element) }) {
      if let j = values.firstIndex(where: { !$0.isFinite }) {
        throw InvalidInput("tableau", "\(field)[\(j)] is not a finite number (\(values[j]))")
      }
    }
    for i in 0..<s {
      for j in i..<s where a[i][j] != 0 {
        throw InvalidInput("tableau", "A[\(i)][\(j)] = \(a[i][j]): A must be strictly lower triangular (an explicit method)")
      }
    }
    if let i = c.firstIndex(where: { !(0...1).contains($0) }) {
      throw InvalidInput("tableau", "c[\(i)] = \(c[i]) lies outside [0, 1]: stage times must lie inside the step")
    }
    self.name = name
    self.c = c
    self.a = a
    self.b = b
  }

  /// The tableaus below are constants that satisfy every check above.
  private init(constant name: String, c: [Double], a: [[Double]], b: [Double]) {
    self.name = name
    self.c = c
    self.a = a
    self.b = b
  }

  /// Forward Euler (order 1): the Lawson step in the data parameterization is DDIM.
  public static let euler = ButcherTableau(constant: "euler", c: [0], a: [[0]], b: [1])
  /// The explicit midpoint rule (order 2).
  public static let midpoint = ButcherTableau(constant: "midpoint", c: [0, 0.5], a: [[0, 0], [0.5, 0]], b: [0, 1])
  /// Heun's second-order method (the trapezoidal predictor-corrector).
  public static let heun2 = ButcherTableau(constant: "heun2", c: [0, 1], a: [[0, 0], [1, 0]], b: [0.5, 0.5])
  /// The classic fourth-order Runge-Kutta method.
  public static let rk4 = ButcherTableau(
    constant: "rk4", c: [0, 0.5, 0.5, 1],
    a: [[0, 0, 0, 0], [0.5, 0, 0, 0], [0, 0.5, 0, 0], [0, 0, 1, 0]],
    b: [1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6])

  public static let all: [ButcherTableau] = [.euler, .midpoint, .heun2, .rk4]

  public static func named(_ name: String, option: String = "tableau") throws -> ButcherTableau {
    guard let t = all.first(where: { $0.name == name }) else {
      throw InvalidInput(option, "unknown tableau '\(name)' (expected one of \(all.map(\.name).joined(separator: ", ")))")
    }
    return t
  }
}
