import DiffusionCore

extension ReferenceAdjoint {
  /// Samples the probability-flow ODE (docs/math.md#pf-ode) `dx/dt = f(t) x + g^2/(2 sigma_t) eps(x, z, t)` with RK45 from x_T at T
  /// down to x_0 at t_eps, keeping the dense solution: the "exact states" x_t for other solvers.
  @inlinable public func sampleODE<M: NoisePredictor>(
    model: M, schedule: NoiseSchedule, T: Double, tEps: Double, xT: [Double], z: Conditioning,
    samplingGrid: TimeGrid? = nil
  ) throws -> Forward {
    try validate(model: model, schedule: schedule, T: T, tEps: tEps, xT: xT, z: z, samplingGrid: samplingGrid)
    let d = model.dataDimension
    let intervals = Self.intervals(schedule: schedule, T: T, tEps: tEps, samplingGrid: samplingGrid)
    var solver = integrator
    var x = xT
    var dense: DenseSolution? = nil
    var statistics = IntegrationStatistics()
    for interval in intervals {
      let zRow = z.z(step: interval.row)
      let rhs: DormandPrince45.RHS = { t, x in
        if schedule.alpha(t) == 0 { return try ProbabilityFlow.noiseEndVelocity(model: model, schedule: schedule, t: t, x: x, z: zRow) }
        var e = try model.eps(x, z: zRow, t: t, batch: 1)
        let p = ProbabilityFlow(schedule: schedule, t: t, in: interval)
        for j in 0..<d { e[j] = p.f * x[j] + p.c * e[j] }  // docs/math.md#pf-ode
        return e
      }
      let solution = try solver.solve(rhs, from: interval.upper, to: interval.lower, y0: x, dense: true)
      x = solution.y
      statistics = statistics + solution.statistics
      solver.initialStep = solution.proposedStepSize  // continue with the controller's step on the next interval
      if dense == nil { dense = solution.dense } else { try dense!.append(solution.dense!) }  // invariant: dense: true
    }
    return Forward(x0: x, dense: dense!, statistics: statistics, intervals: intervals.count)  // invariant: >= 1 interval
  }
}
