import Foundation

/// The weights of one adjoint step from lambda_t to lambda_s with the Gaussian linear part, for the dynamics factor
/// kappa (1: probability-flow ODE, 2: SDE) (docs/gaussian-linear-part.md#a-x, #a-z, #sde). The residual is replaced by
/// its Lagrange polynomial through the last q nodes `lambda_t = nu_0, nu_1, ...` (q = 1: frozen, 2: the 2M line,
/// 3: the 3M parabola), with basis polynomials `l_j(u)`:
///
/// - `E_k = e^{kappa (G_k(lambda_s) - G_k(lambda_t))}`, the exact propagator of the linear part;
/// - `w_jk = int e^{kappa (G_k(lambda_s) - G_k(u))} kappa sigma_u l_j(u) du`: the weight of the residual at node j;
/// - `o_j = int kappa e^{-u} psi(u) l_j(u) du`: the weight of a_z's and a_theta's `W^ = W / psi` at node j.
struct LinearStepWeights {
  var propagator: [Double]
  /// `w[j][k]`: node j, variance k.
  var w: [[Double]]
  var o: [Double]

  /// Weights for the distinct variances `variances` (one entry for the isotropic form); `nodes[0]` is lambda_t.
  /// `sigma`: sigma as a function of lambda, the VP form unless the schedule gives another (docs/math.md#beyond-vp).
  init(variances: [Double], meanVariance: Double, nodes: [Double], to ls: Double, kappa: Double,
       quadrature: GaussLegendre, zGrowth: ZGrowth, sigma: ((Double) -> Double)? = nil) {
    let n = variances.count, q = nodes.count, lt = nodes[0]
    propagator = [Double](repeating: 0, count: n)
    w = [[Double]](repeating: [Double](repeating: 0, count: n), count: q)
    o = [Double](repeating: 0, count: q)
    let gS = variances.map { GaussianLinearPart.G(ls, variance: $0) }
    for k in 0..<n { propagator[k] = exp(kappa * (gS[k] - GaussianLinearPart.G(lt, variance: variances[k]))) }
    var basis = [Double](repeating: 1, count: q)
    for (u, weight) in quadrature.rule(from: lt, to: ls) {
      for j in 0..<q {
        var l = 1.0
        for i in 0..<q where i != j { l *= (u - nodes[i]) / (nodes[j] - nodes[i]) }
        basis[j] = l
      }
      let base = weight * kappa * (sigma?(u) ?? GaussianLinearPart.sigma(u))
      for k in 0..<n {
        let f = base * exp(kappa * (gS[k] - GaussianLinearPart.G(u, variance: variances[k])))
        for j in 0..<q { w[j][k] += f * basis[j] }
      }
      let omega = weight * kappa * exp(-u) * zGrowth.psi(u, meanVariance: meanVariance, kappa: kappa)
      for j in 0..<q { o[j] += omega * basis[j] }
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
