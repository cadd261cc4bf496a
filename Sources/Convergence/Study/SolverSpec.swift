import DiffusionCore
import Integrators

/// A solver of a study, named `SOLVER/STATES` (e.g. `adjointdeis-2m-phi2/exact`) or `dto/SAMPLER`.
/// In an ODE study, AdjointDEIS-1 pairs with DPM-Solver-1 and AdjointDEIS-2M with DPM-Solver-2M for recorded and
/// re-solved states; in an SDE study every solver runs on the SDE sampler's path.
public struct SolverSpec: Sendable, Equatable {
  public let name: String

  public static let defaultODE = [
    "adjointdeis-1/exact", "adjointdeis-2m/exact", "adjointdeis-2m-phi2/exact",
    "adjointdeis-1/recorded", "adjointdeis-2m/recorded", "adjointdeis-1/resolved", "adjointdeis-2m/resolved",
    "dto/dpm-solver-1", "dto/dpm-solver-2m",
  ]
  public static let defaultSDE = ["adjointdeis-1/recorded", "adjointdeis-2m/recorded", "adjointdeis-1/resolved", "dto/sde"]

  public init(_ name: String) { self.name = name }

  /// The gradient setup at M steps (N = M for the sampler), on a grid uniform in lambda.
  public func setup(steps: Int, sde: Bool) throws -> GradientSetup {
    let parts = name.split(separator: "/").map(String.init)
    guard parts.count == 2 else { throw InvalidInput("solvers", "'\(name)' is not SOLVER/STATES or dto/SAMPLER") }
    var setup: GradientSetup
    if parts[0] == "dto" {
      setup = GradientSetup(solver: .dto)
      setup.sampler = try SamplerKind.named(parts[1], option: "solvers")
      if setup.sampler.isSDE != sde {
        throw InvalidInput("solvers", "'\(name)' does not belong in an \(sde ? "SDE" : "ODE") study")
      }
    } else {
      switch parts[0] {
      case "adjointdeis-1": setup = GradientSetup(solver: .adjointDEIS1)
      case "adjointdeis-2m": setup = GradientSetup(solver: .adjointDEIS2M)
      case "adjointdeis-2m-phi2":
        setup = GradientSetup(solver: .adjointDEIS2M)
        setup.weight = .phi2
      default:
        throw InvalidInput("solvers", "unknown solver '\(parts[0])' in '\(name)' (expected adjointdeis-1, adjointdeis-2m, adjointdeis-2m-phi2 or dto)")
      }
      guard let states = StateChoice(rawValue: parts[1]) else {
        throw InvalidInput("solvers", "unknown state source '\(parts[1])' in '\(name)' (expected exact, recorded or resolved)")
      }
      setup.states = states
      setup.sampler = sde ? .sde : (setup.solver == .adjointDEIS1 ? .dpmSolver1 : .dpmSolver2M)
    }
    setup.samplerSteps = steps
    setup.adjointSteps = steps
    setup.spacing = .lambda
    try setup.validate()
    return setup
  }
}
