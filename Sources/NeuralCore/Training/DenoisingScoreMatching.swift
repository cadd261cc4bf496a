import DiffusionCore
import Foundation

/// Exact data for training: B samples x_0 of p_0 (B x d) and their conditioning z (B x m, empty when m = 0),
/// drawn from the generator it is given.
public typealias TrainingDataSource = @Sendable (_ batch: Int, _ generator: inout SeededGenerator) throws -> (x0: [Double], z: [Double])

/// Denoising score matching for a UNet2DModel noise predictor (docs/math.md#denoising-score-matching):
/// `L(theta) = E_{x_0, t, e} |eps_theta(alpha_t x_0 + sigma_t e, z, t) - e|^2 / d`, t ~ U[t_eps, T] of the schedule,
/// the network's time input `schedule.discreteModelTime(t)` as in `UNetNoisePredictor`.
public struct DenoisingScoreMatching<Scalar: BLASScalar>: Sendable {
  public let schedule: NoiseSchedule
  public let tEps: Double
  public let T: Double
  public let height: Int
  public let width: Int

  public init(schedule: NoiseSchedule, tEps: Double? = nil, T: Double? = nil, height: Int, width: Int) throws {
    let tEps = tEps ?? schedule.tMin, T = T ?? schedule.tMax
    try schedule.validate(tEps: tEps, T: T)
    try Check.positive(height, "height")
    try Check.positive(width, "width")
    self.schedule = schedule
    self.tEps = tEps
    self.T = T
    self.height = height
    self.width = width
  }

  /// The loss on one batch and its gradient in theta: one forward pass, then one reverse pass with the cotangent
  /// `dL/deps = 2 (eps - e) / (B d)`. Times and noise come from `generator`.
  @_specialize(exported: true, where Scalar == Float)
  @_specialize(exported: true, where Scalar == Double)
  public func lossAndGradient(_ model: UNet2DModel<Scalar>, x0: [Double], z: [Double], batch B: Int,
                              generator rng: inout SeededGenerator) throws -> (loss: Double, gradient: [Scalar]) {
    let d = model.config.inChannels * height * width
    try Check.count(x0, B * d, "x0")
    try Check.count(z, B * model.config.conditionDimension, "z")
    var xt = [Scalar](repeating: 0, count: B * d)
    var noise = [Double](repeating: 0, count: B * d)
    var timesteps = [Double](repeating: 0, count: B)
    for b in 0..<B {
      let t = tEps + (T - tEps) * rng.uniform()
      timesteps[b] = schedule.discreteModelTime(t)
      let a = schedule.alpha(t), s = schedule.sigma(t)
      for i in 0..<d {
        let e = rng.normal()
        noise[b * d + i] = e
        xt[b * d + i] = Scalar(a * x0[b * d + i] + s * e)  // x_t = alpha_t x_0 + sigma_t e
      }
    }
    let zs = z.map { Scalar($0) }
    try model.validate(xt, batch: B, height: height, width: width, timesteps: timesteps, z: zs, cotangent: nil)
    return model.parameters.withUnsafeBufferPointer { pb in
      let p = pb.baseAddress!
      let tape = model.run(xt, batch: B, height: height, width: width, timesteps: timesteps, z: zs, p)
      let eps = tape.output.toNCHW()
      let scale = 2 / Double(B * d)
      var loss = 0.0
      var cotangent = [Scalar](repeating: 0, count: B * d)
      for i in 0..<(B * d) {
        let r = Double(eps[i]) - noise[i]
        loss += r * r
        cotangent[i] = Scalar(scale * r)
      }
      var gradient = [Scalar](repeating: 0, count: model.parameterCount)
      gradient.withUnsafeMutableBufferPointer { gb in
        _ = model.backward(tape, cotangent: cotangent, p, gb.baseAddress!)
      }
      return (loss / Double(B * d), gradient)
    }
  }
}
