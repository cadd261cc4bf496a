import Foundation

/// The weights of one adjoint step from lambda_t to lambda_s with the Gaussian linear part, for the dynamics factor
/// kappa (1: probability-flow ODE, 2: SDE) (docs/gaussian-linear-part.md#a-x, #a-z, #sde):
///
/// - `E_k = e^{kappa (G_k(lambda_s) - G_k(lambda_t))}`, the exact propagator of the linear part;
/// - `w1_k = int e^{kappa (G_k(lambda_s) - G_k(u))} kappa sigma_u du`, `w2_k` the same with `(u - lambda_t)`:
///   the residual's weights (frozen: w1; linear in lambda: w2 too);
/// - `o1 = int omega(u) du`, `o2 = int omega(u) (u - lambda_t) du` with the scalar growth
///   `omega(u) = kappa c(u) e^{kappa G(u)}` of the isotropic variance: the weights of a_z and a_theta.
struct LinearStepWeights {
  var propagator: [Double]
  var w1: [Double]
  var w2: [Double]
  var o1 = 0.0
  var o2 = 0.0

  /// Weights for the distinct variances `variances` (one entry for the isotropic form).
  init(variances: [Double], meanVariance: Double, from lt: Double, to ls: Double, kappa: Double,
       second: Bool, quadrature: GaussLegendre, zGrowth: ZGrowth) {
    let n = variances.count
    propagator = [Double](repeating: 0, count: n)
    w1 = [Double](repeating: 0, count: n)
    w2 = [Double](repeating: 0, count: second ? n : 0)
    let gS = variances.map { GaussianLinearPart.G(ls, variance: $0) }
    for k in 0..<n { propagator[k] = exp(kappa * (gS[k] - GaussianLinearPart.G(lt, variance: variances[k]))) }
    for (u, weight) in quadrature.rule(from: lt, to: ls) {
      let q = weight * kappa * GaussianLinearPart.sigma(u)
      for k in 0..<n {
        let f = q * exp(kappa * (gS[k] - GaussianLinearPart.G(u, variance: variances[k])))
        w1[k] += f
        if second { w2[k] += f * (u - lt) }
      }
      let omega = weight * kappa * exp(-u) * zGrowth.psi(u, meanVariance: meanVariance, kappa: kappa)
      o1 += omega
      o2 += omega * (u - lt)
    }
  }

}

/// The scalar growth psi that a_z and a_theta factor out of their integrand `kappa e^{-u} W(u)`, freezing or
/// extrapolating `W^ = W / psi` (docs/gaussian-linear-part.md#a-z).
public enum ZGrowth: String, CaseIterable, Sendable {
  /// psi = 1: the paper's weighting (only a_x's accuracy changes).
  case paper
  /// psi = e^{kappa G(u)}: the growth of the adjoint b under the isotropic linear part.
  case adjoint
  /// psi = e^{u} c(u) e^{kappa G(u)}: exact for isotropic Gaussian data whose mean depends on z.
  case gaussianMean = "gaussian-mean"

  @inlinable func psi(_ u: Double, meanVariance s2: Double, kappa: Double) -> Double {
    switch self {
    case .paper: return 1
    case .adjoint: return exp(kappa * GaussianLinearPart.G(u, variance: s2))
    case .gaussianMean: return exp(u + kappa * GaussianLinearPart.G(u, variance: s2)) * GaussianLinearPart.c(u, variance: s2)
    }
  }
}
