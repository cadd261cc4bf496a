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
      ("scheduler-config", inputs.schedulerConfig != nil), ("pipeline-sampler", inputs.pipelineSampler != .diffusers), ("variant", inputs.variant != nil), ("timesteps", inputs.timesteps != nil), ("mu", inputs.mu != nil), ("x-T", inputs.xT != nil), ("class-labels", inputs.classLabels != nil), ("batch", inputs.batch != nil), ("z", inputs.z != nil),
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

  /// The options that shape the testbed's continuous-time samplers and adjoints: none of them means anything for
  /// DTO through diffusers' loop, whose timesteps and update are the scheduler config's.
  private var continuousOnlyOptions: [(String, Bool)] {
    [("steps", steps != nil), ("grid", grid != nil), ("states", states != nil), ("weight", weight != nil),
     ("rtol", rtol != nil), ("atol", atol != nil), ("rk45-states", rk45States != nil)]
  }

  private func runPipeline<S: BLASScalar>(_: S.Type, output: String) throws {
    var options = self
    options.seed = nil  // --seed draws x_T; an SDE method's noise uses it too, as a default (never rejected)
    let inputs = pipelineOptions.inputs
    let defaults = PipelineDefaults.gradientOptions(noiseSeed: seed ?? 0)
    let onLoop = inputs.pipelineSampler == .diffusers
    // the default is the exact gradient of what is sampled: DTO (through diffusers' loop unless --pipeline-sampler continuous)
    // (`--sampler`, `--linear-part` or `--statistics` ask for a continuous-time method: it runs, cross-checked)
    let exactLoop = onLoop && (solver?.name ?? "dto") == "dto" && solver?.options.sampler == nil && solver?.options.dynamics == nil
      && solver?.options.linearPart == nil && sampler == nil && linearPart == nil && statistics == nil
    let steps = samplerSteps ?? 20
    if inputs.timesteps != nil && samplerSteps != nil { throw InvalidInput("timesteps", "give --timesteps or --sampler-steps, not both") }
    if exactLoop {
      // --noise: the draws of a stochastic loop (FlowMatch's stochastic_sampling), checked once the loop is known
      if let (option, _) = continuousOnlyOptions.first(where: { $0.1 && $0.0 != "noise" }) {
        throw InvalidInput(option, "dto through diffusers' loop takes its timesteps and update from the scheduler config: --\(option) goes with --pipeline-sampler continuous")
      }
    } else {
      _ = try options.makeMethod(dimension: nil, defaultSolver: "dto", defaults: defaults)  // the options, before any file
    }
    // diffusers' loop keeps every k-th state (binomial checkpointing is DTO's through the grid samplers)
    var loopEvery: Int? = nil
    if exactLoop {
      switch try checkpoint.map({ try CheckpointPolicy(parsing: $0) }) {
      case nil, .all?: break
      case let .every(k)?: loopEvery = k
      case .binomial?: throw InvalidInput("checkpoint", "dto through diffusers' loop keeps every K-th state (--checkpoint K); binomial:S is not implemented for the loop")
      }
    }
    let (pipeline, problem) = try inputs.problem(S.self, seed: seed)
    var loop = onLoop ? try inputs.loop(pipeline, steps: steps) : nil
    // a stochastic loop's draws: --noise FILE (the exact loop's; a continuous method's --noise is its SDE sampler's), else seeded
    var loopNoise: String? = nil
    if let l = loop {
      let file = exactLoop ? try noise.map { try Self.readNoise($0) } : nil
      (loop, loopNoise) = try inputs.withNoise(l, seed: seed ?? 0, file: file, count: problem.xT.count)
    }
    if !exactLoop, let why = pipeline.scheduler.continuousUnsupported {
      throw InvalidInput("solver", "\(solver?.text ?? "dto") with these options runs the continuous-time samplers, which cannot run on this pipeline: \(why); dto through diffusers' loop (the default) is exact")
    }
    let loopSteps = loop?.timesteps.count ?? steps  // with --timesteps, their count
    let start = DispatchTime.now().uptimeNanoseconds
    let r: GradientResult, label: String
    var crossCheck: [(String, JSON)] = []
    if exactLoop, let loop {
      let checkpoint = loopEvery
      let stored = type(of: problem).loopStoredStates(steps: loopSteps, every: checkpoint)
      try Budget.checkPathMemory(steps: stored, dimension: problem.batch * problem.shape.reduce(1, *))
      r = try problem.loopGradient(loop, checkpointEvery: checkpoint)
      label = "dto/diffusers-loop"
    } else {
      // with the image size known: the noise and statistics files (one image's statistics, for each of the B images)
      let method = try options.makeMethod(dimension: problem.shape.reduce(1, *), images: problem.batch, defaultSolver: "dto",
                                          defaults: PipelineDefaults.adjoint(PipelineDefaults.gradientOptions(noiseSeed: seed ?? 0, schedule: pipeline.schedule),
                                                                             schedule: pipeline.schedule, prediction: pipeline.scheduler.predictionType))
      r = try problem.gradient(method)
      label = method.label
      if let loop {  // an approximate method: checked against the exact gradient of the pipeline's loop
        let exact = try problem.loopGradient(loop)
        let check = GradientCrossCheck(r, exact: exact)
        if let warning = check.warning(method: method.label) { StandardStreams.error(warning) }
        crossCheck = [("cross_check", .object([("cosine", .number(check.cosine)), ("relative_error", .number(check.relativeError)),
                                               ("diffusers_loop_loss", .number(exact.loss))]))]
      }
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    try Check.finite(r.loss, "loss")
    try Check.finite(r.gradXT, "grad_x_T")
    let gz = r.gradZ.first ?? []
    try Check.finite(gz, "grad_z")
    let shape = [problem.batch] + problem.shape
    var entries = [SafeTensorsFile.Entry("grad_x_T", shape: shape, doubles: r.gradXT), SafeTensorsFile.Entry("x_T", shape: shape, doubles: problem.xT),
                   SafeTensorsFile.Entry("x_0", shape: shape, doubles: r.x0)]
    if !problem.z.isEmpty { entries.append(.init("grad_z", shape: [problem.batch, problem.z.count / problem.batch], doubles: gz)) }
    try SafeTensorsFile.write(entries, metadata: ["method": label, "pipeline": inputs.pipeline ?? ""], to: URL(fileURLWithPath: output))
    let timesteps: [(String, JSON)] = loop.map { loop in
      loop.config.euler == nil ? [("timesteps", JSON.array(loop.timesteps.map(JSON.integer)))]
        : [("network_times", .numbers(loop.networkTimes)), ("sigmas", .numbers(loop.sigmas)), ("init_noise_sigma", .number(loop.initNoiseSigma))]
    } ?? []
    let fields: [(String, JSON)] = [
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
      ("method", .string(label)),
      ("loop_noise", .string(loopNoise ?? "none")),
      ("pipeline", .string(inputs.pipeline ?? "")),
      ("scheduler", .string(pipeline.schedule.name)),
      ("pipeline_sampler", .string(inputs.pipelineSampler.rawValue)),
      ("prediction_type", .string(pipeline.scheduler.predictionName)),
      ("shape", .array(shape.map(JSON.integer))),
      ("dtype", .string(pipelineOptions.inputs.dtype.rawValue)),
      ("output", .string(output)),
    ]
    let memory = Self.costFields(r, dimension: problem.batch * problem.shape.reduce(1, *))
    print(JSON.object(fields + memory + timesteps + crossCheck).render())
  }
}
