import DiffusionCore
import Foundation
import Integrators
import NeuralCore
import ToyModels

/// The same convergence study on a trained network and on the analytic mixture it was trained on: the same
/// schedule, time range, x_T, z, loss, solvers and M; each model's error is measured against its own RK45 reference.
/// The reference gradients of the two are compared too (the cost of learning the score).
public struct NetworkComparison<Network: NoisePredictor>: Sendable {
  public var name: String
  public var toy: ConvergenceStudy<GaussianMixture>
  public var network: ConvergenceStudy<Network>
  /// Solve both RK45 references once more after the studies to compare the two models' gradients (costs one more
  /// reference solve per model; the studies do not hand theirs out).
  public var compareReferences = true

  /// `solvers` default to AdjointDEIS-1 and -2M on exact and recorded states; `referenceTolerance` is the RK45
  /// rtol = atol of both references; `floor` the fit's round-off threshold.
  public init(name: String, mixture: GaussianMixture, network: Network, T: Double, tEps: Double, xT: [Double], z: [Double],
              loss: SquaredDistanceLoss, solvers: [MethodSpec]? = nil, steps: [Int], referenceTolerance: Double = 1e-10,
              floor: Double = 1e-11, networkLabel: String, networkDescription: String) throws {
    guard network.dataDimension == mixture.dataDimension else {
      throw InvalidInput("model", "the network has d = \(network.dataDimension), the mixture d = \(mixture.dataDimension)")
    }
    guard network.conditionDimension == mixture.conditionDimension else {
      throw InvalidInput("model", "the network takes z of size \(network.conditionDimension), the mixture \(mixture.conditionDimension)")
    }
    let solvers = try solvers ?? Self.defaultSolvers.map { try MethodSpec($0, option: "solvers") }
    let problem = try ToyProblem(model: mixture, T: T, tEps: tEps, xT: xT, z: .constant(z), loss: loss)
    var toy = try ConvergenceStudy(name: "\(name)-toy", kind: .ode, problem: StudyProblem(problem), solvers: solvers, steps: steps)
    let networkProblem = StudyProblem(
      try GradientProblem(model: network, schedule: mixture.schedule, T: T, tEps: tEps, xT: xT, z: .constant(z), loss: loss),
      label: networkLabel, description: networkDescription)
    var net = try ConvergenceStudy(name: "\(name)-network", kind: .ode, problem: networkProblem, solvers: solvers, steps: steps)
    for i in 0..<2 {
      if i == 0 { toy.referenceTolerance = referenceTolerance; toy.rule.floor = floor } else {
        net.referenceTolerance = referenceTolerance
        net.rule.floor = floor
      }
    }
    try toy.rule.validate()
    guard referenceTolerance > 0, referenceTolerance.isFinite else {
      throw InvalidInput("reference-tolerance", "must be a positive number, got \(referenceTolerance)")
    }
    self.name = name
    self.toy = toy
    self.network = net
  }

  public static var defaultSolvers: [String] {
    ["adjointdeis-1/exact", "adjointdeis-2m/exact", "adjointdeis-1/recorded", "adjointdeis-2m/recorded"]
  }

  /// Both studies, then both RK45 reference gradients once more for the network-versus-analytic comparison.
  public func run(progress: (String) -> Void = { _ in }) throws -> NetworkComparisonResult<Network> {
    let toyResult = try toy.run(progress: progress)
    let networkResult = try network.run(progress: progress)
    var toyReference: GradientResult?, networkReference: GradientResult?
    if compareReferences {
      progress("\(name): reference gradients for the network-versus-analytic comparison")
      toyReference = try Self.reference(toy.problem, toy.referenceTolerance)
      networkReference = try Self.reference(network.problem, network.referenceTolerance)
    }
    return NetworkComparisonResult(name: name, toy: toyResult, network: networkResult, toyReference: toyReference,
                                   networkReference: networkReference)
  }

  public static func reference<M: NoisePredictor>(_ p: StudyProblem<M>, _ tolerance: Double) throws -> GradientResult {
    var options = GradientOptions()
    (options.rtol, options.atol) = (tolerance, tolerance)
    return try ReferenceRK45Method(options).gradient(p.problem)
  }
}
