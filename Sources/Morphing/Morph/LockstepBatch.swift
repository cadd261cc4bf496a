import DiffusionCore

/// P independent problems of one model run as a single state `x = (x_1, ..., x_P)` of dimension P d, so that every
/// batch-1 solver (samplers, AdjointDEIS, DTO, RK45) advances all pairs of a morphing run in one batched network call.
///
/// The problems do not interact: `eps` of block p depends on `x_p, z_p` only, so the VJPs of a separable loss
/// `sum_p L_p(x_{0,p})` are the per-pair VJPs side by side. Fixed-grid solvers give exactly the per-pair results; the
/// adaptive RK45 chooses one step sequence for all pairs (its RMS error norm runs over the whole state).
/// Parameters are not exposed (theta is not optimized here), so `wantParameters` must be false.
public struct LockstepBatch<Model: NoisePredictor>: NoisePredictor {
  public let model: Model
  /// P, the number of problems.
  public let count: Int

  public init(_ model: Model, count: Int) throws {
    try Check.positive(count, "pairs")
    self.model = model
    self.count = count
  }

  public var dataDimension: Int { count * model.dataDimension }
  public var conditionDimension: Int { count * model.conditionDimension }
  public var parameterBlocks: [ParameterBlock] { [] }
  public var parameters: [Double] { [] }

  public func replacingParameters(_ theta: [Double]) throws -> LockstepBatch {
    guard theta.isEmpty else { throw InvalidInput("theta", "a lockstep batch exposes no parameters") }
    return self
  }

  public func eps(_ x: [Double], z: [Double], t: Double, batch: Int) throws -> [Double] {
    try validateInputs(x, z: z, t: t, batch: batch)
    return try model.eps(x, z: z, t: t, batch: batch * count)
  }

  public func vjp(_ x: [Double], z: [Double], t: Double, batch: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP {
    guard !wantParameters else { throw InvalidInput("wantParameters", "a lockstep batch exposes no parameters") }
    try validateInputs(x, z: z, t: t, batch: batch, cotangent: v)
    let r = try model.vjp(x, z: z, t: t, batch: batch * count, cotangent: v, wantParameters: false)
    return NoiseVJP(eps: r.eps, x: r.x, z: r.z, theta: [])
  }

  /// The pure-noise end (flow matching at T = 1), batched as `eps` is.
  public func noiseEndPrediction(_ x: [Double], z: [Double], batch: Int) throws -> [Double] {
    try validateInputs(x, z: z, t: 1, batch: batch)
    return try model.noiseEndPrediction(x, z: z, batch: batch * count)
  }

  public func noiseEndVJP(_ x: [Double], z: [Double], batch: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP {
    guard !wantParameters else { throw InvalidInput("wantParameters", "a lockstep batch exposes no parameters") }
    try validateInputs(x, z: z, t: 1, batch: batch, cotangent: v)
    let r = try model.noiseEndVJP(x, z: z, batch: batch * count, cotangent: v, wantParameters: false)
    return NoiseVJP(eps: r.eps, x: r.x, z: r.z, theta: [])
  }
}
