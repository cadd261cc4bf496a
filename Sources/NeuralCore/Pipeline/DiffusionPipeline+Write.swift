import DiffusionCore
import Foundation

extension UNetConfig {
  /// The config as diffusers' `UNet2DModel` config.json (every option this implementation reads).
  public var diffusersJSON: String {
    func list(_ items: [String]) -> String { "[" + items.joined(separator: ", ") + "]" }
    func opt(_ v: Int?) -> String { v.map(String.init) ?? "null" }
    let fields: [(String, String)] = [
      ("_class_name", jsonStringLiteral("UNet2DModel")),
      ("act_fn", jsonStringLiteral("silu")),
      ("add_attention", "\(addAttention)"),
      ("attention_head_dim", opt(attentionHeadDim)),
      ("attn_norm_num_groups", opt(attnNormNumGroups)),
      ("block_out_channels", list(blockOutChannels.map(String.init))),
      ("center_input_sample", "\(centerInputSample)"),
      ("class_embed_type", classEmbedIdentity ? jsonStringLiteral("identity") : "null"),
      ("down_block_types", list(downBlockTypes.map(jsonStringLiteral))),
      ("downsample_padding", "\(downsamplePadding)"),
      ("flip_sin_to_cos", "\(flipSinToCos)"),
      ("freq_shift", "\(freqShift)"),
      ("in_channels", "\(inChannels)"),
      ("layers_per_block", "\(layersPerBlock)"),
      ("mid_block_scale_factor", "\(midBlockScaleFactor)"),
      ("norm_eps", "\(normEps)"),
      ("num_class_embeds", opt(numClassEmbeds)),
      ("norm_num_groups", "\(normNumGroups)"),
      ("out_channels", "\(outChannels)"),
      ("sample_size", opt(sampleSize)),
      ("time_embedding_dim", opt(timeEmbeddingDim)),
      ("time_embedding_type", jsonStringLiteral("positional")),
      ("up_block_types", list(upBlockTypes.map(jsonStringLiteral))),
    ]
    return "{\n" + fields.map { "  \(jsonStringLiteral($0.0)): \($0.1)" }.joined(separator: ",\n") + "\n}\n"
  }
}

extension SchedulerConfig {
  /// A scheduler_config.json with this schedule and prediction type (and, for DDPMScheduler, google/ddpm-cifar10-32's
  /// sampling-loop options clip_sample = true and variance_type = fixed_large).
  public var diffusersJSON: String {
    var fields: [(String, String)] = [
      ("_class_name", jsonStringLiteral(className)),
      ("beta_end", "\(betaEnd)"),
      ("beta_schedule", jsonStringLiteral(betaSchedule.rawValue)),
      ("beta_start", "\(betaStart)"),
      ("num_train_timesteps", "\(trainSteps)"),
      ("prediction_type", jsonStringLiteral(predictionType.rawValue)),
      ("trained_betas", trainedBetas.map { "[" + $0.map { "\($0)" }.joined(separator: ", ") + "]" } ?? "null"),
    ]
    if className == "DDPMScheduler" { fields += [("clip_sample", "true"), ("variance_type", jsonStringLiteral("fixed_large"))] }
    return "{\n" + fields.map { "  \(jsonStringLiteral($0.0)): \($0.1)" }.joined(separator: ",\n") + "\n}\n"
  }
}

extension DiffusionPipeline {
  /// Writes a pipeline folder as diffusers' `save_pretrained` lays it out (a DDPMPipeline: model_index.json,
  /// unet/config.json, unet/diffusion_pytorch_model.safetensors in F32, scheduler/scheduler_config.json); each file
  /// is written whole. Refuses a directory that already holds a model_index.json.
  public static func write(unet: UNet2DModel<Scalar>, scheduler: SchedulerConfig, to directory: URL) throws {
    let fm = FileManager.default
    if fm.fileExists(atPath: directory.appendingPathComponent("model_index.json").path) {
      throw InvalidInput(directory.path, "already holds a pipeline (model_index.json); choose a new directory")
    }
    for sub in ["unet", "scheduler"] {
      try fm.createDirectory(at: directory.appendingPathComponent(sub), withIntermediateDirectories: true)
    }
    let entries = unet.parameterBlocks.enumerated().map { i, block in
      let o = unet.layout.offsets[i]
      return SafeTensorsFile.Entry(block.name, shape: block.shape, floats: unet.parameters[o..<(o + block.count)].map { Float($0) })
    }
    try SafeTensorsFile.write(entries, metadata: ["format": "pt"], to: directory.appendingPathComponent("unet/diffusion_pytorch_model.safetensors"))
    try AtomicFile.write(unet.config.diffusersJSON, to: directory.appendingPathComponent("unet/config.json"))
    try AtomicFile.write(scheduler.diffusersJSON, to: directory.appendingPathComponent("scheduler/scheduler_config.json"))
    let index = """
      {
        "_class_name": "DDPMPipeline",
        "scheduler": ["diffusers", \(jsonStringLiteral(scheduler.className))],
        "unet": ["diffusers", "UNet2DModel"]
      }

      """
    try AtomicFile.write(index, to: directory.appendingPathComponent("model_index.json"))
  }
}
