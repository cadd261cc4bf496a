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
  /// The class-label embedding table (num_class_embeds x time_embed_dim, row-major) of a UNet with num_class_embeds;
  /// the network then takes the label's row as its z.
  public let classEmbedding: [Double]?

  /// z for one class label per image (the rows of the embedding table).
  public func z(classLabels: [Int]) throws -> [Double] {
    guard let table = classEmbedding else {
      throw InvalidInput("class-labels", "the UNet has no class embedding (num_class_embeds is null)")
    }
    let m = unet.config.timeEmbedDim, k = table.count / m
    return try classLabels.flatMap { label -> ArraySlice<Double> in
      guard (0..<k).contains(label) else { throw InvalidInput("class-labels", "label \(label) is outside 0..<\(k) (num_class_embeds)") }
      return table[(label * m)..<((label + 1) * m)]
    }
  }

  /// The eps-predictor the solvers run: the UNet on the pipeline's continuous schedule (`SchedulerConfig.schedule`), its
  /// output converted to eps (`EpsilonConversion`).
  public func predictor() throws -> EpsilonConversion<UNetNoisePredictor<Scalar>> {
    let net = try UNetNoisePredictor(model: unet, schedule: schedule)
    return EpsilonConversion(net, prediction: scheduler.predictionType, schedule: schedule, sigmaData: scheduler.euler?.sigmaData ?? 0.5,
                             timeScale: Double(scheduler.trainSteps))
  }

  /// (C, H, W) of one sample.
  public var sampleShape: [Int] {
    let s = unet.config.sampleSize ?? 0
    return [unet.config.inChannels, s, s]
  }

  /// Loads `directory`. `schedulerOverride` (a scheduler_config.json) replaces the pipeline's scheduler and is
  /// how a bare UNet folder gets one; a bare folder without it uses diffusers' DDPMScheduler defaults
  /// (linear betas 1e-4 to 0.02 over 1000 steps, epsilon prediction). `variant` (e.g. fp16, as diffusers'
  /// `save_pretrained(variant=)` names it) reads `diffusion_pytorch_model.<variant>.safetensors`, its F16/BF16/F32
  /// weights converted to `Scalar`.
  public static func load(directory: URL, schedulerOverride: URL? = nil, variant: String? = nil) throws -> DiffusionPipeline {
    if let variant, variant.isEmpty || !variant.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) {
      throw InvalidInput("variant", "'\(variant)' is not a weights variant name (e.g. fp16)")
    }
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
    let (unet, classEmbedding) = try loadUNet(unetDirectory, variant: variant)
    guard unet.config.sampleSize != nil else {
      throw InvalidInput(unetDirectory.appendingPathComponent("config.json").path + ": sample_size", "is null: the image size is unknown")
    }
    return DiffusionPipeline(unet: unet, scheduler: scheduler, schedule: schedule, unetDirectory: unetDirectory, schedulerFile: schedulerFile,
                            classEmbedding: classEmbedding)
  }

  /// Runs `body`; an `InvalidInput` about a field becomes one about `file: field`.
  static func prefixingErrors<T>(with file: URL, _ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as InvalidInput {
      throw e.field == file.path ? e : InvalidInput("\(file.path): \(e.field)", e.reason)
    }
  }

  /// model_index.json must name a UNet2DModel `unet` and a `scheduler`, and nothing that makes it a latent or
  /// text-conditioned pipeline.
  static func checkModelIndex(_ url: URL) throws {
    guard case let .object(json) = try JSONReader.parse(try InputFile.read(url), source: url.path, nonFiniteLiterals: true)
    else { throw InvalidInput(url.path, "not a JSON object") }
    let pipeline: String
    if case let .string(name)? = json["_class_name"] { pipeline = name } else { pipeline = "pipeline" }
    for part in ["vae", "vqvae", "text_encoder", "transformer"] where json[part] != nil {
      throw InvalidInput(url.path, "\(pipeline) has a '\(part)': only pixel-space UNet2DModel pipelines (DDPM, DDIM) are supported")
    }
    guard case let .array(unet)? = json["unet"] else { throw InvalidInput(url.path, "has no 'unet' component") }
    guard unet.count == 2, unet[1] == .string("UNet2DModel") else {
      throw InvalidInput(url.path, "unet is \(JSONValue.array(unet)), only UNet2DModel is supported")
    }
    guard json["scheduler"] != nil else { throw InvalidInput(url.path, "has no 'scheduler' component") }
  }

  /// config.json and diffusion_pytorch_model.safetensors, errors prefixed with the file they are about. With
  /// num_class_embeds the table `class_embedding.weight` is split off and the network built to take its rows as z.
  static func loadUNet(_ directory: URL, variant: String? = nil) throws -> (UNet2DModel<Scalar>, [Double]?) {
    let fm = FileManager.default
    let configURL = directory.appendingPathComponent("config.json")
    let weightsURL = directory.appendingPathComponent("diffusion_pytorch_model\(variant.map { "." + $0 } ?? "").safetensors")
    guard fm.fileExists(atPath: configURL.path) else { throw InvalidInput(configURL.path, "missing (the UNet's config)") }
    guard fm.fileExists(atPath: weightsURL.path) else {
      let bin = directory.appendingPathComponent("diffusion_pytorch_model.bin")
      let variants = ((try? fm.contentsOfDirectory(atPath: directory.path)) ?? []).sorted().compactMap { name -> String? in
        let parts = name.split(separator: ".")
        return parts.count == 3 && parts[0] == "diffusion_pytorch_model" && parts[2] == "safetensors" ? String(parts[1]) : nil
      }
      let hint = !variants.isEmpty ? " (the folder has the variant\(variants.count > 1 ? "s" : "") \(variants.joined(separator: ", ")): give --variant \(variants[0]))"
        : fm.fileExists(atPath: bin.path) ? " (only a .bin is there: re-save with safe_serialization=True)" : ""
      throw InvalidInput(weightsURL.path, "missing (the UNet's weights)\(hint)")
    }
    let config = try prefixingErrors(with: configURL) { try UNetConfig.load(from: configURL) }
    let file = try SafeTensorsFile.read(weightsURL)
    var netConfig = config
    var shapes = file.tensors.mapValues(\.shape)
    var table: [Double]? = nil
    if let k = config.numClassEmbeds {
      let name = "class_embedding.weight", expected = [k, config.timeEmbedDim]
      guard let t = file[name] else { throw InvalidInput("\(weightsURL.path): \(name)", "missing from the weights (num_class_embeds is \(k))") }
      guard t.shape == expected else { throw InvalidInput("\(weightsURL.path): \(name)", "has shape \(t.shape), expected \(expected)") }
      table = t.doubles()
      if let i = table!.firstIndex(where: { !$0.isFinite }) { throw InvalidInput("\(weightsURL.path): \(name)", "entry \(i) is not finite") }  // invariant: set above
      shapes[name] = nil
      netConfig.numClassEmbeds = nil
      netConfig.classEmbedIdentity = true
    }
    do {
      let unet = try UNet2DModel<Scalar>(config: netConfig, shapes: shapes) { try file.tensor($0).values(Scalar.self) }
      return (unet, table)
    } catch let e as InvalidInput {
      throw InvalidInput("\(weightsURL.path): \(e.field)", "\(e.reason) (weights do not match \(configURL.lastPathComponent))")
    }
  }
}
