import DiffusionCore
import Integrators

extension PipelineProblem {
  /// The registry's view of this problem: the lockstep batch, the time range, (x_T, z) and the pixel loss (x_T the
  /// continuous-time start, `start`).
  public var gradientProblem: GradientProblem<LockstepBatch<Model>, PixelLoss> {
    get throws { try GradientProblem(model: model, schedule: schedule, T: T, tEps: tEps, xT: start, z: .constant(z), loss: loss) }
  }

  /// dL/dx_T (and dL/dz) with any gradient method of the registry (made with `wantParameters = false`: the lockstep
  /// batch exposes no parameters).
  public func gradient(_ method: any GradientMethod) throws -> GradientResult {
    var r = try method.gradient(try gradientProblem)
    if startScale != 1 { r.gradXT = r.gradXT.map { startScale * $0 } }  // in the draw (EDM: x_T = startScale draw)
    return r
  }
}

/// The gradient-method defaults of a pipeline run (under the user's options, never rejected).
public enum PipelineDefaults {
  /// The defaults of a pipeline run under the user's options: DDIM (DPM-Solver-1) as the sampler, N = M = 20, a
  /// time-uniform grid, SDE noise from `noiseSeed`, RK45 at rtol = atol = 1e-5 (a float32 network's eps is not
  /// smooth below ~1e-6, where an adaptive step control would stall), no dL/dtheta.
  public static func gradientOptions(noiseSeed: UInt64 = 0) -> GradientOptions {
    var o = GradientOptions()
    o.sampler = .dpmSolver1
    o.grid = .timeUniform
    o.noise = .seeded(noiseSeed)
    (o.rtol, o.atol) = (1e-5, 1e-5)
    o.wantParameters = false
    return o
  }
}
