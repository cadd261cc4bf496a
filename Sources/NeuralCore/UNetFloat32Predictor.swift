import DiffusionCore

/// `UNetNoisePredictor<Float>` called from non-generic code (see `UNetFloat64Predictor`): the network computes in
/// float32, inputs and outputs are rounded at the boundary. For measuring how float32 evaluation limits the orders.
public struct UNetFloat32Predictor: NoisePredictor {
  public let base: UNetNoisePredictor<Float>

  public init(_ base: UNetNoisePredictor<Float>) { self.base = base }

  public var dataDimension: Int { base.dataDimension }
  public var conditionDimension: Int { base.conditionDimension }
  public var parameterBlocks: [ParameterBlock] { base.parameterBlocks }
  public var parameters: [Double] { base.model.parameters.map { Double($0) } }

  public func replacingParameters(_ theta: [Double]) throws -> UNetFloat32Predictor {
    UNetFloat32Predictor(try base.replacingParameters(theta))
  }

  public func eps(_ x: [Double], z: [Double], t: Double, batch: Int) throws -> [Double] {
    try validateInputs(x, z: z, t: t, batch: batch)
    return try base.model.forward(x.map { Float($0) }, batch: batch, height: base.height, width: base.width,
                                  timesteps: [base.schedule.discreteModelTime(t)], z: z.map { Float($0) }).map { Double($0) }
  }

  public func vjp(_ x: [Double], z: [Double], t: Double, batch: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP {
    try validateInputs(x, z: z, t: t, batch: batch, cotangent: v)
    let r = try base.model.vjp(x.map { Float($0) }, batch: batch, height: base.height, width: base.width,
                               timesteps: [base.schedule.discreteModelTime(t)], z: z.map { Float($0) }, cotangent: v.map { Float($0) },
                               wantParameters: wantParameters)
    return NoiseVJP(eps: r.eps.map { Double($0) }, x: r.x.map { Double($0) }, z: r.z.map { Double($0) }, theta: r.parameters.map { Double($0) })
  }
}
