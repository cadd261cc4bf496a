import DiffusionCore
import Foundation

extension GaussianLinearSampler {
  /// Discretize-then-optimize through the Gaussian-linear sampler (docs/gaussian-linear-part.md#sampler): the exact
  /// gradient of its discrete output, by reverse mode through its steps. With `ybar = alpha_t Q^T xbar_t` the cotangent
  /// of y~_t, one step from s to t sends `P ybar / alpha_s` to `Q^T (x_s - alpha_s mu)` and `-(v1 + v2 / Delta) ybar`
  /// to r~_s (2M: `+v2 / Delta ybar` to r~_prev), and `rbar` reaches x_s as `J^T Q rbar - Q J~_G rbar`: one VJP per
  /// step (with cotangent `Q rbar`, which also yields the z and theta parts). Memory: the N states.
  public func gradient<M: NoisePredictor>(
    model: M, grid: TimeGrid, xT: [Double], z: Conditioning, loss: some GuidanceLoss, wantParameters: Bool = true
  ) throws -> GradientResult {
    let path = try sample(model: model, grid: grid, xT: xT, z: z)
    let d = model.dataDimension, m = model.conditionDimension, n = grid.steps
    let x0 = path.x0
    let lossValue = loss.value(x0)
    try Check.finite(lossValue, "loss")
    var xbar = loss.gradient(x0)
    try Check.count(xbar, d, "dL/dx_0")
    var pendingResidual = [Double](repeating: 0, count: d)  // r~ cotangent owed to the state of the next (higher) step
    var gradZ = [[Double]](repeating: [Double](repeating: 0, count: m), count: z.count)
    var gradTheta = [Double](repeating: 0, count: wantParameters ? model.parameterCount : 0)
    let (variances, period) = linearPart.distinctVariances
    for step in stride(from: n - 1, through: 0, by: -1) {
      let s = n - step, t = s - 1
      let (alphaS, sigmaS, alphaT) = (grid.alphas[s], grid.sigmas[s], grid.alphas[t])
      let second = order == 2 && step > 0
      let (p, v1, v2) = weights(from: grid.lambdas[s], to: grid.lambdas[t], second: second, variances: variances)
      let slope = second ? 1 / (grid.lambdas[s] - grid.lambdas[s + 1]) : 0
      let ybar = linearPart.toEigen(xbar.map { alphaT * $0 })
      var cbar = [Double](repeating: 0, count: d), rbar = pendingResidual
      for k in 0..<d {
        let j = k % period
        cbar[k] = p[j] * ybar[k] / alphaS
        rbar[k] -= (v1[j] + (second ? v2[j] * slope : 0)) * ybar[k]
        pendingResidual[k] = second ? v2[j] * slope * ybar[k] : 0
        cbar[k] -= sigmaS / (alphaS * alphaS * linearPart.variances[k] + sigmaS * sigmaS) * rbar[k]
      }
      let vjp = try model.vjp(path.states[s], z: z.z(step: step), t: grid.times[s], batch: 1,
                              cotangent: linearPart.fromEigen(rbar), wantParameters: wantParameters)
      let back = linearPart.fromEigen(cbar)
      xbar = (0..<d).map { back[$0] + vjp.x[$0] }
      let row = z.count > 1 ? step : 0
      for j in 0..<m { gradZ[row][j] += vjp.z[j] }
      for j in 0..<gradTheta.count { gradTheta[j] += vjp.theta[j] }
    }
    try Check.finite(xbar, "dL/dx_T")
    var result = GradientResult(x0: x0, loss: lossValue, gradXT: xbar, gradZ: gradZ, gradTheta: gradTheta,
                                sampling: path.evaluations, adjoint: EvaluationCount(vjp: n),
                                statistics: ["stored_states": path.states.count])
    result.hMax = grid.hMax
    return result
  }
}
