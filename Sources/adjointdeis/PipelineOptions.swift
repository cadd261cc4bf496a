import ArgumentParser
import DiffusionCore
import Foundation
import Integrators
import Morphing
import NeuralCore

/// The network's arithmetic.
enum NetworkPrecision: String, ExpressibleByArgument, CaseIterable {
  case float32, float64
}

extension PixelLoss.Kind: ExpressibleByArgument {}
extension PipelineSampler: ExpressibleByArgument {}

/// Options shared by `gradient --pipeline` and `guide`: the pipeline folder, x_T, z and the loss.
struct PipelineOptions: ParsableArguments {
  @Option(help: "A diffusers pipeline folder (model_index.json, unet/, scheduler/) or a bare UNet folder.")
  var pipeline: String?
  @Option(name: .customLong("scheduler-config"), help: "A scheduler_config.json replacing the pipeline's (a bare UNet folder: default DDPMScheduler).")
  var schedulerConfig: String?
  @Option(name: .customLong("x-T"), help: "x_T: a safetensors file with one tensor x_T of shape (B, C, H, W) (default: --seed draws it).")
  var xT: String?
  @Option(help: "With --seed: how many x_T to draw (default 1).") var batch: Int?
  @Option(help: "The conditioning z of a class_embed_type identity UNet: safetensors tensor z, (B, m) or (m).") var z: String?
  @Option(name: .customLong("class-labels"), help: "A UNet with num_class_embeds: comma-separated class labels, one per image or one for all.")
  var classLabels: String?
  @Option(help: "squared-distance | masked-squared-distance | linear (<w, x_0>, w from --target).")
  var loss: PixelLoss.Kind = .squaredDistance
  @Option(help: "The target image (PNG at the model's size, or safetensors tensor target (C,H,W) or (B,C,H,W)); w for linear.")
  var target: String?
  @Option(help: "masked-squared-distance: the mask (PNG, 255 = match; or safetensors tensor mask).") var mask: String?
  @Option(help: "The network's arithmetic: float32 | float64.") var dtype: NetworkPrecision = .float32
  @Option(help: "A weights variant: unet/diffusion_pytorch_model.<VARIANT>.safetensors (e.g. fp16; read into --dtype).") var variant: String?
  @Option(name: .customLong("pipeline-sampler"), help: """
    diffusers (default): the pipeline's own loop, set_timesteps(N) and scheduler.step as its scheduler config says, \
    differentiated exactly (--solver dto); continuous: the testbed's samplers on the continuous-time schedule \
    between the training steps (--grid, --sampler; the convergence studies' setting).
    """)
  var pipelineSampler: PipelineSampler = .diffusers
  @Option(help: "Custom timesteps for diffusers' loop, comma-separated and decreasing (set_timesteps(timesteps=...); DDPM and DPMSolverMultistep schedulers), instead of --sampler-steps.")
  var timesteps: String?
  @Option(help: "FlowMatchEulerDiscreteScheduler with use_dynamic_shifting: the mu its set_timesteps takes (the pipeline's shift for the image size).")
  var mu: Double?

  /// diffusers' loop of the loaded pipeline at N = `steps` (errors name `option`).
  func loop<S>(_ pipeline: DiffusionPipeline<S>, steps: Int, option: String = "sampler-steps") throws -> DiffusersLoop {
    do {
      guard let timesteps else { return try DiffusersLoop(config: pipeline.scheduler, steps: steps, mu: mu, option: option) }
      return try DiffusersLoop(config: pipeline.scheduler, timesteps: try customTimesteps(timesteps))
    } catch let e as InvalidInput where e.field == "scheduler config" {
      throw InvalidInput("\(pipeline.schedulerFile?.path ?? "scheduler config")", e.reason)
    }
  }

  /// A stochastic loop (DDPMScheduler, sde-dpmsolver(++)) with its draws given (docs/diffusers-loop.md#stochastic-steps):
  /// from `file` (one array of B x d numbers per step), else drawn from `seed` (a generator of its own, independent of
  /// x_T's); a note on stderr says which. A deterministic loop is returned as it is (with `file`: an error naming
  /// `noise`).
  func withNoise(_ loop: DiffusersLoop, seed: UInt64, file: [[Double]]?, count: Int) throws -> (DiffusersLoop, String?) {
    if let file {
      guard file.allSatisfy({ $0.count == count }) else { throw InvalidInput("noise", "each step's draw must hold B x d = \(count) numbers") }
      return (try loop.withNoise(file), "file")
    }
    guard loop.isStochastic else { return (loop, nil) }
    var rng = SeededGenerator(seed: seed ^ 0x6e6f_6973_6520_7365)  // "noise se": not x_T's stream
    let xi = loop.steps.map { _ in rng.normals(count) }
    StandardStreams.error("note: the \(loop.config.className) loop adds noise at each step; its draws come from seed \(seed) (--noise FILE gives them)")
    return (try loop.withNoise(xi), "seed \(seed)")
  }

  /// The integers of `--timesteps`.
  func customTimesteps(_ text: String) throws -> [Int] {
    try text.split(separator: ",").map { part in
      guard let k = Int(part.trimmingCharacters(in: .whitespaces)) else { throw InvalidInput("timesteps", "'\(part)' is not an integer") }
      return k
    }
  }

  /// Loads and checks everything (folder, x_T, z, target, mask) before any work; notes on stderr what is not applied.
  func problem<S: BLASScalar>(_: S.Type, seed: UInt64?) throws -> (DiffusionPipeline<S>, PipelineProblem<EpsilonConversion<UNetNoisePredictor<S>>>) {
    guard let pipeline else { throw InvalidInput("pipeline", "missing") }
    if let timesteps {
      guard pipelineSampler == .diffusers else { throw InvalidInput("timesteps", "goes with --pipeline-sampler diffusers (the loop's own timesteps)") }
      _ = try customTimesteps(timesteps)
    }
    if let mu, !mu.isFinite { throw InvalidInput("mu", "must be finite, got \(mu)") }
    let loaded = try DiffusionPipeline<S>.load(
      directory: URL(fileURLWithPath: pipeline), schedulerOverride: schedulerConfig.map { URL(fileURLWithPath: $0) }, variant: variant)
    if pipelineSampler == .continuous, let why = loaded.scheduler.continuousUnsupported {
      throw InvalidInput("pipeline-sampler", "continuous cannot run on this pipeline: \(why); dto through diffusers' loop (--pipeline-sampler diffusers, the default) is exact")
    }
    let file = loaded.schedulerFile?.lastPathComponent ?? "scheduler"
    for note in loaded.scheduler.ignored { StandardStreams.error("note: \(file): \(note)") }
    if pipelineSampler == .continuous {
      for note in loaded.scheduler.notApplied { StandardStreams.error("note: \(file): \(note) (not applied by --pipeline-sampler continuous)") }
    }
    let model = try loaded.predictor()
    let schedule = try continuousSchedule(loaded)
    let shape = loaded.sampleShape
    let batchSize: Int, xT: [Double]
    switch (self.xT, seed) {
    case let (path?, nil):
      if batch != nil { throw InvalidInput("batch", "x_T's file sets the batch; --batch goes with --seed") }
      (batchSize, xT) = try PipelineInputs.readXT(URL(fileURLWithPath: path), shape: shape)
    case (nil, let s):
      batchSize = batch ?? 1
      guard (1...4096).contains(batchSize) else { throw InvalidInput("batch", "must be in 1...4096, got \(batchSize)") }
      xT = try PipelineInputs.seededXT(seed: s ?? 0, batch: batchSize, shape: shape)
    case (_?, _?): throw InvalidInput("seed", "give --x-T FILE or --seed S, not both")
    }
    let m = model.conditionDimension
    var z: [Double] = []
    if loaded.classEmbedding != nil {
      guard self.z == nil else { throw InvalidInput("z", "the UNet embeds class labels (num_class_embeds): give --class-labels, not --z") }
      guard let classLabels else { throw InvalidInput("class-labels", "missing: the UNet embeds class labels (num_class_embeds)") }
      let labels = try classLabels.split(separator: ",").map { text -> Int in
        guard let l = Int(text.trimmingCharacters(in: .whitespaces)) else { throw InvalidInput("class-labels", "'\(text)' is not an integer") }
        return l
      }
      guard labels.count == 1 || labels.count == batchSize else {
        throw InvalidInput("class-labels", "give one label or one per image (\(batchSize)), got \(labels.count)")
      }
      z = try loaded.z(classLabels: labels.count == 1 ? [Int](repeating: labels[0], count: batchSize) : labels)
    } else if classLabels != nil {
      throw InvalidInput("class-labels", "the UNet has no class embedding (num_class_embeds is null)")
    } else if let path = self.z {
      guard m > 0 else { throw InvalidInput("z", "the UNet takes no conditioning (class_embed_type is null)") }
      z = try PipelineInputs.readZ(URL(fileURLWithPath: path), batch: batchSize, m: m)
    } else if m > 0 {
      throw InvalidInput("z", "the UNet adds a conditioning vector to its time embedding (class_embed_type identity): give --z FILE with (B, \(m)) or (\(m)) numbers")
    }
    guard let target else { throw InvalidInput("target", "missing: the \(loss.rawValue) loss needs --target FILE") }
    let targetValues = try PipelineInputs.readTarget(URL(fileURLWithPath: target), batch: batchSize, shape: shape)
    let maskValues = try mask.map { try PipelineInputs.readMask(URL(fileURLWithPath: $0), batch: batchSize, shape: shape) }
    let pixelLoss = try PixelLoss(kind: loss, target: targetValues, mask: maskValues, dimension: shape.reduce(1, *))
    return (loaded, try PipelineProblem(model: model, schedule: schedule, shape: shape, xT: xT, z: z, loss: pixelLoss))
  }
}

extension PipelineOptions {
  /// The continuous-time schedule of the run: the pipeline's, except that a FlowMatchEulerDiscreteScheduler with
  /// use_dynamic_shifting takes `--mu` (its loop's set_timesteps(mu=...)) for its last sigma (t_eps) and the shifted
  /// grid's shift (e^mu, or mu with time_shift_type linear). `--mu` with any other scheduler is refused here when no
  /// loop refuses it (`--pipeline-sampler continuous`).
  func continuousSchedule<S>(_ loaded: DiffusionPipeline<S>) throws -> NoiseSchedule {
    guard let mu else { return loaded.schedule }
    guard let e = loaded.scheduler.euler, e.kind == .flowMatch, e.dynamicShifting else {
      throw InvalidInput("mu", "goes with a FlowMatchEulerDiscreteScheduler with use_dynamic_shifting = true")
    }
    let last = try loaded.scheduler.eulerSigmas(steps: 2, mu: mu, option: "mu").sigmas[1]
    var grids = loaded.schedule.grids
    if e.timeShift == .exponential { grids.dynamicMu = mu } else { grids.shift = mu }
    let s = loaded.schedule
    return try NoiseSchedule(kind: s.kind, name: s.name, tMin: e.invertSigmas ? s.tMin : last, tMax: s.tMax).with(grids: grids)
  }
}

/// Throws unless `path` is a file that can be written (checked before any work): its directory exists, and it is not a
/// directory, block device or socket (`OutputFile.checkWritable`); errors name the option.
func checkWritable(_ path: String, _ option: String) throws {
  guard !path.isEmpty else { throw InvalidInput(option, "the path is empty") }
  do { try OutputFile.checkWritable(URL(fileURLWithPath: path)) } catch let e as InvalidInput { throw InvalidInput(option, "\(e.field): \(e.reason)") }
}
