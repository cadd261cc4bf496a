import DiffusionCore

extension Sampler {
  /// The first step from alpha_a = 0 (flow matching at T = 1) in the data-prediction form, which every ODE sampler's
  /// first (first-order) step equals: `x_b = (sigma_b/sigma_a) x_a + alpha_b (1 - e^{-h}) x0-hat_a` with h = inf
  /// (docs/math.md#noise-end). Returns `eps_a = x_a / sigma_a`, exact at pure noise, for the history (later steps give
  /// it no weight: an infinite lambda step ends the history, `ExponentialStep`). One network call (the prediction).
  static func noiseEndStep<M: NoisePredictor>(_ x: inout [Double], from a: Int, to b: Int, grid: TimeGrid, model: M,
                                              z: [Double]) throws -> [Double] {
    let prediction = try model.noiseEndPrediction(x, z: z, batch: 1)
    let (ratio, alpha, sigmaA) = (grid.sigmas[b] / grid.sigmas[a], grid.alphas[b], grid.sigmas[a])
    let e = x.map { $0 / sigmaA }
    for i in 0..<x.count { x[i] = ratio * x[i] + alpha * prediction[i] }
    return e
  }

  /// The SDE step has no data-prediction form here: refused at alpha_T = 0, naming the option.
  static func checkPureNoise(_ grid: TimeGrid, _ kind: SamplerKind) throws {
    if kind.isSDE && grid.startsAtPureNoise {
      throw InvalidInput("sampler", "the SDE step is written in eps form, which divides by alpha_T = 0 at pure noise (flow matching at T = 1): use an ODE sampler or T < 1")
    }
  }
}
