import DiffusionCore

/// `adjointdpm-euler`, `-midpoint`, `-rk4`: AdjointDPM (docs/gaussian-linear-part.md#adjointdpm), the continuous
/// adjoint of the probability-flow ODE in `y = x / alpha` against `rho = sigma / alpha`, with fixed-step Euler,
/// midpoint or RK4 on M steps. x_0 from DDIM (dpm-solver-1) on N steps and the state re-integrated backwards alongside
/// the adjoint (`resolved`, the default: torchdiffeq's `odeint_adjoint`), or x_0 and the states exact (RK45).
///
/// Cost: N eps (sampling; exact: the RK45 solve instead) + M x (1, 2, 4) VJPs. Memory: O(d + m + P).
public struct AdjointDPMMethod: GradientMethod {
  public static let euler = entry(.euler)
  public static let midpoint = entry(.midpoint)
  public static let rk4 = entry(.rk4)

  static func entry(_ scheme: AdjointDPMScheme) -> GradientMethodEntry {
    GradientMethodEntry(name: "adjointdpm-\(scheme.rawValue)",
                        summary: "AdjointDPM (Pan et al. 2023): adjoint in rho = sigma/alpha, \(scheme.rawValue), \(scheme.stages) VJP\(scheme.stages > 1 ? "s" : "") per step",
                        make: { try AdjointDPMMethod(scheme: scheme, given: $0, defaults: $1) })
  }

  public var scheme: AdjointDPMScheme
  public var samplerSteps: Int
  public var adjointSteps: Int
  public var states: StateChoice
  public var grid: GridSpacing
  public var rtol: Double
  public var atol: Double
  public var wantParameters: Bool

  public var name: String { "adjointdpm-\(scheme.rawValue)" }
  public var label: String { "\(name)/ode/\(states.rawValue)" }
  public var dynamics: Dynamics { .ode }

  public init(scheme: AdjointDPMScheme, given: GradientOptions, defaults: GradientOptions = GradientOptions()) throws {
    self.scheme = scheme
    let name = "adjointdpm-\(scheme.rawValue)"
    try given.reject([.weight, .checkpoint, .rk45States, .seed, .noise], method: name)
    try given.rejectLinearPart(method: name)
    let o = GradientOptions.resolve(given, over: defaults)
    let sampler = try GradientOptions.sampler(given, over: defaults, odeDefault: .dpmSolver1)
    if sampler != .dpmSolver1 { throw InvalidInput("sampler", "\(name) samples with DDIM (dpm-solver-1), the Euler step of its ODE") }
    samplerSteps = o.samplerSteps ?? 20
    adjointSteps = o.adjointSteps ?? samplerSteps
    states = o.states ?? .resolved
    grid = o.grid ?? .timeUniform
    rtol = o.rtol ?? 1e-12
    atol = o.atol ?? 1e-12
    wantParameters = o.wantParameters ?? true
    if states == .recorded {
      throw InvalidInput("states", "\(name) needs x_t at its Runge-Kutta stages: use resolved (backsolve) or exact")
    }
    if states != .exact { try given.reject([.rtol, .atol], method: "\(name) without exact states") }
    try Check.positive(samplerSteps, "sampler-steps")
    try Check.positive(adjointSteps, "steps")
    guard rtol > 0, atol > 0, rtol.isFinite, atol.isFinite else { throw InvalidInput("rtol", "rtol and atol must be positive and finite") }
  }

  public func validate<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws {
    _ = try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: samplerSteps, spacing: grid)
    try p.z.validate(dimension: p.model.conditionDimension, steps: samplerSteps)
  }

  public func gradient<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws -> GradientResult {
    try validate(p)
    let samplingGrid = try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: samplerSteps, spacing: grid)
    let scheduleGrid: TimeGrid? = p.z.count > 1 ? samplingGrid : nil
    let adjointGrid = adjointSteps == samplerSteps
      ? samplingGrid : try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: adjointSteps, spacing: grid)
    let x0: [Double], source: AdjointDPM.StateSource, sampling: EvaluationCount
    if states == .exact {
      let forward = try ReferenceAdjoint(rtol: rtol, atol: atol).sampleODE(
        model: p.model, schedule: p.schedule, T: p.T, tEps: p.tEps, xT: p.xT, z: p.z, samplingGrid: scheduleGrid)
      (x0, source, sampling) = (forward.x0, .exact(forward.state), EvaluationCount(eps: forward.statistics.rhsEvaluations))
    } else {
      let path = try Sampler(kind: .dpmSolver1).sample(model: p.model, grid: samplingGrid, xT: p.xT, z: p.z)
      (x0, source, sampling) = (path.x0, .backsolve(x0: path.x0), path.evaluations)
    }
    let lossValue = p.loss.value(x0)
    try Check.finite(lossValue, "loss")
    let solution = try AdjointDPM(scheme: scheme, wantParameters: wantParameters).solve(
      model: p.model, schedule: p.schedule, grid: adjointGrid, states: source, z: p.z, samplingGrid: scheduleGrid,
      aX0: p.loss.gradient(x0))
    var result = GradientResult(x0: x0, loss: lossValue, gradXT: solution.ax, gradZ: solution.az, gradTheta: solution.atheta,
                                sampling: sampling, adjoint: solution.evaluations)
    result.hMax = adjointGrid.hMax
    return result
  }
}
