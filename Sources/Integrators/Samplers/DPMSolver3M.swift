import DiffusionCore

/// DPM-Solver-3M, the third-order multistep sampler in the eps form (docs/math.md#dpm-solver-3m), with DPM-Solver's
/// own weights: for `r_0 = h_1/h`, `r_1 = h_2/h`, `D1_0 = (g_0 - g_1)/r_0`, `D1_1 = (g_1 - g_2)/r_1`,
/// `D1 = D1_0 + r_0/(r_0 + r_1) (D1_0 - D1_1)`, `D2 = (D1_0 - D1_1)/(r_0 + r_1)`:
///
///   x_t = (alpha_t/alpha_s) x_s - sigma_t [ phi_1 g_0 + phi_2 D1 + phi_3 D2 ],
///   phi_1 = e^h - 1, phi_2 = phi_1/h - 1, phi_3 = phi_2/h - 1/2  (h phi_k(h) in the usual notation),
///
/// i.e. on the differences `c = S [phi_1, (phi_2 (2 r_0 + r_1) + phi_3) / (r_0 (r_0 + r_1)), -(phi_2 r_0 + phi_3) / (r_1 (r_0 + r_1))]`.
/// D2 estimates h^2 g''/2, so the last term is half the Taylor term h^3 phi_3(h) g'' (see `AdjointDEIS3MRule`, which
/// uses the full one). The first two steps are DPM-Solver-1 and -2M.
public struct DPMSolver3M: MultistepRule {
  public init() {}
  public var order: Int { 3 }

  public func relativeWeights(_ step: ExponentialStep, available: Int) -> [Double] {
    guard available >= 3 else { return SecondOrderMultistep(weight: .paper).relativeWeights(step, available: available) }
    let (a0, a1) = Self.differenceWeights(step, lastTerm: 1)
    return [a0 / step.expm1h, a1 / step.expm1h]
  }

  public func coefficients(_ step: ExponentialStep, available: Int, scale: Double) -> [Double] {
    guard available >= 3 else { return SecondOrderMultistep(weight: .paper).coefficients(step, available: available, scale: scale) }
    let (a0, a1) = Self.differenceWeights(step, lastTerm: 1)
    return [scale * step.expm1h, scale * a0, scale * a1]
  }

  /// The weights on `g_0 - g_1` and `g_1 - g_2` of `phi_2 D1 + lastTerm phi_3 D2` (lastTerm 1: DPM-Solver, 2: Taylor).
  static func differenceWeights(_ step: ExponentialStep, lastTerm: Double) -> (Double, Double) {
    let h = step.h
    let r0 = step.previous[0] / h, r1 = step.previous[1] / h
    let phi2 = Phi.expm1MinusH(h) / h, phi3 = lastTerm * Phi.expm1MinusHMinusHalfH2(h) / (h * h)
    return ((phi2 * (2 * r0 + r1) + phi3) / (r0 * (r0 + r1)), -(phi2 * r0 + phi3) / (r1 * (r0 + r1)))
  }
}
