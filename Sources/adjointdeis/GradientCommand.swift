import ArgumentParser
import DiffusionCore
import Foundation
import Integrators
import ToyModels

/// `adjointdeis gradient`: dL/dx_T, dL/dz and dL/dtheta for a toy problem, as JSON on stdout.
struct GradientCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gradient",
    abstract: "Compute dL/dx_T, dL/dz, dL/dtheta for a Gaussian-mixture problem (or dL/dx_T, dL/dz on a diffusers pipeline).",
    discussion: """
      Defaults follow the paper: AdjointDEIS solvers with N = M = 20, recorded states, the ODE sampler \
      (dpm-solver-1), a time-uniform grid. The rk45 solver is the black-box continuous adjoint at tight tolerance. \
      Options that mean nothing for the chosen solver are errors.

      Solvers (--solver NAME, optionally /QUALIFIER: a sampler, ode, a state source or a weight, \
      e.g. adjointdeis-1/sde/resolved):
      \(methodListHelp())
      """)

  @Option(help: "The problem: a JSON config (see examples/).") var config: String?
  @OptionGroup(title: "A diffusers pipeline instead of a config") var pipelineOptions: PipelineGradientOptions
  @Option(help: "The gradient method, NAME[/QUALIFIER...] (see the list above; default rk45, adjointdeis-1 with --pipeline).")
  var solver: MethodSpec?
  @Option(help: "AdjointDEIS-2M's weight: paper (Algorithm 1) | phi2 (exact Taylor weight).") var weight: MultistepWeight?
  @Option(help: "M, the adjoint steps (AdjointDEIS; default N).") var steps: Int?
  @Option(help: "The sampler (default dpm-solver-1).") var sampler: SamplerKind?
  @Option(name: .customLong("sampler-steps"), help: "N, the sampling steps (default 20).") var samplerSteps: Int?
  @Option(help: "Where AdjointDEIS gets x_t (default recorded).") var states: StateChoice?
  @Option(help: "The grid's spacing (default time-uniform).") var grid: GridSpacing?
  @Option(help: "Seed of the SDE sampler's noise (default 0); with --pipeline also of x_T.") var seed: UInt64?
  @Option(help: "A JSON array of N arrays of d standard-normal draws for the SDE sampler (entry i: step i from T), or, with --pipeline, of B x d draws for the steps of a stochastic diffusers loop (FlowMatchEulerDiscreteScheduler stochastic_sampling).") var noise: String?
  @Option(help: "RK45 relative tolerance (rk45, and exact states; default 1e-12).") var rtol: Double?
  @Option(help: "RK45 absolute tolerance (default 1e-12).") var atol: Double?
  @Option(help: "rk45 only: where x_t comes from.") var rk45States: ReferenceAdjoint.StateSource?
  @Option(help: "dto only: K keeps every K-th state and recomputes (O(sqrt N) memory for K ~ sqrt N); binomial:S holds at most S states, Griewank's optimal schedule (S <= N).") var checkpoint: String?
  @Option(name: .customLong("linear-part"), help: "The exponential integrators' linear part: none (the paper's solvers) | isotropic | gaussian (docs/gaussian-linear-part.md).") var linearPart: LinearPartKind?
  @Option(help: "Rex's coupling zeta in (0, 1] (default 0.999; docs/reversible-solvers.md).") var coupling: Double?
  @Option(help: "Rex's and reversible Heun's parameterization: data (default) | noise.") var parameterization: Parameterization?
  @Option(name: .customLong("adjoint-form"), help: "AdjointDEIS's form: standard (the paper's; default for configs) | angle (the network output's VJP frozen, its linear part exact; default with --pipeline; docs/math.md#angle-form).") var adjointForm: AdjointForm?
  @Option(help: "BDIA's gamma in (0, 1] (default 1).") var gamma: Double?
  @Option(help: "EDICT's mixing weight p in (0, 1) (default 0.93).") var mix: Double?
  @Option(help: "Data statistics for the linear part, JSON {mean, covariance} or {mean, variance} (default: the model's own; with --pipeline, one image's, used for each image of the batch).") var statistics: String?

  func run() throws {
    if pipelineOptions.inputs.pipeline != nil { return try runPipeline() }
    guard let config else { throw InvalidInput("config", "give --config FILE (a toy problem) or --pipeline DIR") }
    try pipelineOptions.rejectWithoutPipeline()
    let problem = try ToyProblem.load(from: URL(fileURLWithPath: config))
    let method = try makeMethod(dimension: problem.model.dataDimension)
    let result = try method.gradient(problem)
    try Self.checkFinite(result, problem: problem, method: method)
    print(Self.json(result, problem: problem, method: method).render())
  }

  /// The CLI's defaults over the registry's: DDIM (dpm-solver-1) is the sampler of every method unless given.
  static var defaults: GradientOptions {
    var d = GradientOptions()
    d.sampler = .dpmSolver1
    return d
  }

  /// The method from `--solver` and the options; each option that means nothing for it is an error naming it.
  /// `dimension`: the model's d per image, for a statistics file; nil to check the options before the model is
  /// loaded (files are not read then). `images`: a statistics file describes one image, and a pipeline's B images
  /// run side by side get it B times (block-diagonal).
  func makeMethod(dimension: Int?, images: Int = 1, defaultSolver: String = "rk45", defaults: GradientOptions = Self.defaults) throws -> any GradientMethod {
    let solver = try self.solver ?? MethodSpec(defaultSolver)
    if seed != nil && noise != nil { throw InvalidInput("noise", "give --seed or --noise, not both") }
    var given = GradientOptions()
    given.sampler = sampler
    given.samplerSteps = samplerSteps
    given.adjointSteps = steps
    given.states = states
    given.weight = weight
    given.grid = grid
    given.rtol = rtol
    given.atol = atol
    given.checkpoint = try checkpoint.map { try CheckpointPolicy(parsing: $0) }
    given.rk45States = rk45States
    given.noise = seed.map(NoiseSource.seeded) ?? (noise != nil ? .given([]) : nil)
    given.linearPart = linearPart
    (given.coupling, given.parameterization, given.gamma, given.mix) = (coupling, parameterization, gamma, mix)
    given.adjointForm = adjointForm
    // a placeholder until the file is read, so that every option is checked before any file is
    if statistics != nil { given.statistics = try DataStatistics(mean: [Double](repeating: 0, count: dimension ?? 1), variance: 1, field: "statistics") }
    let method = try solver.make(given: given, defaults: defaults)  // every option checked before the noise file is read
    guard let dimension else { return method }
    if let statistics {
      let one = try DataStatisticsFile.load(from: URL(fileURLWithPath: statistics), dimension: dimension)
      given.statistics = images == 1 ? one : try DataStatistics.blockDiagonal([DataStatistics](repeating: one, count: images))
    }
    if let noise { given.noise = .given(try Self.readNoise(noise)) }
    guard noise != nil || statistics != nil else { return method }
    return try solver.make(given: given, defaults: defaults)
  }

  static func readNoise(_ path: String) throws -> [[Double]] {
    let data = try InputFile.read(path: path, field: "noise")
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

  static func json(_ r: GradientResult, problem: ToyProblem, method: any GradientMethod) -> JSON {
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
      ("method", .string(method.label)),
      ("statistics", .object(r.statistics.sorted { $0.key < $1.key }.map { ($0.key, .integer($0.value)) })),
    ] + costFields(r, dimension: problem.model.dataDimension))
  }

  /// Memory and cost (docs/math.md#sweep-back): the peak number of stored d-vectors and their bytes (Float64), and a
  /// reversible sampler's round-trip error of x_T; nothing for a method that does not count them.
  static func costFields(_ r: GradientResult, dimension d: Int) -> [(String, JSON)] {
    var fields: [(String, JSON)] = []
    if let stored = r.statistics["stored_states"] {
      fields += [("stored_states", .integer(stored)), ("stored_bytes", .integer(stored * d * MemoryLayout<Double>.size))]
    }
    if let e = r.roundTripError { fields.append(("round_trip_error", .number(e))) }
    return fields.isEmpty ? [] : [("memory", .object(fields))]
  }
}
