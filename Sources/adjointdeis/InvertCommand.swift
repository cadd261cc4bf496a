import ArgumentParser
import DiffusionCore
import Foundation
import Integrators
import Morphing
import NeuralCore

/// `adjointdeis invert`: an image to x_T through a reversible sampler's exact inverse (docs/reversible-solvers.md#inversion),
/// the starting point of the editing workflows these samplers are used for.
struct InvertCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "invert",
    abstract: "Invert an image to x_T with a reversible sampler (rex-*, bdia, edict) on a pipeline's continuous schedule; x_T to --output, a JSON summary with the round-trip errors on stdout.")

  @Option(help: "A diffusers pipeline folder (model_index.json, unet/, scheduler/) or a bare UNet folder.") var pipeline: String
  @Option(name: .customLong("scheduler-config"), help: "A scheduler_config.json replacing the pipeline's.") var schedulerConfig: String?
  @Option(help: "A weights variant (e.g. fp16).") var variant: String?
  @Option(help: "The network's arithmetic: float32 | float64.") var dtype: NetworkPrecision = .float64
  @Option(help: "The image: a PNG at the model's size.") var image: String
  @Option(help: "The reversible sampler, NAME[/QUALIFIER...] (default rex-rk4).") var solver: MethodSpec?
  @Option(name: .customLong("sampler-steps"), help: "N, the sampling steps (default 20).") var samplerSteps: Int?
  @Option(help: "The grid's spacing (default lambda).") var grid: GridSpacing = .lambda
  @Option(help: "Rex's coupling zeta in (0, 1] (default 0.999).") var coupling: Double?
  @Option(help: "Rex's parameterization: data (default) | noise.") var parameterization: Parameterization?
  @Option(help: "BDIA's gamma in (0, 1] (default 1).") var gamma: Double?
  @Option(help: "EDICT's mixing weight p in (0, 1) (default 0.93).") var mix: Double?
  @Option(help: "The safetensors file receiving x_T (1, C, H, W) and the image as x_0.") var output: String

  func run() throws {
    try checkWritable(output, "output")
    var given = GradientOptions()
    (given.samplerSteps, given.grid) = (samplerSteps, grid)
    (given.coupling, given.parameterization, given.gamma, given.mix) = (coupling, parameterization, gamma, mix)
    let spec = try solver ?? MethodSpec("rex-rk4")
    guard let method = try spec.make(given: given) as? ReversibleMethod else {
      throw InvalidInput("solver", "\(spec.text) has no exact inverse: invert takes rex-euler, rex-midpoint, rex-rk4, bdia or edict")
    }
    switch dtype {
    case .float32: try run(Float.self, method: method)
    case .float64: try run(Double.self, method: method)
    }
  }

  private func run<S: BLASScalar>(_: S.Type, method: ReversibleMethod) throws {
    let loaded = try DiffusionPipeline<S>.load(
      directory: URL(fileURLWithPath: pipeline), schedulerOverride: schedulerConfig.map { URL(fileURLWithPath: $0) }, variant: variant)
    if let why = loaded.scheduler.continuousUnsupported {
      throw InvalidInput("pipeline", "invert runs its reversible sampler on the pipeline's continuous-time schedule, which this one does not have: \(why)")
    }
    if case .flowMatching = loaded.schedule.kind {
      throw InvalidInput("pipeline", "invert's reversible samplers cannot reach this flow-matching pipeline's x_T: it is pure noise (alpha_T = 0, T = 1), "
        + "where their step and exact inverse divide by alpha (docs/math.md#noise-end)")
    }
    let model = try loaded.predictor()
    guard model.conditionDimension == 0 else { throw InvalidInput("pipeline", "invert takes an unconditional UNet (this one is conditioned)") }
    let shape = loaded.sampleShape
    let x0 = try PipelineInputs.readTarget(URL(fileURLWithPath: image), batch: 1, shape: shape)
    let schedule = loaded.schedule
    let timeGrid = try TimeGrid(schedule: schedule, tEps: schedule.tMin, T: schedule.tMax, steps: method.settings.samplerSteps, spacing: grid)
    let started = Date()
    let inversion = try ReversibleInversion(x0: x0, sampler: method.reversible, model: model, schedule: schedule, grid: timeGrid)
    try Check.finite(inversion.xT, "x_T")
    // EDM's x_T = sqrt(1 + T^2) times the standard normal draw that gradient --x-T and guide take (PipelineProblem.startScale)
    let scale: Double
    if case .edm = schedule.kind { scale = 1 / (1 + schedule.tMax * schedule.tMax).squareRoot() } else { scale = 1 }
    let draw = scale == 1 ? inversion.xT : inversion.xT.map { scale * $0 }
    try SafeTensorsFile.write([.init("x_T", shape: [1] + shape, doubles: draw), .init("x_0", shape: [1] + shape, doubles: x0)],
                              metadata: ["method": method.label, "pipeline": pipeline], to: URL(fileURLWithPath: output))
    print(JSON.object([
      ("method", .string(method.label)),
      ("steps", .integer(timeGrid.steps)),
      ("round_trip_error", .number(inversion.roundTripError)),
      ("round_trip_error_from_x_T", .number(inversion.roundTripErrorFromXT)),
      ("part_spread", .number(inversion.partSpread)),
      ("x_T_std", .number((draw.map { $0 * $0 }.reduce(0, +) / Double(draw.count)).squareRoot())),
      ("nfe", .object([("eps", .integer(inversion.evaluations.eps))])),
      ("wall_time_s", .number(Date().timeIntervalSince(started))),
      ("output", .string(output)),
    ]).render())
  }
}
