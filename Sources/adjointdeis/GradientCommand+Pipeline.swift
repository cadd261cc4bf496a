import ArgumentParser
import DiffusionCore
import Foundation
import Integrators
import Morphing
import NeuralCore

/// `gradient --pipeline`'s own options.
struct PipelineGradientOptions: ParsableArguments {
  @OptionGroup var inputs: PipelineOptions
  @Option(help: "With --pipeline: the safetensors file receiving grad_x_T, grad_z (with z), x_T and x_0.") var output: String?

  /// A toy run (--config) takes none of these.
  func rejectWithoutPipeline() throws {
    let given: [(String, Bool)] = [
      ("scheduler-config", inputs.schedulerConfig != nil), ("x-T", inputs.xT != nil), ("class-labels", inputs.classLabels != nil), ("batch", inputs.batch != nil), ("z", inputs.z != nil),
      ("target", inputs.target != nil), ("mask", inputs.mask != nil), ("output", output != nil),
    ]
    if let (option, _) = given.first(where: { $0.1 }) { throw InvalidInput(option, "goes with --pipeline (a toy config holds its own inputs)") }
  }
}

extension GradientCommand {
  /// dL/dx_T (and dL/dz) of a pixel loss on a pipeline's sample; gradients to --output, a JSON summary on stdout.
  func runPipeline() throws {
    if config != nil { throw InvalidInput("config", "give --config or --pipeline, not both") }
    let options = pipelineOptions.inputs
    guard let output = pipelineOptions.output else { throw InvalidInput("output", "missing: --pipeline writes its gradients to --output FILE") }
    try checkWritable(output, "output")
    switch options.dtype {
    case .float32: try runPipeline(Float.self, output: output)
    case .float64: try runPipeline(Double.self, output: output)
    }
  }

  private func runPipeline<S: BLASScalar>(_: S.Type, output: String) throws {
    var options = self
    options.seed = nil  // --seed draws x_T; an SDE method's noise uses it too, as a default (never rejected)
    let defaults = PipelineDefaults.gradientOptions(noiseSeed: seed ?? 0)
    _ = try options.makeMethod(dimension: nil, defaultSolver: "adjointdeis-1", defaults: defaults)  // the options, before any file
    let (pipeline, problem) = try pipelineOptions.inputs.problem(S.self, seed: seed)
    // with the image size known: the noise and statistics files (one image's statistics, for each of the B images)
    let method = try options.makeMethod(dimension: problem.shape.reduce(1, *), images: problem.batch, defaultSolver: "adjointdeis-1",
                                        defaults: defaults)
    let start = DispatchTime.now().uptimeNanoseconds
    let r = try problem.gradient(method)
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    try Check.finite(r.loss, "loss")
    try Check.finite(r.gradXT, "grad_x_T")
    let gz = r.gradZ.first ?? []
    try Check.finite(gz, "grad_z")
    let shape = [problem.batch] + problem.shape
    var entries = [SafeTensorsFile.Entry("grad_x_T", shape: shape, doubles: r.gradXT), SafeTensorsFile.Entry("x_T", shape: shape, doubles: problem.xT),
                   SafeTensorsFile.Entry("x_0", shape: shape, doubles: r.x0)]
    if !problem.z.isEmpty { entries.append(.init("grad_z", shape: [problem.batch, problem.z.count / problem.batch], doubles: gz)) }
    try SafeTensorsFile.write(entries, metadata: ["method": method.label, "pipeline": pipelineOptions.inputs.pipeline ?? ""],
                              to: URL(fileURLWithPath: output))
    let json = JSON.object([
      ("loss", .number(r.loss)),
      ("loss_per_image", .numbers(problem.loss.perSample(r.x0))),
      ("grad_x_T_norm", .number(r.gradXT.map { $0 * $0 }.reduce(0, +).squareRoot())),
      ("nfe", .object([
        ("eps", .integer(r.sampling.eps + r.adjoint.eps)),
        ("vjp", .integer(r.sampling.vjp + r.adjoint.vjp)),
        ("sampling", .object([("eps", .integer(r.sampling.eps)), ("vjp", .integer(r.sampling.vjp))])),
        ("gradient", .object([("eps", .integer(r.adjoint.eps)), ("vjp", .integer(r.adjoint.vjp))])),
      ])),
      ("wall_time_s", .number(seconds)),
      ("method", .string(method.label)),
      ("pipeline", .string(pipelineOptions.inputs.pipeline ?? "")),
      ("scheduler", .string(pipeline.schedule.name)),
      ("prediction_type", .string(pipeline.scheduler.predictionType.rawValue)),
      ("shape", .array(shape.map(JSON.integer))),
      ("dtype", .string(pipelineOptions.inputs.dtype.rawValue)),
      ("output", .string(output)),
    ])
    print(json.render())
  }
}
