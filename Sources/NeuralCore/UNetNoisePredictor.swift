import DiffusionCore

/// A UNet2DModel as the project's noise predictor: x is (B, C, H, W) flattened (d = C H W per sample), z the
/// identity class embedding's vector (m = time_embed_dim, or 0), theta every parameter in state_dict order.
/// The network is discrete-time: it receives `schedule.discreteModelTime(t)` = 1000 (t - 1/1000)
/// (docs/math.md#discrete-schedule). It computes in `Scalar`; inputs and outputs are converted at the boundary.
public struct UNetNoisePredictor<Scalar: BLASScalar>: NoisePredictor {
  public let model: UNet2DModel<Scalar>
  public let schedule: NoiseSchedule
  public let height: Int
  public let width: Int

  /// `height` and `width` default to the config's sample_size; out_channels must equal in_channels.
  public init(model: UNet2DModel<Scalar>, schedule: NoiseSchedule = .discrete, height: Int? = nil, width: Int? = nil) throws {
    guard let h = height ?? model.config.sampleSize, let w = width ?? model.config.sampleSize else {
      throw InvalidInput("height", "the config has no sample_size: give the image height and width")
    }
    try Check.positive(h, "height")
    try Check.positive(w, "width")
    let multiple = 1 << model.downsamplings
    guard h % multiple == 0, w % multiple == 0 else {
      throw InvalidInput("height", "height and width must be multiples of \(multiple), got \(h) x \(w)")
    }
    guard model.config.outChannels == model.config.inChannels else {
      throw InvalidInput(
        "out_channels", "a noise predictor needs out_channels == in_channels, got \(model.config.outChannels) and \(model.config.inChannels)")
    }
    self.model = model
    self.schedule = schedule
    self.height = h
    self.width = w
  }

  public var dataDimension: Int { model.config.inChannels * height * width }
  public var conditionDimension: Int { model.config.conditionDimension }
  public var parameterBlocks: [ParameterBlock] { model.parameterBlocks }
  public var parameters: [Double] { model.parameters.map { Double($0) } }

  public func replacingParameters(_ theta: [Double]) throws -> UNetNoisePredictor {
    try Check.count(theta, model.parameterCount, "theta")
    try Check.finite(theta, "theta")
    return try UNetNoisePredictor(
      model: model.replacingParameters(theta.map { Scalar($0) }), schedule: schedule, height: height, width: width)
  }

  // The network's passes run as code specialized for Float or Double inside this module: a caller in another module
  // that holds a `UNetNoisePredictor<S>` for a generic S would otherwise run every layer as unspecialized generic
  // code (each SIMD operation a protocol call; measured 7x slower for `gradient --pipeline`).
  public func eps(_ x: [Double], z: [Double], t: Double, batch: Int) throws -> [Double] {
    if Scalar.self == Float.self { return try unsafeBitCast(self, to: UNetNoisePredictor<Float>.self).epsPass(x, z: z, t: t, batch: batch) }
    if Scalar.self == Double.self { return try unsafeBitCast(self, to: UNetNoisePredictor<Double>.self).epsPass(x, z: z, t: t, batch: batch) }
    return try epsPass(x, z: z, t: t, batch: batch)
  }

  public func vjp(_ x: [Double], z: [Double], t: Double, batch: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP {
    if Scalar.self == Float.self {
      return try unsafeBitCast(self, to: UNetNoisePredictor<Float>.self).vjpPass(x, z: z, t: t, batch: batch, cotangent: v, wantParameters: wantParameters)
    }
    if Scalar.self == Double.self {
      return try unsafeBitCast(self, to: UNetNoisePredictor<Double>.self).vjpPass(x, z: z, t: t, batch: batch, cotangent: v, wantParameters: wantParameters)
    }
    return try vjpPass(x, z: z, t: t, batch: batch, cotangent: v, wantParameters: wantParameters)
  }

  func epsPass(_ x: [Double], z: [Double], t: Double, batch: Int) throws -> [Double] {
    try validateInputs(x, z: z, t: t, batch: batch)
    let out = try model.forward(
      x.map { Scalar($0) }, batch: batch, height: height, width: width, timesteps: [schedule.discreteModelTime(t)],
      z: z.map { Scalar($0) })
    return out.map { Double($0) }
  }

  func vjpPass(_ x: [Double], z: [Double], t: Double, batch: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP {
    try validateInputs(x, z: z, t: t, batch: batch, cotangent: v)
    let r = try model.vjp(
      x.map { Scalar($0) }, batch: batch, height: height, width: width, timesteps: [schedule.discreteModelTime(t)],
      z: z.map { Scalar($0) }, cotangent: v.map { Scalar($0) }, wantParameters: wantParameters)
    return NoiseVJP(
      eps: r.eps.map { Double($0) }, x: r.x.map { Double($0) }, z: r.z.map { Double($0) }, theta: r.parameters.map { Double($0) })
  }
}
