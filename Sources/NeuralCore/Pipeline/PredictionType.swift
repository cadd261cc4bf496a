import DiffusionCore

/// What a diffusers UNet is trained to output (`prediction_type`), and its conversion to eps.
/// With `x_t = alpha_t x_0 + sigma_t eps` and `alpha_t^2 + sigma_t^2 = 1` (docs/math.md#schedules):
/// - `epsilon`: the output is eps;
/// - `sample`: the output is x_0, so `eps = (x_t - alpha_t x_0) / sigma_t`;
/// - `v_prediction`: the output is `v = alpha_t eps - sigma_t x_0`, so `eps = alpha_t v + sigma_t x_t`.
/// In every case `eps = a out + b x_t` with coefficients (a, b) depending on t only (docs/math.md#prediction-types).
public enum PredictionType: String, CaseIterable, Sendable {
  case epsilon
  case sample
  case vPrediction = "v_prediction"

  /// (a, b) with `eps = a out + b x_t` at the schedule's (alpha, sigma).
  public func epsCoefficients(alpha: Double, sigma: Double) -> (a: Double, b: Double) {
    switch self {
    case .epsilon: return (1, 0)
    case .sample: return (-alpha / sigma, 1 / sigma)
    case .vPrediction: return (alpha, sigma)
    }
  }
}

/// A model trained with any `PredictionType` as the eps-predictor the solvers need: `eps = a(t) out + b(t) x`.
/// The VJPs follow from linearity: `v^T d eps/dx = a (v^T d out/dx) + b v`, and `a` times the model's VJPs in z and theta.
public struct EpsilonConversion<Model: NoisePredictor>: NoisePredictor {
  public let model: Model
  public let prediction: PredictionType
  public let schedule: NoiseSchedule

  public init(_ model: Model, prediction: PredictionType, schedule: NoiseSchedule) {
    self.model = model
    self.prediction = prediction
    self.schedule = schedule
  }

  public var dataDimension: Int { model.dataDimension }
  public var conditionDimension: Int { model.conditionDimension }
  public var parameterBlocks: [ParameterBlock] { model.parameterBlocks }
  public var parameters: [Double] { model.parameters }

  public func replacingParameters(_ theta: [Double]) throws -> EpsilonConversion {
    EpsilonConversion(try model.replacingParameters(theta), prediction: prediction, schedule: schedule)
  }

  private func coefficients(_ t: Double) -> (a: Double, b: Double) {
    prediction.epsCoefficients(alpha: schedule.alpha(t), sigma: schedule.sigma(t))
  }

  public func eps(_ x: [Double], z: [Double], t: Double, batch: Int) throws -> [Double] {
    let out = try model.eps(x, z: z, t: t, batch: batch)
    guard prediction != .epsilon else { return out }
    let (a, b) = coefficients(t)
    var eps = out
    for i in eps.indices { eps[i] = a * out[i] + b * x[i] }
    return eps
  }

  public func vjp(_ x: [Double], z: [Double], t: Double, batch: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP {
    guard prediction != .epsilon else {
      return try model.vjp(x, z: z, t: t, batch: batch, cotangent: v, wantParameters: wantParameters)
    }
    try validateInputs(x, z: z, t: t, batch: batch, cotangent: v)
    let (a, b) = coefficients(t)
    var r = try model.vjp(x, z: z, t: t, batch: batch, cotangent: v.map { a * $0 }, wantParameters: wantParameters)
    // r.eps is the raw output here; r.x, r.z, r.theta are already scaled by a through the cotangent.
    for i in r.eps.indices {
      r.eps[i] = a * r.eps[i] + b * x[i]
      r.x[i] += b * v[i]
    }
    return r
  }
}
