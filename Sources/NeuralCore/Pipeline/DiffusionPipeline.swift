import DiffusionCore
import Foundation

/// A diffusers pipeline folder as `save_pretrained` writes it (`model_index.json`, `unet/config.json`,
/// `unet/diffusion_pytorch_model.safetensors`, `scheduler/scheduler_config.json`), or a bare UNet folder
/// (`config.json`, `diffusion_pytorch_model.safetensors`) whose scheduler is given separately.
/// Every error names the file it is about.
public struct DiffusionPipeline<Scalar: BLASScalar>: Sendable {
  public let unet: UNet2DModel<Scalar>
  public let scheduler: SchedulerConfig
  public let schedule: NoiseSchedule
  /// Where the UNet and the scheduler config were read from.
  public let unetDirectory: URL
  public let schedulerFile: URL?

  /// The eps-predictor the solvers run: the UNet on the pipeline's discrete schedule, its output converted to eps.
  public func predictor() throws -> EpsilonConversion<UNetNoisePredictor<Scalar>> {
    let net = try UNetNoisePredictor(model: unet, schedule: schedule)
    return EpsilonConversion(net, prediction: scheduler.predictionType, schedule: schedule)
  }

  /// (C, H, W) of one sample.
  public var sampleShape: [Int] {
    let s = unet.config.sampleSize ?? 0
    return [unet.config.inChannels, s, s]
  }

  /// Loads `directory`. `schedulerOverride` (a scheduler_config.json) replaces the pipeline's scheduler and is
  /// how a bare UNet folder gets one; a bare folder without it uses diffusers' DDPMScheduler defaults
  /// (linear betas 1e-4 to 0.02 over 1000 steps, epsilon prediction).
  public static func load(directory: URL, schedulerOverride: URL? = nil) throws -> DiffusionPipeline {
    let fm = FileManager.default
    var isDirectory: ObjCBool = false
    guard fm.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw InvalidInput(directory.path, "no such directory")
    }
    let index = directory.appendingPathComponent("model_index.json")
    let unetDirectory: URL
    var schedulerFile: URL? = schedulerOverride
    if fm.fileExists(atPath: index.path) {
      try checkModelIndex(index)
      unetDirectory = directory.appendingPathComponent("unet")
      if schedulerFile == nil { schedulerFile = directory.appendingPathComponent("scheduler/scheduler_config.json") }
    } else if fm.fileExists(atPath: directory.appendingPathComponent("config.json").path) {
      unetDirectory = directory
    } else {
      throw InvalidInput(directory.path, "not a diffusers pipeline folder (no model_index.json) nor a UNet folder (no config.json)")
    }
    let scheduler: SchedulerConfig
    if let schedulerFile {
      guard fm.fileExists(atPath: schedulerFile.path) else { throw InvalidInput(schedulerFile.path, "missing (the pipeline's scheduler config)") }
      scheduler = try SchedulerConfig.load(from: schedulerFile)
    } else {
      scheduler = SchedulerConfig()
    }
    let schedule: NoiseSchedule
    do { schedule = try scheduler.schedule() } catch let e as InvalidInput {
      throw InvalidInput("\(schedulerFile?.path ?? "default scheduler"): \(e.field)", e.reason)
    }
    let unet = try loadUNet(unetDirectory)
    guard unet.config.sampleSize != nil else {
      throw InvalidInput(unetDirectory.appendingPathComponent("config.json").path + ": sample_size", "is null: the image size is unknown")
    }
    return DiffusionPipeline(unet: unet, scheduler: scheduler, schedule: schedule, unetDirectory: unetDirectory, schedulerFile: schedulerFile)
  }

  /// model_index.json must name a UNet2DModel `unet` and a `scheduler`, and nothing that makes it a latent or
  /// text-conditioned pipeline.
  static func checkModelIndex(_ url: URL) throws {
    guard let data = FileManager.default.contents(atPath: url.path),
          let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    else { throw InvalidInput(url.path, "not a JSON object") }
    let pipeline = json["_class_name"] as? String ?? "pipeline"
    for part in ["vae", "vqvae", "text_encoder", "transformer"] where json[part] != nil {
      throw InvalidInput(url.path, "\(pipeline) has a '\(part)': only pixel-space UNet2DModel pipelines (DDPM, DDIM) are supported")
    }
    guard let unet = json["unet"] as? [Any] else { throw InvalidInput(url.path, "has no 'unet' component") }
    guard unet.count == 2, unet[1] as? String == "UNet2DModel" else {
      throw InvalidInput(url.path, "unet is \(unet.map { "\($0)" }), only UNet2DModel is supported")
    }
    guard json["scheduler"] != nil else { throw InvalidInput(url.path, "has no 'scheduler' component") }
  }

  /// config.json and diffusion_pytorch_model.safetensors, errors prefixed with the file they are about.
  static func loadUNet(_ directory: URL) throws -> UNet2DModel<Scalar> {
    let fm = FileManager.default
    let configURL = directory.appendingPathComponent("config.json")
    let weightsURL = directory.appendingPathComponent("diffusion_pytorch_model.safetensors")
    guard fm.fileExists(atPath: configURL.path) else { throw InvalidInput(configURL.path, "missing (the UNet's config)") }
    guard fm.fileExists(atPath: weightsURL.path) else {
      let bin = directory.appendingPathComponent("diffusion_pytorch_model.bin")
      let hint = fm.fileExists(atPath: bin.path) ? " (only a .bin is there: re-save with safe_serialization=True)" : ""
      throw InvalidInput(weightsURL.path, "missing (the UNet's weights)\(hint)")
    }
    let config: UNetConfig
    do { config = try UNetConfig.load(from: configURL) } catch let e as InvalidInput where e.field != configURL.path {
      throw InvalidInput("\(configURL.path): \(e.field)", e.reason)
    }
    let file = try SafeTensorsFile.read(weightsURL)
    do { return try UNet2DModel(config: config, safetensors: file) } catch let e as InvalidInput {
      throw InvalidInput("\(weightsURL.path): \(e.field)", "\(e.reason) (weights do not match \(configURL.lastPathComponent))")
    }
  }
}
