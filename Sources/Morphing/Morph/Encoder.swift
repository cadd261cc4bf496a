import DiffusionCore
import Foundation
import Integrators

/// DiM's encoder: the probability-flow ODE run from x_0 at t_eps up to T with DPM-Solver-1 (DDIM inversion) on the
/// sampling grid. Step j -> j+1 is the sampler's step with the roles of s and t swapped (docs/math.md#ddim-inversion):
/// `x_{t_{j+1}} = (alpha_{j+1} / alpha_j) x_{t_j} - sigma_{j+1} (e^{h} - 1) eps(x_{t_j}, z, t_j)`,
/// `h = lambda_{j+1} - lambda_j < 0`. N evaluations of eps.
public struct Encoder: Sendable {
  public init() {}

  public func encode<M: NoisePredictor>(model: M, grid: TimeGrid, x0: [Double], z: [Double]) throws -> (xT: [Double], evaluations: Int) {
    try Check.count(x0, model.dataDimension, "x_0")
    try Check.finite(x0, "x_0")
    var x = x0
    for j in 0..<grid.steps {
      let eps = try model.eps(x, z: z, t: grid.times[j], batch: 1)
      let ratio = grid.alphas[j + 1] / grid.alphas[j]
      let scale = grid.sigmas[j + 1] * expm1(grid.lambdas[j + 1] - grid.lambdas[j])
      for i in 0..<x.count { x[i] = ratio * x[i] - scale * eps[i] }
    }
    return (x, grid.steps)
  }
}
