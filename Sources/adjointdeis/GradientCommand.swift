import ArgumentParser
import DiffusionCore
import Foundation
import Integrators
import ToyModels

/// `adjointdeis gradient`: dL/dx_T, dL/dz and dL/dtheta for a toy problem, as JSON on stdout.
struct GradientCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gradient",
    abstract: "Compute dL/dx_T, dL/dz, dL/dtheta for a Gaussian-mixture problem and print them as JSON.",
    discussion: """
      Defaults follow the paper: AdjointDEIS solvers with N = M = 20, recorded states, the ODE sampler \
      (dpm-solver-1), a time-uniform grid. The rk45 solver is the black-box continuous adjoint at tight tolerance.
      """)

  @Option(help: "The problem: a JSON config (see examples/).") var config: String
  @Option(help: "rk45 | adjointdeis-1 | adjointdeis-2m | dto") var solver: String = "rk45"
  @Option(help: "AdjointDEIS-2M's weight: paper (Algorithm 1) | phi2 (exact Taylor weight).") var weight: String?
  @Option(help: "M, the adjoint steps (AdjointDEIS; default N).") var steps: Int?
  @Option(help: "dpm-solver-1 | dpm-solver-2m | sde (default dpm-solver-1).") var sampler: String?
  @Option(name: .customLong("sampler-steps"), help: "N, the sampling steps (default 20).") var samplerSteps: Int?
  @Option(help: "Where AdjointDEIS gets x_t: exact | recorded | resolved (default recorded).") var states: String?
  @Option(help: "lambda | time-uniform | time-quadratic (default time-uniform).") var grid: String?
  @Option(help: "Seed of the SDE sampler's noise (default 0).") var seed: UInt64?
  @Option(help: "A JSON array of N arrays of d standard-normal draws for the SDE sampler (entry i: step i from T).") var noise: String?
  @Option(help: "RK45 relative tolerance (rk45, and exact states).") var rtol: Double = 1e-12
  @Option(help: "RK45 absolute tolerance.") var atol: Double = 1e-12
  @Option(help: "rk45 only: where x_t comes from, interpolate | backsolve.") var rk45States: String?
  @Option(help: "dto only: keep every k-th state and recompute (O(sqrt N) memory for k ~ sqrt N).") var checkpoint: Int?

  func run() throws {
    let problem = try ToyProblem.load(from: URL(fileURLWithPath: config))
    let setup = try makeSetup()
    let result: GradientResult
    if let rk45States {
      guard let source = ReferenceAdjoint.StateSource(rawValue: rk45States) else {
        throw InvalidInput("rk45-states", "expected interpolate or backsolve, got '\(rk45States)'")
      }
      let reference = try ReferenceAdjoint(rtol: rtol, atol: atol, states: source)
      let grid = problem.z.count > 1
        ? try TimeGrid(schedule: problem.schedule, tEps: problem.tEps, T: problem.T, steps: setup.samplerSteps, spacing: setup.spacing) : nil
      result = try reference.gradient(model: problem.model, schedule: problem.schedule, T: problem.T, tEps: problem.tEps,
                                      xT: problem.xT, z: problem.z, samplingGrid: grid, loss: problem.loss)
    } else {
      result = try setup.run(model: problem.model, schedule: problem.schedule, T: problem.T, tEps: problem.tEps,
                             xT: problem.xT, z: problem.z, loss: problem.loss)
    }
    try Self.checkFinite(result, problem: problem, setup: setup, method: rk45States != nil ? "rk45" : setup.name)
    print(Self.json(result, problem: problem, setup: setup).render())
  }

  /// Reads the options into a `GradientSetup`, rejecting options that mean nothing for the chosen solver.
  func makeSetup() throws -> GradientSetup {
    var setup = GradientSetup(solver: try GradientSolver.named(solver))
    func reject(_ option: String, _ given: Bool) throws {
      if given { throw InvalidInput(option, "has no meaning with --solver \(solver)") }
    }
    switch setup.solver {
    case .rk45:
      for (o, g) in [("steps", steps != nil), ("sampler", sampler != nil), ("states", states != nil), ("weight", weight != nil),
                     ("seed", seed != nil), ("noise", noise != nil), ("checkpoint", checkpoint != nil)] { try reject(o, g) }
    case .dto:
      try reject("states", states != nil)
      try reject("weight", weight != nil)
      try reject("rk45-states", rk45States != nil)
    case .adjointDEIS1, .adjointDEIS2M:
      try reject("checkpoint", checkpoint != nil)
      try reject("rk45-states", rk45States != nil)
      if setup.solver == .adjointDEIS1 { try reject("weight", weight != nil) }
    }
    if let weight {
      guard let w = MultistepWeight(rawValue: weight) else { throw InvalidInput("weight", "expected paper or phi2, got '\(weight)'") }
      setup.weight = w
    }
    if let sampler { setup.sampler = try SamplerKind.named(sampler) }
    setup.samplerSteps = samplerSteps ?? 20
    setup.adjointSteps = steps ?? setup.samplerSteps
    if let states { setup.states = try StateChoice.named(states) }
    setup.spacing = try GridSpacing.named(grid ?? GridSpacing.timeUniform.rawValue)
    if (seed != nil || noise != nil) && !setup.sampler.isSDE {
      throw InvalidInput(seed != nil ? "seed" : "noise", "only the sde sampler draws noise")
    }
    if seed != nil && noise != nil { throw InvalidInput("noise", "give --seed or --noise, not both") }
    if let noise { setup.noise = .given(try Self.readNoise(noise)) } else { setup.noise = .seeded(seed ?? 0) }
    setup.rtol = rtol
    setup.atol = atol
    setup.checkpointEvery = checkpoint
    try setup.validate()
    return setup
  }

  static func readNoise(_ path: String) throws -> [[Double]] {
    guard let data = FileManager.default.contents(atPath: path) else { throw InvalidInput("noise", "cannot read \(path)") }
    guard case let .array(rows) = try JSONReader.parse(data, source: "noise") else {
      throw InvalidInput("noise", "\(path) is not a JSON array of arrays of numbers")
    }
    return try rows.enumerated().map { i, row in
      guard case let .array(numbers) = row else { throw InvalidInput("noise", "entry \(i) is not an array") }
      return try numbers.enumerated().map { j, v in
        guard case let .number(x, _) = v else { throw InvalidInput("noise", "entry [\(i)][\(j)] is not a number") }
        return x
      }
    }
  }

  static func json(_ r: GradientResult, problem: ToyProblem, setup: GradientSetup) -> JSON {
    var offset = 0
    var theta: [(String, JSON)] = []
    for block in problem.model.parameterBlocks {
      theta.append((block.name, JSON.shaped(r.gradTheta[offset..<offset + block.count], shape: block.shape)))
      offset += block.count
    }
    let gradZ: JSON = problem.z.count == 1 ? .numbers(r.gradZ[0]) : .rows(r.gradZ)
    return .object([
      ("x0", .numbers(r.x0)),
      ("loss", .number(r.loss)),
      ("grad_xT", .numbers(r.gradXT)),
      ("grad_z", gradZ),
      ("grad_theta", .object(theta)),
      ("nfe", .object([
        ("eps", .integer(r.sampling.eps + r.adjoint.eps)),
        ("vjp", .integer(r.sampling.vjp + r.adjoint.vjp)),
        ("sampling", .object([("eps", .integer(r.sampling.eps)), ("vjp", .integer(r.sampling.vjp))])),
        ("gradient", .object([("eps", .integer(r.adjoint.eps)), ("vjp", .integer(r.adjoint.vjp))])),
      ])),
      ("method", .string(setup.solver == .rk45 ? "rk45 rtol=\(setup.rtol) atol=\(setup.atol)" : setup.name)),
      ("statistics", .object(r.statistics.sorted { $0.key < $1.key }.map { ($0.key, .integer($0.value)) })),
    ])
  }
}
