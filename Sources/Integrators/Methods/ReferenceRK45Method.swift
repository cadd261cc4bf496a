import DiffusionCore

/// `rk45`: the black-box continuous adjoint (docs/math.md#reference-adjoint), the probability-flow ODE and its
/// adjoint integrated with adaptive Dormand-Prince RK45 at tolerance rtol/atol: the reference every other method is
/// measured against.
///
/// Cost: adaptive; one eps per RK45 stage of the forward solve, one VJP per stage of the adjoint solve (hundreds to
/// thousands at rtol = 1e-12). Memory: `interpolate` keeps the forward solve's dense output (O(accepted steps x d));
/// `backsolve` re-integrates x backwards with the adjoint in O(d + m + P).
public struct ReferenceRK45Method: GradientMethod {
  public static let entry = GradientMethodEntry(
    name: "rk45", summary: "black-box continuous adjoint with adaptive RK45 (the reference)",
    make: { try ReferenceRK45Method($0, defaults: $1) })

  public var rtol: Double
  public var atol: Double
  public var states: ReferenceAdjoint.StateSource
  /// N and the grid of a z schedule (the steps on which z is piecewise constant); they mean nothing for a constant z.
  public var samplerSteps: Int
  public var grid: GridSpacing
  public var wantParameters: Bool
  /// Whether the user gave N or the grid (rejected by `validate` for a constant z).
  let scheduleOptionsGiven: [GradientOption]

  public var name: String { Self.entry.name }
  public var label: String { "rk45 rtol=\(rtol) atol=\(atol)" }
  public var dynamics: Dynamics { .ode }

  public init(_ given: GradientOptions, defaults: GradientOptions = GradientOptions()) throws {
    try given.reject([.steps, .states, .weight, .seed, .noise, .checkpoint] + GradientOption.reversibleSampler + [.adjointForm], method: "rk45")
    try given.rejectLinearPart(method: "rk45")
    if given.sampler?.isSDE == true || given.dynamics == .sde {
      throw InvalidInput("sampler", "the rk45 reference solves the probability-flow ODE; it has no SDE form")
    }
    try given.reject([.sampler], method: "rk45")
    let o = GradientOptions.resolve(given, over: defaults)
    rtol = o.rtol ?? 1e-12
    atol = o.atol ?? 1e-12
    states = o.rk45States ?? .interpolate
    samplerSteps = o.samplerSteps ?? 20
    grid = o.grid ?? .timeUniform
    wantParameters = o.wantParameters ?? true
    scheduleOptionsGiven = given.set.filter { $0 == .samplerSteps || $0 == .grid }
    try Check.positive(samplerSteps, "sampler-steps")
    guard rtol > 0, atol > 0, rtol.isFinite, atol.isFinite else { throw InvalidInput("rtol", "rtol and atol must be positive and finite") }
  }

  public func validate<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws {
    if p.z.count == 1, let option = scheduleOptionsGiven.first {
      throw InvalidInput(option.rawValue, "has no meaning with --solver rk45 and a constant z (it sets the steps of a z schedule)")
    }
    _ = try scheduleGrid(p)
  }

  /// The grid of a z schedule (nil for a constant z).
  func scheduleGrid<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws -> TimeGrid? {
    let grid = try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: samplerSteps, spacing: grid)
    try p.z.validate(dimension: p.model.conditionDimension, steps: samplerSteps)
    return p.z.count > 1 ? grid : nil
  }

  public func gradient<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws -> GradientResult {
    try validate(p)
    let reference = try ReferenceAdjoint(rtol: rtol, atol: atol, states: states, wantParameters: wantParameters)
    return try reference.gradient(model: p.model, schedule: p.schedule, T: p.T, tEps: p.tEps, xT: p.xT, z: p.z,
                                  samplingGrid: try scheduleGrid(p), loss: p.loss)
  }
}
