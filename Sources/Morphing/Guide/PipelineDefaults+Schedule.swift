import DiffusionCore
import Integrators

extension PipelineDefaults {
  /// The defaults of a pipeline run on `schedule`: `gradientOptions(noiseSeed:)`, with EDM's natural `karras` grid (its
  /// rho; EDMEuler's loop spaces its sigmas so): a time-uniform grid on [0.002, 80] puts nearly every step at sigma > 1.
  /// Flow matching keeps time-uniform (`--grid shifted` gives the loop's spacing): on the tiny fixture pipeline it was
  /// the closer of the two to the loop's gradient (dto/dpm-solver-2m relative error 0.028 vs 0.061 at N = 10).
  public static func gradientOptions(noiseSeed: UInt64 = 0, schedule: NoiseSchedule) -> GradientOptions {
    var o = gradientOptions(noiseSeed: noiseSeed)
    switch schedule.kind {
    case .edm: o.grid = .karras
    default: break
    }
    return o
  }
}
