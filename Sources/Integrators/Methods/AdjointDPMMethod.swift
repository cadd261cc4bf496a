import DiffusionCore

/// `adjointdpm-euler`, `-midpoint`, `-rk4`: AdjointDPM (docs/gaussian-linear-part.md#adjointdpm), the continuous
/// adjoint of the probability-flow ODE in `y = x / alpha` against `rho = sigma / alpha`, with fixed-step Euler,
/// midpoint or RK4 on M steps. x_0 from DDIM (dpm-solver-1) on N steps and the state re-integrated backwards alongside
/// the adjoint (`resolved`, the default), or x_0 and the states exact (RK45).
///
/// Cost: N eps (sampling; exact: the RK45 solve instead) + M x (1, 2, 4) VJPs. Memory: O(d + m + P).
public struct AdjointDPMMethod: SweepBackMethod {
  public static let euler = entry(.euler)
  public static let midpoint = entry(.midpoint)
  public static let rk4 = entry(.rk4)

  static func entry(_ scheme: AdjointDPMScheme) -> GradientMethodEntry {
    GradientMethodEntry(name: "adjointdpm-\(scheme.rawValue)",
                        summary: "AdjointDPM (Pan et al. 2023): adjoint in rho = sigma/alpha, \(scheme.rawValue), \(scheme.stages) VJP\(scheme.stages > 1 ? "s" : "") per step",
                        make: { try AdjointDPMMethod(scheme: scheme, given: $0, defaults: $1) })
  }

  public var scheme: AdjointDPMScheme
  public var settings: SweepSettings

  public var samplerSteps: Int { settings.samplerSteps }
  public var adjointSteps: Int { settings.adjointSteps }
  public var states: StateChoice { settings.states }
  public var grid: GridSpacing { settings.grid }

  public var name: String { "adjointdpm-\(scheme.rawValue)" }
  public var label: String { "\(name)/ode/\(states.rawValue)" }

  public init(scheme: AdjointDPMScheme, given: GradientOptions, defaults: GradientOptions = GradientOptions()) throws {
    self.scheme = scheme
    let name = "adjointdpm-\(scheme.rawValue)"
    try given.rejectLinearPart(method: name)
    let rules = SweepRules(
      odeSampler: .dpmSolver1, defaultStates: .resolved, unusedOptions: [.weight, .checkpoint, .rk45States, .seed, .noise],
      unavailableStates: [.recorded: "\(name) needs x_t at its Runge-Kutta stages: use resolved (backsolve) or exact"],
      onlySampler: (.dpmSolver1, "\(name) samples with DDIM (dpm-solver-1), the Euler step of its ODE"))
    settings = try SweepSettings(method: name, rules: rules, given: given, defaults: defaults)
  }

  public func sweep<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>, forward: ForwardPass, grids: SweepGrids,
                                                       aX0: [Double]) throws -> SweepResult {
    let source: AdjointDPM.StateSource
    switch forward.states {
    case let .exact(x)?: source = .exact(x)
    default: source = .backsolve(x0: forward.x0)
    }
    let solution = try AdjointDPM(scheme: scheme, wantParameters: settings.wantParameters).solve(
      model: p.model, schedule: p.schedule, grid: grids.sweep, states: source, z: p.z, samplingGrid: grids.schedule, aX0: aX0)
    // a_y (and y when backsolving), with one stage derivative of each per Runge-Kutta stage.
    return SweepResult(solution: solution, storedStates: (source.isBacksolve ? 2 : 1) * (1 + scheme.stages))
  }
}

extension AdjointDPM.StateSource {
  var isBacksolve: Bool {
    if case .backsolve = self { return true }
    return false
  }
}
