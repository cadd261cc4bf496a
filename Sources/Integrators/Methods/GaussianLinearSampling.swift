import DiffusionCore

/// A gradient method whose x_0, on the probability-flow ODE, is the Gaussian-linear sampler's output
/// (docs/gaussian-linear-part.md#sampler): whoever samples "as the method's gradients saw it" (the morph
/// experiment's final morph) must use that sampler, with the same linear part.
public protocol GaussianLinearSampling {
  var linearPart: LinearPartKind { get }
  var statistics: DataStatistics? { get }
  var sampler: SamplerKind { get }
}

extension GaussianLinearSampling {
  /// x_0 of the Gaussian-linear sampler of the method's order (dpm-solver-1: 1, dpm-solver-2m: 2) on `grid`.
  public func sampleLinear<M: NoisePredictor>(model: M, grid: TimeGrid, xT: [Double], z: Conditioning) throws -> [Double] {
    let part = try GaussianLinearAdjointMethod.linearPart(linearPart, model: model, z: z, given: statistics)
    return try GaussianLinearSampler(order: sampler == .dpmSolver1 ? 1 : 2, linearPart: part).sample(model: model, grid: grid, xT: xT, z: z).x0
  }
}

extension GaussianLinearAdjointMethod: GaussianLinearSampling {}
extension GaussianLinearDTOMethod: GaussianLinearSampling {}
