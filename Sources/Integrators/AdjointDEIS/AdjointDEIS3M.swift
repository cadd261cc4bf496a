import DiffusionCore

/// AdjointDEIS-3M (docs/math.md#adjointdeis-3m): the adjoint's integrand (V, W, U of docs/math.md#adjoint-in-lambda)
/// extrapolated by the quadratic in lambda through its last three values, integrated exactly against
/// `e^{lambda_b - lambda}`: with `h_1, h_2` the earlier steps, `D1 = h p'(lambda_0)` and `D2 = h^2 g[lambda_0, lambda_1, lambda_2]`
/// of that quadratic p (the same D1, D2 as `DPMSolver3M`),
///
///   integral ~ (e^h - 1) g_0 + h phi_2(h) D1 + 2 h phi_3(h) D2,    h phi_2 = (e^h - h - 1)/h, h phi_3 = (e^h - h^2/2 - h - 1)/h^2.
///
/// The first steps fall back to the linear extrapolation (AdjointDEIS-2M with the phi_2 weight) and to first order.
/// Cost and memory as AdjointDEIS-2M, with three outputs held instead of two.
public struct AdjointDEIS3MRule: MultistepRule {
  public init() {}
  public var order: Int { 3 }

  public func relativeWeights(_ step: ExponentialStep, available: Int) -> [Double] {
    guard available >= 3 else { return SecondOrderMultistep(weight: .phi2).relativeWeights(step, available: available) }
    let (a0, a1) = DPMSolver3M.differenceWeights(step, lastTerm: 2)
    return [a0 / step.expm1h, a1 / step.expm1h]
  }
}

extension AdjointDEISMethod {
  public static let thirdOrderMultistep = GradientMethodEntry(
    name: "adjointdeis-3m", summary: "AdjointDEIS-3M (third-order multistep, quadratic extrapolation; pairs with dpm-solver-3m)",
    make: { try AdjointDEISMethod(name: "adjointdeis-3m", rule: AdjointDEIS3MRule(), odeSampler: .dpmSolver3M, given: $0, defaults: $1) })
}
