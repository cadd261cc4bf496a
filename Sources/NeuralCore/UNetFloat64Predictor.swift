import DiffusionCore

/// `UNetNoisePredictor<Double>` with its calls made from non-generic code, so that a generic caller (a study over
/// `Model: NoisePredictor`) reaches the UNet's float64-specialized forward and VJP instead of the unspecialized
/// generic path (about 5x slower on the image-mixture UNet).
public struct UNetFloat64Predictor: NoisePredictor {
  public let base: UNetNoisePredictor<Double>

  public init(_ base: UNetNoisePredictor<Double>) { self.base = base }

  public var dataDimension: Int { base.dataDimension }
  public var conditionDimension: Int { base.conditionDimension }
  public var parameterBlocks: [ParameterBlock] { base.parameterBlocks }
  public var parameters: [Double] { base.model.parameters }

  public func replacingParameters(_ theta: [Double]) throws -> UNetFloat64Predictor {
    UNetFloat64Predictor(try base.replacingParameters(theta))
  }

  public func eps(_ x: [Double], z: [Double], t: Double, batch: Int) throws -> [Double] {
    try validateInputs(x, z: z, t: t, batch: batch)
    return try base.model.forward(x, batch: batch, height: base.height, width: base.width,
                                  timesteps: [base.schedule.discreteModelTime(t)], z: z)
  }

  public func vjp(_ x: [Double], z: [Double], t: Double, batch: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP {
    try validateInputs(x, z: z, t: t, batch: batch, cotangent: v)
    let r = try base.model.vjp(x, batch: batch, height: base.height, width: base.width, timesteps: [base.schedule.discreteModelTime(t)],
                               z: z, cotangent: v, wantParameters: wantParameters)
    return NoiseVJP(eps: r.eps, x: r.x, z: r.z, theta: r.parameters)
  }
}
