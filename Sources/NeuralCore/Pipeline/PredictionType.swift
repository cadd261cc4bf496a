import DiffusionCore
import Foundation

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

/// A model trained with any `PredictionType` as the eps-predictor the solvers need: `eps = a(t) out(c(t) x) + b(t) x`
/// (docs/math.md#network-conversions). On a VP schedule c = 1 and (a, b) are `PredictionType.epsCoefficients`, the
/// network at its discrete time; on `flow-matching` the output is the velocity `v = eps - x_0`, so with
/// `x = (1 - t) x_0 + t eps`, `eps = (1 - t) v + x` (a = 1 - t, b = 1, c = 1, network time `timeScale` t = sigma T as
/// diffusers passes it); on `edm` the network is EDM-preconditioned: `x0-hat = c_skip x + c_out out(c_in x, 0.25 log t)`
/// with c_skip = s_d^2/(t^2 + s_d^2), c_out = +/- t s_d / sqrt(t^2 + s_d^2) (+ epsilon, - v_prediction), c_in =
/// 1/sqrt(t^2 + s_d^2), so `eps = (x - x0-hat)/t` gives a = -/+ s_d/sqrt(t^2 + s_d^2), b = t/(t^2 + s_d^2), c = c_in.
/// The VJPs follow from linearity: `v^T d eps/dx = a c (v^T d out/d input) + b v`, and `a` times the model's VJPs in z
/// and theta. Flow matching's pure-noise end (t = 1, where a = 0) has `x0-hat = x - v(x, 1)` (`noiseEndPrediction`).
/// FM and EDM need a network that takes diffusers' time input (`NetworkTimeInput`).
public struct EpsilonConversion<Model: NoisePredictor>: NoisePredictor {
  public let model: Model
  public let prediction: PredictionType
  public let schedule: NoiseSchedule
  /// EDM's sigma_data (read on `edm` schedules only).
  public let sigmaData: Double
  /// Flow matching's network time per unit t (diffusers: num_train_timesteps).
  public let timeScale: Double

  public init(_ model: Model, prediction: PredictionType, schedule: NoiseSchedule, sigmaData: Double = 0.5, timeScale: Double = 1000) {
    self.model = model
    self.prediction = prediction
    self.schedule = schedule
    self.sigmaData = sigmaData
    self.timeScale = timeScale
  }

  public var dataDimension: Int { model.dataDimension }
  public var conditionDimension: Int { model.conditionDimension }
  public var parameterBlocks: [ParameterBlock] { model.parameterBlocks }
  public var parameters: [Double] { model.parameters }

  public func replacingParameters(_ theta: [Double]) throws -> EpsilonConversion {
    EpsilonConversion(try model.replacingParameters(theta), prediction: prediction, schedule: schedule, sigmaData: sigmaData, timeScale: timeScale)
  }

  /// `eps = a out(inputScale x, networkTime) + b x`; networkTime nil: the model's own time of t (VP).
  public struct Coefficients: Sendable, Equatable {
    public var a: Double, b: Double, inputScale: Double, networkTime: Double?
  }

  public func coefficients(_ t: Double) -> Coefficients {
    switch schedule.kind {
    case .flowMatching: return Coefficients(a: 1 - t, b: 1, inputScale: 1, networkTime: timeScale * t)
    case .edm:
      let d2 = sigmaData * sigmaData, r = (t * t + d2).squareRoot()
      return Coefficients(a: (prediction == .vPrediction ? 1 : -1) * sigmaData / r, b: t / (t * t + d2), inputScale: 1 / r, networkTime: 0.25 * log(t))
    default:
      let (a, b) = prediction.epsCoefficients(alpha: schedule.alpha(t), sigma: schedule.sigma(t))
      return Coefficients(a: a, b: b, inputScale: 1, networkTime: nil)
    }
  }

  private var isPlainEpsilon: Bool { schedule.isVariancePreserving && prediction == .epsilon }

  private func network() throws -> any NetworkTimeInput {
    guard let net = model as? any NetworkTimeInput else {
      throw InvalidInput("model", "\(schedule.name) needs a network that takes diffusers' time input (a UNet), not \(Model.self)")
    }
    return net
  }

  /// The raw output at `c`.
  private func output(_ x: [Double], z: [Double], t: Double, batch: Int, _ c: Coefficients) throws -> [Double] {
    let input = c.inputScale == 1 ? x : x.map { c.inputScale * $0 }
    guard let tau = c.networkTime else { return try model.eps(input, z: z, t: t, batch: batch) }
    return try network().output(input, z: z, networkTime: tau, batch: batch)
  }

  /// The raw output's VJP with cotangent w (`eps` the raw output, `x` through the input scale).
  private func outputVJP(_ x: [Double], z: [Double], t: Double, batch: Int, cotangent w: [Double], wantParameters: Bool,
                         _ c: Coefficients) throws -> NoiseVJP {
    let input = c.inputScale == 1 ? x : x.map { c.inputScale * $0 }
    var r: NoiseVJP
    if let tau = c.networkTime {
      r = try network().outputVJP(input, z: z, networkTime: tau, batch: batch, cotangent: w, wantParameters: wantParameters)
    } else {
      r = try model.vjp(input, z: z, t: t, batch: batch, cotangent: w, wantParameters: wantParameters)
    }
    if c.inputScale != 1 { for i in r.x.indices { r.x[i] *= c.inputScale } }
    return r
  }

  public func eps(_ x: [Double], z: [Double], t: Double, batch: Int) throws -> [Double] {
    guard !isPlainEpsilon else { return try model.eps(x, z: z, t: t, batch: batch) }
    try validateInputs(x, z: z, t: t, batch: batch)
    let c = coefficients(t)
    let out = try output(x, z: z, t: t, batch: batch, c)
    var eps = out
    for i in eps.indices { eps[i] = c.a * out[i] + c.b * x[i] }
    return eps
  }

  public func vjp(_ x: [Double], z: [Double], t: Double, batch: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP {
    guard !isPlainEpsilon else {
      return try model.vjp(x, z: z, t: t, batch: batch, cotangent: v, wantParameters: wantParameters)
    }
    try validateInputs(x, z: z, t: t, batch: batch, cotangent: v)
    let c = coefficients(t)
    var r = try outputVJP(x, z: z, t: t, batch: batch, cotangent: v.map { c.a * $0 }, wantParameters: wantParameters, c)
    // r.eps is the raw output here; r.x, r.z, r.theta are already scaled by a through the cotangent.
    for i in r.eps.indices {
      r.eps[i] = c.a * r.eps[i] + c.b * x[i]
      r.x[i] += c.b * v[i]
    }
    return r
  }

  /// Flow matching at t = 1 (pure noise): `x0-hat = x - v(x, 1)`, from the velocity (x = x_0 + t (eps - x_0) - ... at
  /// t = 1 is eps, and x_0 = x - t v for every t). Other schedules have no pure-noise end.
  public func noiseEndPrediction(_ x: [Double], z: [Double], batch: Int) throws -> [Double] {
    guard case .flowMatching = schedule.kind else { return try model.noiseEndPrediction(x, z: z, batch: batch) }
    try validateInputs(x, z: z, t: 1, batch: batch)
    let v = try output(x, z: z, t: 1, batch: batch, coefficients(1))
    return (0..<x.count).map { x[$0] - v[$0] }
  }

  /// Its VJP: `w^T d x0-hat/dx = w - w^T dv/dx`, `-w^T dv/dz`, `-w^T dv/dtheta`.
  public func noiseEndVJP(_ x: [Double], z: [Double], batch: Int, cotangent w: [Double], wantParameters: Bool) throws -> NoiseVJP {
    guard case .flowMatching = schedule.kind else {
      return try model.noiseEndVJP(x, z: z, batch: batch, cotangent: w, wantParameters: wantParameters)
    }
    try validateInputs(x, z: z, t: 1, batch: batch, cotangent: w)
    var r = try outputVJP(x, z: z, t: 1, batch: batch, cotangent: w.map { -$0 }, wantParameters: wantParameters, coefficients(1))
    for i in r.eps.indices {
      r.eps[i] = x[i] - r.eps[i]
      r.x[i] += w[i]
    }
    return r
  }
}
