/// A differentiable guidance loss `L(x_0)` on the sampler's output.
public protocol GuidanceLoss: Sendable {
  func value(_ x0: [Double]) -> Double
  /// `dL/dx_0`, the adjoint's initial value `a_x(t_eps)`.
  func gradient(_ x0: [Double]) -> [Double]
}

/// `L(x_0) = 0.5 |x_0 - target|^2`.
public struct SquaredDistanceLoss: GuidanceLoss, Equatable {
  public let target: [Double]
  public init(target: [Double]) throws {
    try Check.finite(target, "loss.target")
    self.target = target
  }
  public func value(_ x0: [Double]) -> Double {
    var s = 0.0
    for i in 0..<x0.count { let r = x0[i] - target[i]; s += r * r }
    return 0.5 * s
  }
  public func gradient(_ x0: [Double]) -> [Double] {
    (0..<x0.count).map { x0[$0] - target[$0] }
  }
}
