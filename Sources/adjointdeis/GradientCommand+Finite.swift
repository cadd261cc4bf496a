import DiffusionCore
import Integrators
import ToyModels

extension GradientCommand {
  /// Refuses a non-finite result, naming the output and, when the sampled path itself overflowed, the step where
  /// it first did (the path is re-sampled only on failure: the hot path is untouched).
  static func checkFinite(_ result: GradientResult, problem: ToyProblem, setup: GradientSetup, method: String) throws {
    try result.checkFinite(method: method) { field in
      guard setup.solver != .rk45, let grid = try? TimeGrid(schedule: problem.schedule, tEps: problem.tEps, T: problem.T,
                                                           steps: setup.samplerSteps, spacing: setup.spacing) else { return nil }
      let noise = setup.sampler.isSDE ? (try? setup.noise.draws(grid: grid, dimension: problem.model.dataDimension)) ?? [] : []
      guard let path = try? Sampler(kind: setup.sampler).sample(model: problem.model, grid: grid, xT: problem.xT, z: problem.z, noise: noise)
      else { return nil }
      if let hit = path.firstNonFinite() { return hit }
      return field == "loss" ? "x_0 is finite: the loss itself overflowed"
        : field == "x0" ? nil : "the sampled path is finite: the adjoint solve overflowed"
    }
  }
}
