import DiffusionCore

extension ReferenceAdjoint {
  /// `dL/dx_T`, `dL/dz` (one row per z-schedule step) and `dL/dtheta` of `L(x_0)`, x_0 the RK45 solution of the
  /// probability-flow ODE, by the black-box adjoint (docs/math.md#adjoint-equations) integrated with RK45 from t_eps up to T:
  /// `da_x/dt = -(f a_x + c a_x^T d eps/dx)`, `da_z/dt = -c a_x^T d eps/dz`, `da_theta/dt = -c a_x^T d eps/dtheta`,
  /// `c = g^2/(2 sigma_t)`, from `a_x(t_eps) = dL/dx_0`, `a_z = a_theta = 0`.
  ///
  /// `statistics` holds forward/adjoint accepted and rejected steps ("forwardAccepted", "forwardRejected",
  /// "adjointAccepted", "adjointRejected") and "intervals".
  @inlinable public func gradient<M: NoisePredictor>(
    model: M, schedule: NoiseSchedule, T: Double, tEps: Double, xT: [Double], z: Conditioning,
    samplingGrid: TimeGrid? = nil, loss: some GuidanceLoss
  ) throws -> GradientResult {
    let forward = try sampleODE(model: model, schedule: schedule, T: T, tEps: tEps, xT: xT, z: z,
                                samplingGrid: samplingGrid)
    let d = model.dataDimension, m = model.conditionDimension
    let p = wantParameters ? model.parameterCount : 0
    let x0 = forward.x0
    let lossValue = loss.value(x0)
    try Check.finite(lossValue, "loss")
    let aX0 = loss.gradient(x0)
    try Check.count(aX0, d, "dL/dx_0")
    try Check.finite(aX0, "dL/dx_0")

    // Augmented state [x (backsolve only), a_x, a_z, a_theta].
    let backsolve = states == .backsolve
    let ox = backsolve ? d : 0, oz = ox + d, ot = oz + m
    var u = [Double](repeating: 0, count: ot + p)
    if backsolve { for j in 0..<d { u[j] = x0[j] } }
    for j in 0..<d { u[ox + j] = aX0[j] }

    var gradZ = [[Double]](repeating: [Double](repeating: 0, count: m), count: z.count)
    var statistics = IntegrationStatistics()
    var solver = integrator
    var xt = [Double](repeating: 0, count: d)
    let intervals = Self.intervals(schedule: schedule, T: T, tEps: tEps, samplingGrid: samplingGrid)
    for interval in intervals.reversed() {
      let zRow = z.z(step: interval.row)
      let wantTheta = wantParameters
      let dense = forward.dense
      let rhs: DormandPrince45.RHS = { t, u in
        if backsolve {
          for j in 0..<d { xt[j] = u[j] }
        } else {
          try dense.evaluate(t, into: &xt)
        }
        let a = Array(u[ox..<oz])
        if schedule.alpha(t) == 0 {  // flow matching at t = 1 (docs/math.md#noise-end)
          return try ProbabilityFlow.noiseEndAdjoint(model: model, schedule: schedule, t: t, state: xt, x: backsolve ? xt : nil, a: a, z: zRow,
                                                     wantParameters: wantTheta, layout: (ox, oz, ot, u.count))
        }
        let vjp = try model.vjp(xt, z: zRow, t: t, batch: 1, cotangent: a, wantParameters: wantTheta)
        let pf = ProbabilityFlow(schedule: schedule, t: t, in: interval)
        var du = [Double](repeating: 0, count: u.count)
        if backsolve { for j in 0..<d { du[j] = pf.f * xt[j] + pf.c * vjp.eps[j] } }  // docs/math.md#pf-ode
        for j in 0..<d { du[ox + j] = -(pf.f * a[j] + pf.c * vjp.x[j]) }  // docs/math.md#adjoint-equations
        for j in 0..<m { du[oz + j] = -pf.c * vjp.z[j] }
        for j in 0..<p { du[ot + j] = -pf.c * vjp.theta[j] }
        return du
      }
      let solution = try solver.solve(rhs, from: interval.lower, to: interval.upper, y0: u, dense: false)
      u = solution.y
      statistics = statistics + solution.statistics
      solver.initialStep = solution.proposedStepSize
      // a_z restarts from 0 on each interval; its end value is this interval's contribution to its row.
      for j in 0..<m {
        gradZ[interval.row][j] += u[oz + j]
        u[oz + j] = 0
      }
    }
    return GradientResult(
      x0: x0, loss: lossValue, gradXT: Array(u[ox..<oz]), gradZ: gradZ, gradTheta: Array(u[ot..<(ot + p)]),
      sampling: EvaluationCount(eps: forward.statistics.rhsEvaluations, vjp: 0),
      adjoint: EvaluationCount(eps: 0, vjp: statistics.rhsEvaluations),
      statistics: [
        "forwardAccepted": forward.statistics.acceptedSteps, "forwardRejected": forward.statistics.rejectedSteps,
        "adjointAccepted": statistics.acceptedSteps, "adjointRejected": statistics.rejectedSteps,
        "intervals": intervals.count,
      ])
  }
}
