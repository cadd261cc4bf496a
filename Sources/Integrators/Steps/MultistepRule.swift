import DiffusionCore

/// How an exponential step extrapolates the model's output g from its history (docs/math.md#multistep-weights):
/// the weights of
///
///   integral_{lambda_a}^{lambda_b} e^{lambda_b - lambda} g(lambda) dlambda
///     ~ (e^h - 1) [ g_0 + sum_{j>=1} w_j (g_{j-1} - g_j) ],
///
/// for `available` outputs (1 at the start of a walk, up to `order`). A k-th order multistep rule is one value of this
/// protocol; its first steps fall back to lower order because fewer outputs are available.
public protocol MultistepRule: Sendable {
  /// k: the outputs the rule uses once the history holds them.
  var order: Int { get }
  /// `w_1 ... w_{available-1}` (empty for one output).
  func relativeWeights(_ step: ExponentialStep, available: Int) -> [Double]
  /// `c_j = S x` the weights on `g_0, g_0 - g_1, g_1 - g_2`, with `c_0 = S (e^h - 1)`, as the samplers round them.
  func coefficients(_ step: ExponentialStep, available: Int, scale: Double) -> [Double]
  /// The same step's coefficients on the raw outputs `g_0, g_1, g_2` (what discretize-then-optimize transposes).
  func valueCoefficients(_ step: ExponentialStep, available: Int, scale: Double) -> [Double]
}

extension MultistepRule {
  public func coefficients(_ step: ExponentialStep, available: Int, scale: Double) -> [Double] {
    let c0 = scale * step.expm1h
    return [c0] + relativeWeights(step, available: available).map { c0 * $0 }
  }

  /// `v_0 = c_0 + c_1`, `v_j = c_{j+1} - c_j`, `v_{k-1} = -c_{k-1}`.
  public func valueCoefficients(_ step: ExponentialStep, available: Int, scale: Double) -> [Double] {
    let c = coefficients(step, available: available, scale: scale)
    return (0..<c.count).map { j in (j == 0 ? c[0] : -c[j]) + (j + 1 < c.count ? c[j + 1] : 0) }
  }

  /// How many outputs a step can use: the rule's order, the outputs held, and the earlier steps the grid has.
  public func available(_ step: ExponentialStep, held: Int) -> Int { Swift.min(order, held, step.previous.count + 1) }
}

/// First order: g held at its newest value over the step (DPM-Solver-1 = DDIM, AdjointDEIS-1, the SDE step;
/// docs/math.md#dpm-solver-1, #adjointdeis-1).
public struct FirstOrderRule: MultistepRule {
  public init() {}
  public var order: Int { 1 }
  public func relativeWeights(_ step: ExponentialStep, available: Int) -> [Double] { [] }
}

/// Second-order multistep (docs/math.md#dpm-solver-2m, #adjointdeis-2m): g linear in lambda through the last two
/// outputs, `w_1 = h / (2 h_1)` (`paper`: DPM-Solver-2M and the paper's Algorithm 1, from (e^h - h - 1)/h ~ (e^h - 1)/2)
/// or `w_1 = (e^h - h - 1) / ((e^h - 1) h_1)` (`phi2`: the exact h^2 phi_2(h) of the linear extrapolation).
public struct SecondOrderMultistep: MultistepRule {
  public var weight: MultistepWeight
  public init(weight: MultistepWeight) { self.weight = weight }
  public var order: Int { 2 }

  public func relativeWeights(_ step: ExponentialStep, available: Int) -> [Double] {
    guard available >= 2 else { return [] }
    let (h, h1) = (step.h, step.previous[0])
    return [weight == .paper ? h / (2 * h1) : Phi.expm1MinusH(h) / (Phi.expm1h(h) * h1)]
  }

  /// The paper weight as DPM-Solver-2M writes it: `c_1 = c_0 / (2 r)`, `r = h_1 / h`.
  public func coefficients(_ step: ExponentialStep, available: Int, scale: Double) -> [Double] {
    let c0 = scale * step.expm1h
    guard available >= 2 else { return [c0] }
    guard weight == .paper else { return [c0] + relativeWeights(step, available: available).map { c0 * $0 } }
    let r = step.previous[0] / step.h
    return [c0, c0 / (2 * r)]
  }

  /// `v_0 = c_0 (1 + 1/(2r))`, `v_1 = -c_0 / (2r)` for the paper weight.
  public func valueCoefficients(_ step: ExponentialStep, available: Int, scale: Double) -> [Double] {
    let c0 = scale * step.expm1h
    guard available >= 2 else { return [c0] }
    guard weight == .paper else {
      let c = coefficients(step, available: available, scale: scale)
      return [c[0] + c[1], -c[1]]
    }
    let r = step.previous[0] / step.h
    return [c0 * (1 + 1 / (2 * r)), -c0 / (2 * r)]
  }
}
