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
       second: Bool, quadrature: GaussLegendre) {
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
      let omega = weight * kappa * GaussianLinearPart.c(u, variance: meanVariance)
        * exp(kappa * GaussianLinearPart.G(u, variance: meanVariance))
      o1 += omega
      o2 += omega * (u - lt)
    }
  }

  /// `e^{-lambda} / (c(lambda) e^{kappa G(lambda)})`: turns `W = (d eps/dz)^T b` at lambda into the slowly varying
  /// `W^ = e^{-lambda} W / (omega(lambda) / kappa)` that a_z's step freezes or extrapolates.
  static func zScale(_ lambda: Double, meanVariance s2: Double, kappa: Double) -> Double {
    exp(-lambda - kappa * GaussianLinearPart.G(lambda, variance: s2)) / GaussianLinearPart.c(lambda, variance: s2)
  }
}
