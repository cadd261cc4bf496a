import DiffusionCore
import Foundation

/// A training checkpoint in the diffusers folder layout: `config.json`, `diffusion_pytorch_model.safetensors` (the
/// weights, diffusers names) and `optimizer_state.safetensors` (Adam's `exp_avg`, `exp_avg_sq`; its step and
/// hyperparameters in the metadata). Each file is written whole (temporary file, then rename), the optimizer state
/// first and the weights last, both stamped with the step: a failed run never leaves a half-written file, and
/// files of different steps are detected on resume.
public enum TrainingCheckpoint {
  public static let configFile = "config.json"
  public static let weightsFile = "diffusion_pytorch_model.safetensors"
  public static let optimizerFile = "optimizer_state.safetensors"

  /// What a checkpoint holds besides the weights.
  public struct State: Sendable {
    public var step: Int
    /// Training wall time so far.
    public var seconds: Double
  }

  public static func write<S: BLASScalar>(model: UNet2DModel<S>, configJSON: Data, optimizer: AdamOptimizer<S>,
                                          seconds: Double, to directory: URL) throws {
    let h = optimizer.hyperparameters
    let stamp = ["step": "\(optimizer.step)", "training_seconds": String(seconds), "parameter_count": "\(model.parameterCount)"]
    let P = model.parameterCount
    try SafeTensorsFile.write(
      [entry("exp_avg", [P], optimizer.firstMoment), entry("exp_avg_sq", [P], optimizer.secondMoment)],
      metadata: stamp.merging(["lr": String(h.learningRate), "beta1": String(h.beta1), "beta2": String(h.beta2),
                               "eps": String(h.epsilon), "warmup_steps": "\(h.warmupSteps)"]) { a, _ in a },
      to: directory.appendingPathComponent(optimizerFile))
    let entries = model.layout.blocks.enumerated().map { i, block in
      entry(block.name, block.shape, Array(model.parameters[model.layout.offsets[i]..<(model.layout.offsets[i] + block.count)]))
    }
    try SafeTensorsFile.write(entries, metadata: stamp.merging(["format": "pt"]) { a, _ in a },
                              to: directory.appendingPathComponent(weightsFile))
    try OutputFile.write(configJSON, to: directory.appendingPathComponent(configFile))
  }

  static func entry<S: BLASScalar>(_ name: String, _ shape: [Int], _ values: [S]) -> SafeTensorsFile.Entry {
    if let floats = values as? [Float] { return SafeTensorsFile.Entry(name, shape: shape, floats: floats) }
    return SafeTensorsFile.Entry(name, shape: shape, doubles: values.map { Double($0) })
  }

  /// Whether the directory holds a checkpoint (its weights file).
  public static func exists(in directory: URL) -> Bool {
    FileManager.default.fileExists(atPath: directory.appendingPathComponent(weightsFile).path)
  }

  /// Reads a checkpoint for resuming training of `config`. A checkpoint of another layout, a missing or corrupt
  /// file, or weights and optimizer state of different steps are errors naming the file.
  public static func read<S: BLASScalar>(from directory: URL, config: UNetConfig, _ hyperparameters: AdamOptimizer<S>.Hyperparameters)
    throws -> (model: UNet2DModel<S>, optimizer: AdamOptimizer<S>, state: State)
  {
    let configURL = directory.appendingPathComponent(configFile)
    let stored = try UNetConfig.load(from: configURL)
    guard stored == config else {
      throw InvalidInput(configURL.path, "the checkpoint has another layout than the model config given (\(difference(stored, config)))")
    }
    let weightsURL = directory.appendingPathComponent(weightsFile)
    let weights = try SafeTensorsFile.read(weightsURL)
    let model: UNet2DModel<S>
    do {
      model = try UNet2DModel<S>(config: config, safetensors: weights)
    } catch let error as InvalidInput {
      throw InvalidInput(weightsURL.path, "does not fit the model config: \(error)")
    }
    let optimizerURL = directory.appendingPathComponent(optimizerFile)
    let file = try SafeTensorsFile.read(optimizerURL)
    var optimizer = try AdamOptimizer<S>(parameterCount: model.parameterCount, hyperparameters)
    let P = model.parameterCount
    for (name, keyPath) in [("exp_avg", \AdamOptimizer<S>.firstMoment), ("exp_avg_sq", \AdamOptimizer<S>.secondMoment)] {
      guard let tensor = file[name] else { throw InvalidInput(optimizerURL.path, "has no tensor '\(name)'") }
      guard tensor.shape == [P] else {
        throw InvalidInput(optimizerURL.path, "tensor '\(name)' has shape \(tensor.shape), expected [\(P)] for this model")
      }
      let values: [S] = tensor.values(S.self)
      if let i = values.firstIndex(where: { !$0.isFinite }) { throw InvalidInput(optimizerURL.path, "'\(name)' entry \(i) is not finite") }
      optimizer[keyPath: keyPath] = values
    }
    guard optimizer.secondMoment.allSatisfy({ $0 >= 0 }) else {
      throw InvalidInput(optimizerURL.path, "'exp_avg_sq' has negative entries: the file is corrupt")
    }
    guard let stepText = file.metadata["step"], let step = Int(stepText), step >= 0 else {
      throw InvalidInput(optimizerURL.path, "has no valid 'step' in its metadata")
    }
    guard weights.metadata["step"] == stepText else {
      throw InvalidInput(weightsURL.path, "is from step \(weights.metadata["step"] ?? "?") but the optimizer state from step \(step): the checkpoint is inconsistent")
    }
    optimizer.step = step
    let seconds = file.metadata["training_seconds"].flatMap(Double.init) ?? 0
    return (model, optimizer, State(step: step, seconds: seconds))
  }

  static func difference(_ a: UNetConfig, _ b: UNetConfig) -> String {
    var parts: [String] = []
    if a.inChannels != b.inChannels { parts.append("in_channels \(a.inChannels) vs \(b.inChannels)") }
    if a.sampleSize != b.sampleSize { parts.append("sample_size \(a.sampleSize.map(String.init) ?? "null") vs \(b.sampleSize.map(String.init) ?? "null")") }
    if a.blockOutChannels != b.blockOutChannels { parts.append("block_out_channels \(a.blockOutChannels) vs \(b.blockOutChannels)") }
    if a.downBlockTypes != b.downBlockTypes { parts.append("down_block_types differ") }
    if a.layersPerBlock != b.layersPerBlock { parts.append("layers_per_block \(a.layersPerBlock) vs \(b.layersPerBlock)") }
    if a.classEmbedIdentity != b.classEmbedIdentity { parts.append("class_embed_type differs") }
    return parts.isEmpty ? "other fields differ" : parts.joined(separator: "; ")
  }
}
