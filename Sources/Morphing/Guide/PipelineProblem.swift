import DiffusionCore
import Foundation
import Integrators
import NeuralCore

/// A gradient problem on a pipeline's model: B images (x_T, z) run in lockstep as one state (`LockstepBatch`, so
/// every solver batches the network), a pixel loss on the sampler's output, and the time range [1/N, 1] of the
/// model's N training steps (DPM-Solver's default for discrete-time models).
public struct PipelineProblem<Model: NoisePredictor>: Sendable {
  public let model: LockstepBatch<Model>
  public let schedule: NoiseSchedule
  /// (C, H, W) of one image.
  public let shape: [Int]
  public let batch: Int
  public let T: Double
  public let tEps: Double
  public let xT: [Double]
  /// B x m (empty without conditioning).
  public let z: [Double]
  public let loss: PixelLoss

  public init(model: Model, schedule: NoiseSchedule, shape: [Int], xT: [Double], z: [Double], loss: PixelLoss) throws {
    let d = shape.reduce(1, *)
    guard d == model.dataDimension else { throw InvalidInput("shape", "\(shape) does not match the model's \(model.dataDimension) numbers per image") }
    guard !xT.isEmpty, xT.count % d == 0 else { throw InvalidInput("x_T", "expected B x \(d) numbers, got \(xT.count)") }
    batch = xT.count / d
    self.model = try LockstepBatch(model, count: batch)
    try Check.count(z, batch * model.conditionDimension, "z")
    try Check.count(loss.target, batch * d, "target")
    try Check.finite(xT, "x_T")
    try Check.finite(z, "z")
    self.schedule = schedule
    self.shape = shape
    self.xT = xT
    self.z = z
    self.loss = loss
    T = schedule.tMax
    tEps = schedule.tMin
  }

  /// The factor on the standard normal draw x_T that starts the continuous-time samplers: the prior's standard
  /// deviation sqrt(alpha_T^2 + sigma_T^2) = sqrt(1 + T^2) on EDM (diffusers' EDMEuler init_noise_sigma with T =
  /// sigma_max); 1 on VP and flow matching (whose loops start from the draw itself). Gradients in the draw are
  /// `startScale` times those in the start.
  public var startScale: Double {
    if case .edm = schedule.kind { return (1 + T * T).squareRoot() }
    return 1
  }

  /// The continuous-time samplers' x_T: `startScale` times the draw.
  public var start: [Double] { startScale == 1 ? xT : xT.map { startScale * $0 } }

  /// The same problem from another (x_T, z).
  public func moved(xT: [Double], z: [Double]) throws -> PipelineProblem {
    try PipelineProblem(model: model.model, schedule: schedule, shape: shape, xT: xT, z: z, loss: loss)
  }

  /// x_0 as a gradient method's gradients see it: a reversible method's own sampler, the Gaussian-linear sampler for
  /// an ODE method with a linear part (`GaussianLinearSampling`), else `kind` (the method's output sampler).
  public func sample(for method: any GradientMethod, kind: SamplerKind, steps: Int, spacing: GridSpacing, noiseSeed: UInt64 = 0) throws -> [Double] {
    if let reversible = method as? ReversibleMethod {  // its own sampler (Rex, BDIA, ...)
      return try reversible.sample(model: model, schedule: schedule, tEps: tEps, T: T, xT: start, z: .constant(z))
    }
    guard let gl = method as? GaussianLinearSampling, !gl.sampler.isSDE else {
      return try sample(kind, steps: steps, spacing: spacing, noiseSeed: noiseSeed)
    }
    let grid = try TimeGrid(schedule: schedule, tEps: tEps, T: T, steps: steps, spacing: spacing)
    return try gl.sampleLinear(model: model, grid: grid, xT: start, z: .constant(z))
  }

  /// x_0 sampled with `kind` on `steps` steps of `spacing` (SDE noise from `noiseSeed`).
  public func sample(_ kind: SamplerKind, steps: Int, spacing: GridSpacing, noiseSeed: UInt64 = 0) throws -> [Double] {
    let grid = try TimeGrid(schedule: schedule, tEps: tEps, T: T, steps: steps, spacing: spacing)
    let noise = kind.isSDE ? try NoiseSource.seeded(noiseSeed).draws(grid: grid, dimension: model.dataDimension) : []
    return try Sampler(kind: kind).sample(model: model, grid: grid, xT: start, z: .constant(z), noise: noise).x0
  }
}
