import DiffusionCore
import Integrators
import ToyModels

extension GradientCommand {
  /// Refuses a non-finite result, naming the output and, when the sampled path itself overflowed, the step where
  /// it first did (the path is re-sampled only on failure: the hot path is untouched).
  static func checkFinite(_ result: GradientResult, problem: ToyProblem, method: any GradientMethod) throws {
    try result.checkFinite(method: method.label) { field in
      let settings: (SamplerKind, Int, GridSpacing, NoiseSource)
      if let m = method as? AdjointDEISMethod {
        settings = (m.sampler, m.samplerSteps, m.grid, m.noise)
      } else if let m = method as? DTOMethod {
        settings = (m.sampler, m.samplerSteps, m.grid, m.noise)
      } else {
        return nil
      }
      let (sampler, steps, spacing, noiseSource) = settings
      guard let grid = try? TimeGrid(schedule: problem.schedule, tEps: problem.tEps, T: problem.T, steps: steps, spacing: spacing)
      else { return nil }
      let noise = sampler.isSDE ? (try? noiseSource.draws(grid: grid, dimension: problem.model.dataDimension)) ?? [] : []
      guard let path = try? Sampler(kind: sampler).sample(model: problem.model, grid: grid, xT: problem.xT, z: problem.z, noise: noise)
      else { return nil }
      if let hit = path.firstNonFinite() { return hit }
      return field == "loss" ? "x_0 is finite: the loss itself overflowed"
        : field == "x0" ? nil : "the sampled path is finite: the adjoint solve overflowed"
    }
  }
}
