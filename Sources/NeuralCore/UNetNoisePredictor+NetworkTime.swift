import DiffusionCore

/// The UNet at diffusers' own time input (the Euler-family loops: a fractional timestep, sigma T, 0.25 log sigma),
/// specialized for Float and Double as `eps` is.
extension UNetNoisePredictor: NetworkTimeInput {
  public func output(_ x: [Double], z: [Double], networkTime: Double, batch: Int) throws -> [Double] {
    if Scalar.self == Float.self { return try unsafeBitCast(self, to: UNetNoisePredictor<Float>.self).outputPass(x, z: z, networkTime: networkTime, batch: batch) }
    if Scalar.self == Double.self { return try unsafeBitCast(self, to: UNetNoisePredictor<Double>.self).outputPass(x, z: z, networkTime: networkTime, batch: batch) }
    return try outputPass(x, z: z, networkTime: networkTime, batch: batch)
  }

  public func outputVJP(_ x: [Double], z: [Double], networkTime: Double, batch: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP {
    if Scalar.self == Float.self {
      return try unsafeBitCast(self, to: UNetNoisePredictor<Float>.self).outputVJPPass(x, z: z, networkTime: networkTime, batch: batch, cotangent: v, wantParameters: wantParameters)
    }
    if Scalar.self == Double.self {
      return try unsafeBitCast(self, to: UNetNoisePredictor<Double>.self).outputVJPPass(x, z: z, networkTime: networkTime, batch: batch, cotangent: v, wantParameters: wantParameters)
    }
    return try outputVJPPass(x, z: z, networkTime: networkTime, batch: batch, cotangent: v, wantParameters: wantParameters)
  }

  func outputPass(_ x: [Double], z: [Double], networkTime: Double, batch: Int) throws -> [Double] {
    try validateInputs(x, z: z, t: networkTime, batch: batch)
    let out = try model.forward(x.map { Scalar($0) }, batch: batch, height: height, width: width, timesteps: [networkTime], z: z.map { Scalar($0) })
    return out.map { Double($0) }
  }

  func outputVJPPass(_ x: [Double], z: [Double], networkTime: Double, batch: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP {
    try validateInputs(x, z: z, t: networkTime, batch: batch, cotangent: v)
    let r = try model.vjp(x.map { Scalar($0) }, batch: batch, height: height, width: width, timesteps: [networkTime], z: z.map { Scalar($0) },
                          cotangent: v.map { Scalar($0) }, wantParameters: wantParameters)
    return NoiseVJP(eps: r.eps.map { Double($0) }, x: r.x.map { Double($0) }, z: r.z.map { Double($0) }, theta: r.parameters.map { Double($0) })
  }
}
