import DiffusionCore

/// `adjointdpm-euler`, `-midpoint`, `-rk4`: AdjointDPM (Pan et al., ICLR 2024; docs/gaussian-linear-part.md#adjointdpm),
/// the continuous adjoint of the probability-flow ODE in `y = x / alpha` against `rho = sigma / alpha`, with fixed-step
/// Euler, midpoint or RK4. States:
/// - `recorded` (the default; the authors' configuration, torchdiffeq's `odeint_adjoint` given the whole grid): x_0 by
///   the same Runge-Kutta method on the same N steps (`rk4` is torchdiffeq's, the 3/8 rule), y kept at each grid time;
///   the adjoint steps back over the same grid (M = N), y re-solved across each step from the kept value.
/// - `resolved`: x_0 by DDIM (dpm-solver-1) on N steps, y backsolved from it over M steps and never reset; classical
///   RK4. Not what `odeint_adjoint` does: DDIM's first-order x_0 makes it first order.
/// - `exact`: x_0 and x_t from RK45 (classical RK4 for the adjoint).
///
/// Cost: recorded N x (1, 2, 4) eps + N x (1, 2, 4) VJPs; resolved N eps + M x (1, 2, 4) VJPs; exact the RK45 solve +
/// M x (1, 2, 4) VJPs. Memory: recorded N + 1 states; y, a_y and their stage derivatives in the sweep.
public struct AdjointDPMMethod: SweepBackMethod {
  public static let euler = entry(.euler)
  public static let midpoint = entry(.midpoint)
  public static let rk4 = entry(.rk4)

  static func entry(_ scheme: AdjointDPMScheme) -> GradientMethodEntry {
    GradientMethodEntry(name: "adjointdpm-\(scheme.rawValue)",
                        summary: "AdjointDPM (Pan et al., ICLR 2024): adjoint in rho = sigma/alpha, \(scheme.rawValue), \(scheme.stages) VJP\(scheme.stages > 1 ? "s" : "") per step (recorded, the default: the authors' torchdiffeq run; resolved: DDIM's x_0, backsolve)",
                        make: { try AdjointDPMMethod(scheme: scheme, given: $0, defaults: $1) })
  }

  public var scheme: AdjointDPMScheme
  public var settings: SweepSettings


  public var name: String { "adjointdpm-\(scheme.rawValue)" }
  public var label: String { "\(name)/ode/\(states.rawValue)" }

  public init(scheme: AdjointDPMScheme, given: GradientOptions, defaults: GradientOptions = GradientOptions()) throws {
    self.scheme = scheme
    let name = "adjointdpm-\(scheme.rawValue)"
    try given.rejectLinearPart(method: name)
    let rules = SweepRules(
      odeSampler: .dpmSolver1, defaultStates: .recorded, unusedOptions: [.weight, .checkpoint, .rk45States, .seed, .noise],
      onlySampler: (.dpmSolver1, "\(name) samples with DDIM (dpm-solver-1), the Euler step of its ODE, or with its own steps (recorded)"))
    settings = try SweepSettings(method: name, rules: rules, given: given, defaults: defaults)
    if settings.states == .recorded, given.sampler != nil {
      throw InvalidInput("sampler", "\(name)/recorded samples with its own \(scheme.rawValue) steps in rho (resolved samples with DDIM)")
    }
  }

  public func validateMethod<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws {
    try PureNoise.refuse(p, method: name, because: PureNoise.adjointDPM)
  }

  /// The authors' configuration samples with its own Runge-Kutta steps (no DTO through them here); the others
  /// sample with DDIM.
  public var discreteReference: (any GradientMethod)? { states == .recorded ? nil : settings.dtoThroughSampler }

  /// Recorded: the same Runge-Kutta method (torchdiffeq's rk4 for rk4) on the sampling grid, y kept at each grid time.
  public func forward<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>, grids: SweepGrids) throws -> ForwardPass {
    guard states == .recorded else { return try settings.forward(p, grids: grids) }
    let path = try AdjointDPM(scheme: scheme, rk4: .threeEighths, wantParameters: settings.wantParameters)
      .sample(model: p.model, schedule: p.schedule, grid: grids.sampling, xT: p.xT, z: p.z, samplingGrid: grids.schedule)
    return ForwardPass(x0: path.x0, states: nil, sampling: path.evaluations, storedStates: path.ys.count, carry: path.ys)
  }

  public func sweep<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>, forward: ForwardPass, grids: SweepGrids,
                                                       aX0: [Double]) throws -> SweepResult {
    let source: AdjointDPM.StateSource
    switch forward.states {
    case let .exact(x)?: source = .exact(x)
    case nil: source = .recorded(ys: forward.carry as! [[Double]])  // invariant: the recorded forward pass carries its ys
    default: source = .backsolve(x0: forward.x0)
    }
    let solution = try AdjointDPM(scheme: scheme, rk4: states == .recorded ? .threeEighths : .classical, wantParameters: settings.wantParameters)
      .solve(model: p.model, schedule: p.schedule, grid: grids.sweep, states: source, z: p.z, samplingGrid: grids.schedule, aX0: aX0)
    // a_y (and y when re-solving it), with one stage derivative of each per Runge-Kutta stage.
    return SweepResult(solution: solution, storedStates: (source.resolvesY ? 2 : 1) * (1 + scheme.stages))
  }
}

extension AdjointDPM.StateSource {
  /// Whether the sweep integrates y alongside the adjoint (backsolve, or from each recorded value).
  var resolvesY: Bool {
    if case .exact = self { return false }
    return true
  }
}
