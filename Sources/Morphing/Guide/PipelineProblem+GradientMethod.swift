import DiffusionCore
import Integrators
import NeuralCore

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

  /// The context defaults with AdjointDEIS in the form that converges on the pipeline's schedule: on a
  /// variance-preserving one the angle form for its prediction type (docs/math.md#angle-form; the paper's form
  /// freezes alpha^2 a_x^T d eps/dx over a step and explodes where alpha changes by orders of magnitude in one step,
  /// the end of squaredcos_cap_v2; `--adjoint-form standard` restores it); on flow matching and EDM the data-prediction
  /// form (docs/math.md#adjoint-data-form; the eps form does not converge from pure noise: relative error 0.95-0.99 at
  /// N = 10-50 on flowmatch-tiny, results/pipelines/euler-method-errors.md; `--parameterization noise` restores it).
  public static func adjoint(_ defaults: GradientOptions, schedule: NoiseSchedule, prediction: PredictionType) -> GradientOptions {
    var o = defaults
    if schedule.isVariancePreserving {
      o.adjointForm = .angle
      o.networkOutput = NetworkOutput(rawValue: prediction.rawValue) ?? .epsilon  // the same three names
    } else {
      o.parameterization = .data
    }
    return o
  }
}
