import ArgumentParser
import Convergence
import DiffusionCore
import Foundation
import NeuralCore
import ToyModels

/// `adjointdeis train`: denoising score matching of a UNet on exact samples of an image-shaped Gaussian mixture.
struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train a UNet noise predictor on an image-shaped Gaussian mixture (denoising score matching, Adam).",
    discussion: """
      Writes a diffusers model folder DIR (config.json, diffusion_pytorch_model.safetensors) plus
      DIR/optimizer_state.safetensors and DIR/training-log.csv every --checkpoint-every steps and at the end, the
      files of a checkpoint written together (staged beside DIR, then renamed into place). --resume continues from DIR's checkpoint up to --steps. Trains in float32;
      prints the eps error against the analytic mixture (float64) at the end.
      """)

  @Option(help: "The data: an image-mixture JSON config (examples/network/image-mixture.json).") var data: String
  @Option(help: "The UNet: a diffusers config.json (examples/network/unet-small.json).") var modelConfig: String
  @Option(help: "Total Adam steps (a resumed run continues up to this count).") var steps: Int
  @Option(help: "The checkpoint directory (created if missing).") var out: String
  @Flag(help: "Continue from the checkpoint in --out.") var resume = false
  @Option(help: "Images per step.") var batch: Int = 32
  @Option(help: "Adam learning rate.") var lr: Double = 1e-3
  @Option(help: "Adam beta1.") var beta1: Double = 0.9
  @Option(help: "Adam beta2.") var beta2: Double = 0.999
  @Option(help: "Adam epsilon.") var adamEps: Double = 1e-8
  @Option(help: "Steps of linear learning-rate warmup.") var warmup: Int = 200
  @Option(help: "Seed of the initial weights and of the data stream.") var seed: UInt64 = 0
  @Option(help: "Write a checkpoint every this many steps.") var checkpointEvery: Int = 500
  @Option(help: "Smallest training time t (t ~ U[t_eps, T]).") var tEps: Double = 1e-3
  @Option(help: "OpenBLAS threads (0: its default).") var threads: Int = 0

  func run() throws {
    try Budget.count(threads, "threads", minimum: 0, maximum: Budget.Limit.threads)
    setBLASThreads(threads)
    try Budget.count(steps, "steps", maximum: Budget.Limit.steps)
    try Budget.count(batch, "batch", maximum: Budget.Limit.batch)
    try Budget.count(checkpointEvery, "checkpoint-every", maximum: Budget.Limit.steps)
    try Budget.count(warmup, "warmup", minimum: 0, maximum: Budget.Limit.steps)
    let dataConfig = try ImageMixtureConfig.load(from: URL(fileURLWithPath: data))
    let configURL = URL(fileURLWithPath: modelConfig)
    let configJSON = try InputFile.read(configURL, field: "model-config")
    let unetConfig = try UNetConfig.parse(configJSON, source: modelConfig)
    try NetworkData.check(unetConfig, fits: dataConfig)
    // float32 training: weights, gradient, Adam's two moments, and the batch's activations
    try unetConfig.checkMemory(batch: batch, height: dataConfig.size, width: dataConfig.size, scalarBytes: 4,
                               parameterCopies: 4, field: "batch")
    let mixture = try ImageMixture.build(dataConfig)
    let hyper = AdamOptimizer<Float>.Hyperparameters(learningRate: lr, beta1: beta1, beta2: beta2, epsilon: adamEps, warmupSteps: warmup)
    try hyper.validate()
    let directory = try Self.checkedFolder(out)
    let objective = try DenoisingScoreMatching<Float>(schedule: dataConfig.schedule, tEps: tEps, T: dataConfig.schedule.tMax,
                                                      height: dataConfig.size, width: dataConfig.size)
    var trainer: DenoisingTrainer<Float>
    if resume {
      guard TrainingCheckpoint.exists(in: directory) else { throw InvalidInput("resume", "no checkpoint in \(out)") }
      let (model, optimizer, state) = try TrainingCheckpoint.read(from: directory, config: unetConfig, hyper)
      trainer = try DenoisingTrainer(objective: objective, model: model, optimizer: optimizer, batch: batch, seed: seed)
      trainer.previousSeconds = state.seconds
      log("resuming at step \(state.step) (\(Int(state.seconds)) s of training so far)")
      guard state.step < steps else { log("the checkpoint is already at step \(state.step) >= --steps \(steps)"); return }
    } else {
      if TrainingCheckpoint.exists(in: directory) {
        throw InvalidInput("out", "\(out) already holds a checkpoint: pass --resume to continue it, or choose another directory")
      }
      let model = try UNet2DModel<Float>(config: unetConfig, seed: seed)
      trainer = try DenoisingTrainer(objective: objective, model: model,
                                     optimizer: AdamOptimizer(parameterCount: model.parameterCount, hyper), batch: batch, seed: seed)
    }
    log("training \(trainer.model.parameterCount) parameters on \(dataConfig.K)-component \(dataConfig.size)x\(dataConfig.size) mixture, batch \(batch)")
    let logURL = directory.appendingPathComponent("training-log.csv")
    let hasLog = try resume && FileKind.of(logURL.path, follow: true) != .missing
    var logText = hasLog ? try InputFile.text(logURL, field: "training log") : "step,loss\n"
    var finalSeconds = 0.0
    let losses = try trainer.train(
      until: steps, data: NetworkData.source(mixture, dataConfig), checkpointEvery: checkpointEvery,
      checkpoint: { t, seconds in
        // a checkpoint's files (and the log up to it) appear together or not at all
        let folder = try OutputFolder(directory, field: "out")
        try folder.writing {
          try TrainingCheckpoint.write(model: t.model, configJSON: configJSON, optimizer: t.optimizer, seconds: seconds, to: $0)
        }
        try folder.write(logText, as: logURL.lastPathComponent)
        try folder.commit()
        finalSeconds = seconds
      },
      progress: { p in
        log(p.line)
        logText += "\(p.step),\(p.loss)\n"
      })
    _ = losses
    log(String(format: "trained to step %d in %.0f s total", trainer.optimizer.step, finalSeconds))
    // the eps error of the trained network against the analytic mixture, in float64
    let net = try UNetNoisePredictor<Double>(model: UNet2DModel<Double>(config: unetConfig, safetensors: SafeTensorsFile.read(
      directory.appendingPathComponent(TrainingCheckpoint.weightsFile))), schedule: dataConfig.schedule)
    let report = try EpsErrorReport.measure(network: net, mixture: mixture, data: dataConfig, samples: 64, seed: 12_345)
    print(report.markdown)
  }

  /// The output folder resolved and proven writable before any work (its staging folder made and removed again).
  static func checkedFolder(_ path: String) throws -> URL {
    let folder = try OutputFolder(path, field: "out")
    folder.discard()
    return folder.target
  }

  func log(_ message: String) {
    StandardStreams.error(message)
  }
}
