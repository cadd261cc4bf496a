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
  /// The Gaussian-linear sampler of the method's order (dpm-solver-1: 1, dpm-solver-2m: 2) with `part`.
  func linearSampler(_ part: GaussianLinearPart) throws -> GaussianLinearSampler {
    try GaussianLinearSampler(order: sampler == .dpmSolver1 ? 1 : 2, linearPart: part)
  }

  /// x_0 of that sampler on `grid`, with the method's linear part for this model and z.
  public func sampleLinear<M: NoisePredictor>(model: M, grid: TimeGrid, xT: [Double], z: Conditioning) throws -> [Double] {
    let part = try GaussianLinearAdjointMethod.linearPart(linearPart, model: model, z: z, given: statistics)
    return try linearSampler(part).sample(model: model, grid: grid, xT: xT, z: z).x0
  }
}

extension GaussianLinearAdjointMethod: GaussianLinearSampling {}
extension GaussianLinearDTOMethod: GaussianLinearSampling {}
