/// A noise predictor that cannot supply its data statistics (a network), paired with the statistics of the data
/// it was trained on, so that methods with a Gaussian linear part can use them (docs/gaussian-linear-part.md#the-split).
/// eps and the VJPs are the model's own, unchanged.
public struct WithDataStatistics<Model: NoisePredictor>: NoisePredictor, DataStatisticsProvider {
  public let model: Model
  public let statistics: DataStatistics

  /// Throws when the statistics' dimension is not the model's, or the model is conditioned (the statistics would
  /// then depend on z, which one set cannot say).
  public init(_ model: Model, statistics: DataStatistics) throws {
    guard statistics.dimension == model.dataDimension else {
      throw InvalidInput("statistics", "the statistics have dimension \(statistics.dimension), the model \(model.dataDimension)")
    }
    guard model.conditionDimension == 0 else {
      throw InvalidInput("statistics", "one set of data statistics is for an unconditioned model (this one takes m = \(model.conditionDimension))")
    }
    self.model = model
    self.statistics = statistics
  }

  public var dataDimension: Int { model.dataDimension }
  public var conditionDimension: Int { model.conditionDimension }
  public var parameterBlocks: [ParameterBlock] { model.parameterBlocks }
  public var parameters: [Double] { model.parameters }

  public func replacingParameters(_ theta: [Double]) throws -> WithDataStatistics {
    try WithDataStatistics(model.replacingParameters(theta), statistics: statistics)
  }

  public func eps(_ x: [Double], z: [Double], t: Double, batch: Int) throws -> [Double] {
    try model.eps(x, z: z, t: t, batch: batch)
  }

  public func vjp(_ x: [Double], z: [Double], t: Double, batch: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP {
    try model.vjp(x, z: z, t: t, batch: batch, cotangent: v, wantParameters: wantParameters)
  }

  public func dataStatistics(z: [Double]) throws -> DataStatistics {
    try Check.count(z, 0, "z")
    return statistics
  }
}
