import DiffusionCore

extension GradientSetup {
  /// Samples x_0 and computes the gradient of `loss(x_0)` with this setup.
  public func run<M: NoisePredictor>(
    model: M, schedule: NoiseSchedule, T: Double, tEps: Double, xT: [Double], z: Conditioning, loss: some GuidanceLoss
  ) throws -> GradientResult {
    try validate()
    let samplingGrid = try TimeGrid(schedule: schedule, tEps: tEps, T: T, steps: samplerSteps, spacing: spacing)
    try z.validate(dimension: model.conditionDimension, steps: samplerSteps)
    let scheduleGrid: TimeGrid? = z.count > 1 ? samplingGrid : nil
    let reference = try ReferenceAdjoint(rtol: rtol, atol: atol, wantParameters: wantParameters)
    switch solver {
    case .rk45:
      return try reference.gradient(model: model, schedule: schedule, T: T, tEps: tEps, xT: xT, z: z, samplingGrid: scheduleGrid, loss: loss)
    case .dto:
      let noise = sampler.isSDE ? try self.noise.draws(grid: samplingGrid, dimension: model.dataDimension) : []
      var result = try DiscretizeThenOptimize(sampler: sampler, checkpointEvery: checkpointEvery, wantParameters: wantParameters)
        .gradient(model: model, grid: samplingGrid, xT: xT, z: z, noise: noise, loss: loss)
      result.hMax = samplingGrid.hMax
      return result
    case .adjointDEIS1, .adjointDEIS2M:
      let adjoint = try AdjointDEIS(order: solver == .adjointDEIS1 ? 1 : 2, weight: weight,
                                    dynamics: sampler.isSDE ? .sde : .ode, wantParameters: wantParameters)
      let adjointGrid = adjointSteps == samplerSteps
        ? samplingGrid : try TimeGrid(schedule: schedule, tEps: tEps, T: T, steps: adjointSteps, spacing: spacing)
      let x0: [Double], source: AdjointStates, sampling: EvaluationCount
      if states == .exact {
        let forward = try reference.sampleODE(model: model, schedule: schedule, T: T, tEps: tEps, xT: xT, z: z, samplingGrid: scheduleGrid)
        (x0, source, sampling) = (forward.x0, .exact(forward.state), EvaluationCount(eps: forward.statistics.rhsEvaluations))
      } else {
        let noise = sampler.isSDE ? try self.noise.draws(grid: samplingGrid, dimension: model.dataDimension) : []
        var path = try Sampler(kind: sampler).sample(model: model, grid: samplingGrid, xT: xT, z: z, noise: noise)
        sampling = path.evaluations
        x0 = path.x0
        switch (states, sampler) {
        case (.recorded, _): source = .recorded(path.states)
        case (.resolved, .sde):
          // Cycle-SDE: recover the noise from the recorded path and re-run the same path from it.
          let recovered = Sampler.recoverNoise(path)
          path = try Sampler(kind: .sde).sample(model: model, grid: samplingGrid, xT: xT, z: z, noise: recovered)
          source = .recorded(path.states)
        default: source = .resolved(x0: x0, order: sampler == .dpmSolver2M ? 2 : 1)
        }
      }
      let lossValue = loss.value(x0)
      try Check.finite(lossValue, "loss")
      let solution = try adjoint.solve(model: model, grid: adjointGrid, states: source, z: z,
                                       samplingGrid: scheduleGrid, aX0: loss.gradient(x0))
      var adjointCount = solution.evaluations
      if states == .resolved && sampler.isSDE { adjointCount.eps += samplerSteps }  // the Cycle-SDE re-run
      var result = GradientResult(x0: x0, loss: lossValue, gradXT: solution.ax, gradZ: solution.az, gradTheta: solution.atheta,
                                  sampling: sampling, adjoint: adjointCount)
      result.hMax = adjointGrid.hMax
      return result
    }
  }
}
