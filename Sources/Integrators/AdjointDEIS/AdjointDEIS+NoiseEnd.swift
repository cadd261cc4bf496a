import DiffusionCore
import Foundation

extension AdjointDEIS {
  /// The adjoint step from t up to s in the data-prediction form, first order (docs/math.md#noise-end, (12.4)):
  /// `a_x(s) = (sigma_t/sigma_s) [(2 - e^h) a - (1 - e^h) sigma_t J^T a]`, `a_z(s) = a_z(t) - sigma_t (1 - e^h) a^T d eps/dz`,
  /// theta alike, `h = lambda_s - lambda_t`. Used for the step that ends at alpha_s = 0 (h = -inf, e^h = 0), where the
  /// eps form's `alpha_t/alpha_s` and `sigma_s/alpha_s^2` are infinite; it needs only the VJP at t.
  func noiseEndStep(ax: inout [Double], az: inout [Double], atheta: inout [Double], vjp: NoiseVJP, grid: TimeGrid,
                    from t: Int, to s: Int) throws {
    guard dynamics == .ode else {
      throw InvalidInput("sampler", "the SDE adjoint is written in eps form, which divides by alpha_T = 0 at pure noise (flow matching at T = 1): use the ODE or T < 1")
    }
    let eh = exp(grid.lambdas[s] - grid.lambdas[t])
    let (sigmaT, ratio) = (grid.sigmas[t], grid.sigmas[t] / grid.sigmas[s])
    for i in 0..<ax.count { ax[i] = ratio * ((2 - eh) * ax[i] - (1 - eh) * sigmaT * vjp.x[i]) }
    for j in 0..<az.count { az[j] -= sigmaT * (1 - eh) * vjp.z[j] }
    for j in 0..<atheta.count { atheta[j] -= sigmaT * (1 - eh) * vjp.theta[j] }
  }
}
