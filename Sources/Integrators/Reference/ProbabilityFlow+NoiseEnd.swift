import DiffusionCore

extension ProbabilityFlow {
  /// The probability-flow ODE at alpha_t = 0 in its velocity form, `dx/dt = alpha' x0-hat + sigma' eps` with
  /// `eps = x / sigma` and `x0-hat = E[x_0 | z]` (docs/math.md#noise-end): finite where `f x + c eps` is inf - inf.
  @inlinable static func noiseEndVelocity<M: NoisePredictor>(model: M, schedule: NoiseSchedule, t: Double, x: [Double], z: [Double]) throws -> [Double] {
    let m = try model.noiseEndPrediction(x, z: z, batch: 1)
    let (da, ds, sigma) = (schedule.dAlphaDt(t), schedule.dSigmaDt(t), schedule.sigma(t))
    return (0..<x.count).map { da * m[$0] + ds * x[$0] / sigma }
  }

  /// The augmented adjoint's derivative there: `da_x/dt = -(sigma'/sigma) a_x - alpha' a_x^T dx0-hat/dx` (the second
  /// term zero for a prior mean, nonzero for a network's `x - v(x, 1)`), `da_z/dt = -alpha' a_x^T dx0-hat/dz`,
  /// theta alike, and (backsolve) the velocity. `layout` = (offset of a_x, of a_z, of a_theta, length).
  @inlinable static func noiseEndAdjoint<M: NoisePredictor>(
    model: M, schedule: NoiseSchedule, t: Double, state: [Double], x: [Double]?, a: [Double], z: [Double], wantParameters: Bool,
    layout: (Int, Int, Int, Int)
  ) throws -> [Double] {
    let (ox, oz, ot, count) = layout
    let r = try model.noiseEndVJP(state, z: z, batch: 1, cotangent: a, wantParameters: wantParameters)
    let (da, ds, sigma) = (schedule.dAlphaDt(t), schedule.dSigmaDt(t), schedule.sigma(t))
    var du = [Double](repeating: 0, count: count)
    if let x { for j in 0..<x.count { du[j] = da * r.eps[j] + ds * x[j] / sigma } }
    for j in 0..<a.count { du[ox + j] = -(ds / sigma) * a[j] - da * r.x[j] }
    for j in 0..<r.z.count { du[oz + j] = -da * r.z[j] }
    for j in 0..<r.theta.count { du[ot + j] = -da * r.theta[j] }
    return du
  }
}
