import DiffusionCore
import Foundation

/// The supported subset of a diffusers `UNet2DModel` config.json. Defaults are diffusers' own; any option value
/// this implementation cannot reproduce is an `InvalidInput` naming the option.
public struct UNetConfig: Sendable, Equatable {
  public var sampleSize: Int?
  public var inChannels = 3
  public var outChannels = 3
  public var centerInputSample = false
  public var timeEmbeddingDim: Int? = nil
  public var freqShift = 0.0
  public var flipSinToCos = true
  public var downBlockTypes = ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"]
  public var upBlockTypes = ["AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"]
  public var blockOutChannels = [224, 448, 672, 896]
  public var layersPerBlock = 2
  public var midBlockScaleFactor = 1.0
  public var downsamplePadding = 1
  public var attentionHeadDim: Int? = 8
  public var normNumGroups = 32
  public var attnNormNumGroups: Int? = nil
  public var normEps = 1e-5
  public var addAttention = true
  /// class_embed_type "identity": a conditioning vector z (time_embed_dim numbers per sample) is added to the
  /// time embedding.
  public var classEmbedIdentity = false
  /// num_class_embeds with class_embed_type null: an nn.Embedding of class labels added to the time embedding. The
  /// network itself is then built with `classEmbedIdentity` and fed the label's embedding row as z
  /// (`DiffusionPipeline` keeps the table); nil otherwise.
  public var numClassEmbeds: Int? = nil

  public init() {}

  /// time_embed_dim: `time_embedding_dim` or `4 block_out_channels[0]`.
  public var timeEmbedDim: Int { timeEmbeddingDim ?? 4 * blockOutChannels[0] }
  /// The size of z (0 without a class embedding).
  public var conditionDimension: Int { classEmbedIdentity ? timeEmbedDim : 0 }

  /// google/ddpm-cifar10-32 (35.7M parameters).
  public static var cifar10: UNetConfig {
    var c = UNetConfig()
    c.sampleSize = 32
    c.blockOutChannels = [128, 256, 256, 256]
    c.downBlockTypes = ["DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"]
    c.upBlockTypes = ["UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"]
    c.attentionHeadDim = nil
    c.flipSinToCos = false
    c.freqShift = 1
    c.downsamplePadding = 0
    c.normEps = 1e-6
    return c
  }

  /// A tiny layout for tests: 8 x 8 single-channel images, channels [8, 16], 4 groups, one layer per block,
  /// two-head attention at the second level, z of size 32 added to the time embedding.
  public static var tiny: UNetConfig {
    var c = UNetConfig()
    c.sampleSize = 8
    c.inChannels = 1
    c.outChannels = 1
    c.blockOutChannels = [8, 16]
    c.downBlockTypes = ["DownBlock2D", "AttnDownBlock2D"]
    c.upBlockTypes = ["AttnUpBlock2D", "UpBlock2D"]
    c.layersPerBlock = 1
    c.normNumGroups = 4
    c.attentionHeadDim = 8
    c.classEmbedIdentity = true
    c.flipSinToCos = false
    c.freqShift = 1
    c.downsamplePadding = 0
    return c
  }

  /// A mid-sized layout for benchmarks: the cifar10 structure at half the channels on 16 x 16 images.
  public static var small: UNetConfig {
    var c = cifar10
    c.sampleSize = 16
    c.blockOutChannels = [64, 128, 128, 128]
    return c
  }

  /// Throws unless the structure is one this implementation builds.
  public func validate() throws {
    guard !blockOutChannels.isEmpty else { throw InvalidInput("block_out_channels", "must not be empty") }
    guard downBlockTypes.count == blockOutChannels.count else {
      throw InvalidInput("down_block_types", "needs one entry per block_out_channels entry (\(blockOutChannels.count)), got \(downBlockTypes.count)")
    }
    guard upBlockTypes.count == blockOutChannels.count else {
      throw InvalidInput("up_block_types", "needs one entry per block_out_channels entry (\(blockOutChannels.count)), got \(upBlockTypes.count)")
    }
    try validateSizes()
    for t in downBlockTypes where t != "DownBlock2D" && t != "AttnDownBlock2D" {
      throw InvalidInput("down_block_types", "unsupported block type '\(t)' (supported: DownBlock2D, AttnDownBlock2D)")
    }
    for t in upBlockTypes where t != "UpBlock2D" && t != "AttnUpBlock2D" {
      throw InvalidInput("up_block_types", "unsupported block type '\(t)' (supported: UpBlock2D, AttnUpBlock2D)")
    }
    if let k = numClassEmbeds { try Check.positive(k, "num_class_embeds") }
    try Check.positive(inChannels, "in_channels")
    try Check.positive(outChannels, "out_channels")
    try Check.positive(layersPerBlock, "layers_per_block")
    try Check.positive(normNumGroups, "norm_num_groups")
    if let sampleSize { try Check.positive(sampleSize, "sample_size") }
    if let timeEmbeddingDim { try Check.positive(timeEmbeddingDim, "time_embedding_dim") }
    guard downsamplePadding >= 0 else { throw InvalidInput("downsample_padding", "must be non-negative, got \(downsamplePadding)") }
    guard normEps > 0, normEps.isFinite else { throw InvalidInput("norm_eps", "must be a positive number, got \(normEps)") }
    guard midBlockScaleFactor != 0, midBlockScaleFactor.isFinite else {
      throw InvalidInput("mid_block_scale_factor", "must be a non-zero number, got \(midBlockScaleFactor)")
    }
    guard freqShift.isFinite, Double(blockOutChannels[0] / 2) != freqShift else {
      throw InvalidInput("freq_shift", "must differ from half the embedding size, got \(freqShift)")
    }
    for (i, c) in blockOutChannels.enumerated() {
      try Check.positive(c, "block_out_channels[\(i)]")
      guard c % normNumGroups == 0 else {
        throw InvalidInput("norm_num_groups", "\(normNumGroups) does not divide block_out_channels[\(i)] = \(c)")
      }
    }
    // attention_head_dim is used by the attention layers only (diffusers passes it to every block; DownBlock2D and
    // UpBlock2D ignore it): check it against the channels of the blocks that have attention, and the mid block's
    let reversedChannels = Array(blockOutChannels.reversed())
    var attended: [Int] = addAttention ? [blockOutChannels[blockOutChannels.count - 1]] : []
    for (type, c) in zip(downBlockTypes, blockOutChannels) where type == "AttnDownBlock2D" { attended.append(c) }
    for (type, c) in zip(upBlockTypes, reversedChannels) where type == "AttnUpBlock2D" { attended.append(c) }
    for c in attended where c > 0 {
      let head = attentionHeadDim ?? c
      guard head > 0, c / head > 0 else { throw InvalidInput("attention_head_dim", "\(head) does not fit \(c) channels") }
    }
    if let a = attnNormNumGroups, a <= 0 || blockOutChannels.last! % a != 0 {
      throw InvalidInput("attn_norm_num_groups", "\(a) does not divide \(blockOutChannels.last!)")
    }
    // up-block concatenations: every input channel count must be a multiple of the group count
    let reversed = Array(blockOutChannels.reversed())
    for i in 0..<reversed.count {
      let prev = i == 0 ? reversed[0] : reversed[i - 1]
      let input = reversed[min(i + 1, reversed.count - 1)]
      for j in 0...layersPerBlock {
        let skip = j == layersPerBlock ? input : reversed[i]
        let inC = (j == 0 ? prev : reversed[i]) + skip
        guard inC % normNumGroups == 0 else {
          throw InvalidInput("norm_num_groups", "\(normNumGroups) does not divide the \(inC) channels entering up_blocks.\(i).resnets.\(j)")
        }
      }
    }
  }

  // MARK: - config.json

  public static func load(from url: URL) throws -> UNetConfig {
    let data = try InputFile.read(url)
    return try parse(data, source: url.lastPathComponent)
  }

  /// Parses a diffusers UNet2DModel config.json; unknown keys and unsupported values are errors naming the key.
  public static func parse(_ data: Data, source: String = "config.json") throws -> UNetConfig {
    guard case let .object(json) = try JSONReader.parse(data, source: source) else {
      throw InvalidInput(source, "not a JSON object")
    }
    var c = UNetConfig()
    func isNull(_ v: JSONValue) -> Bool { v == .null }
    func int(_ key: String, _ v: JSONValue) throws -> Int {
      guard case .number = v else { throw InvalidInput(key, "expected an integer, got \(v)") }
      return try v.integer(key)
    }
    func double(_ key: String, _ v: JSONValue) throws -> Double {
      if case let .number(x, _) = v { return x }
      throw InvalidInput(key, "expected a number, got \(v)")
    }
    func bool(_ key: String, _ v: JSONValue) throws -> Bool {
      if case let .bool(b) = v { return b }
      throw InvalidInput(key, "expected true or false, got \(v)")
    }
    func string(_ key: String, _ v: JSONValue) throws -> String {
      if case let .string(s) = v { return s }
      throw InvalidInput(key, "expected a string, got \(v)")
    }
    func array(_ key: String, _ v: JSONValue) throws -> [JSONValue] {
      if case let .array(a) = v { return a }
      throw InvalidInput(key, "expected a list, got \(v)")
    }
    func unsupported(_ key: String, _ v: JSONValue, _ supported: String) -> InvalidInput {
      InvalidInput(key, "unsupported value \(v) (supported: \(supported))")
    }
    for key in json.keys.sorted() {
      let v = json[key]!
      switch key {
      case "_class_name":
        guard try string(key, v) == "UNet2DModel" else { throw unsupported(key, v, "UNet2DModel") }
      case _ where key.hasPrefix("_"): continue
      case "sample_size":
        if isNull(v) {
          c.sampleSize = nil
        } else if case let .array(pair) = v {
          let sizes = try pair.map { try int(key, $0) }
          guard sizes.count == 2, sizes[0] == sizes[1] else { throw unsupported(key, v, "a square size") }
          c.sampleSize = sizes[0]
        } else {
          c.sampleSize = try int(key, v)
        }
      case "in_channels": c.inChannels = try int(key, v)
      case "out_channels": c.outChannels = try int(key, v)
      // null where diffusers tests truthiness (`if self.config.center_input_sample:`, `if flip_sin_to_cos:`,
      // `if self.add_attention:`) is false there, so it is false here
      case "center_input_sample": c.centerInputSample = isNull(v) ? false : try bool(key, v)
      case "time_embedding_type":
        guard try string(key, v) == "positional" else { throw unsupported(key, v, "positional") }
      case "time_embedding_dim": c.timeEmbeddingDim = isNull(v) ? nil : try int(key, v)
      case "freq_shift": c.freqShift = try double(key, v)
      case "flip_sin_to_cos": c.flipSinToCos = isNull(v) ? false : try bool(key, v)
      case "down_block_types": c.downBlockTypes = try array(key, v).map { try string(key, $0) }
      case "up_block_types": c.upBlockTypes = try array(key, v).map { try string(key, $0) }
      case "mid_block_type":
        // null is not the default: diffusers' UNet2DModel then has no mid block (`if mid_block_type is None:
        // self.mid_block = None`), which this implementation does not build
        guard !isNull(v) else { throw unsupported(key, v, "UNetMidBlock2D; null means no mid block in diffusers, not supported") }
        guard try string(key, v) == "UNetMidBlock2D" else { throw unsupported(key, v, "UNetMidBlock2D") }
      case "block_out_channels": c.blockOutChannels = try array(key, v).map { try int(key, $0) }
      case "layers_per_block": c.layersPerBlock = try int(key, v)
      case "mid_block_scale_factor": c.midBlockScaleFactor = try double(key, v)
      case "downsample_padding": c.downsamplePadding = try int(key, v)
      case "downsample_type":
        guard try string(key, v) == "conv" else { throw unsupported(key, v, "conv") }
      case "upsample_type":
        guard try string(key, v) == "conv" else { throw unsupported(key, v, "conv") }
      case "dropout":
        _ = try double(key, v)  // inference: dropout is the identity
      case "act_fn":
        let a = try string(key, v)
        guard a == "silu" || a == "swish" else { throw unsupported(key, v, "silu") }
      case "attention_head_dim": c.attentionHeadDim = isNull(v) ? nil : try int(key, v)
      case "norm_num_groups":
        guard !isNull(v) else { throw unsupported(key, v, "an integer") }
        c.normNumGroups = try int(key, v)
      case "attn_norm_num_groups": c.attnNormNumGroups = isNull(v) ? nil : try int(key, v)
      case "norm_eps": c.normEps = try double(key, v)
      case "resnet_time_scale_shift":
        guard try string(key, v) == "default" else { throw unsupported(key, v, "default") }
      case "add_attention": c.addAttention = isNull(v) ? false : try bool(key, v)
      case "class_embed_type":
        if isNull(v) {
          c.classEmbedIdentity = false
        } else {
          guard try string(key, v) == "identity" else { throw unsupported(key, v, "null, identity") }
          c.classEmbedIdentity = true
        }
      case "num_class_embeds":
        if isNull(v) { c.numClassEmbeds = nil } else { c.numClassEmbeds = try int(key, v) }
      case "num_train_timesteps":
        continue  // only used by time_embedding_type "learned"
      case "attention_legacy_order":
        guard try !bool(key, v) else { throw unsupported(key, v, "false") }
      default:
        throw InvalidInput(key, "unknown UNet2DModel option")
      }
    }
    if c.classEmbedIdentity { c.numClassEmbeds = nil }  // diffusers ignores num_class_embeds with class_embed_type identity
    try c.validate()
    return c
  }
}
