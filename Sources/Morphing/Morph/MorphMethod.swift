import DiffusionCore
import Integrators

/// The ways of making a morph compared in the experiment.
public enum MorphMethod: String, CaseIterable, Sendable {
  /// DiM: encode both images to x_T, slerp x_T and average z at w = 1/2, sample.
  case dim
  /// Morph-PIPE-like: DiM at several blend weights w, keep the morph with the smallest morph loss.
  case morphPipe = "morph-pipe"
  /// Gradient descent on (x_T, z) from the DiM blend, gradients from:
  case adjointDEIS1ODE = "adjointdeis-1/ode"
  case adjointDEIS1SDE = "adjointdeis-1/sde"
  case adjointDEIS2M = "adjointdeis-2m/ode"
  case dto
  case rk45

  public static let gradientMethods: [MorphMethod] = [.adjointDEIS1ODE, .adjointDEIS1SDE, .adjointDEIS2M, .dto, .rk45]

  public var isGradient: Bool { MorphMethod.gradientMethods.contains(self) }

  public static func named(_ name: String) throws -> MorphMethod {
    try parse(name, option: "methods", what: "method")
  }

  /// The sampler whose output is the morph: the SDE step for the SDE method, DDIM (DPM-Solver-1) otherwise.
  public var outputSampler: SamplerKind { self == .adjointDEIS1SDE ? .sde : .dpmSolver1 }

  /// The gradient setup of a gradient method: N = M, states recorded by the output sampler (as in the paper).
  public func setup(steps: Int, spacing: GridSpacing, noiseSeed: UInt64, rtol: Double) -> GradientSetup? {
    let solver: GradientSolver
    switch self {
    case .dim, .morphPipe: return nil
    case .adjointDEIS1ODE, .adjointDEIS1SDE: solver = .adjointDEIS1
    case .adjointDEIS2M: solver = .adjointDEIS2M
    case .dto: solver = .dto
    case .rk45: solver = .rk45
    }
    var s = GradientSetup(solver: solver)
    s.sampler = outputSampler
    s.samplerSteps = steps
    s.adjointSteps = steps
    s.states = .recorded
    s.spacing = spacing
    s.noise = .seeded(noiseSeed)
    s.rtol = rtol
    s.atol = rtol
    s.wantParameters = false
    return s
  }
}
