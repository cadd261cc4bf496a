import DiffusionCore
import Integrators

extension PipelineProblem {
  /// dL/dx_T (and dL/dz) with `setup` (parameters are not differentiated: the lockstep batch exposes none).
  public func gradient(_ setup: GradientSetup) throws -> GradientResult {
    var s = setup
    s.wantParameters = false
    return try s.run(model: model, schedule: schedule, T: T, tEps: tEps, xT: xT, z: .constant(z), loss: loss)
  }
}
