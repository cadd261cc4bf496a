import DiffusionCore

/// Sizes a UNet2DModel config implies, checked before anything is allocated (see `Budget`).
extension UNetConfig {
  /// Stated maxima of the config's sizes: they keep every shape product far from overflow and the layout cheap to
  /// compute; the memory estimate then decides what this machine can hold.
  public enum Limit {
    public static let channels = 16_384
    public static let imageChannels = 4_096
    public static let levels = 12
    public static let layersPerBlock = 64
    public static let sampleSize = 16_384
    public static let timeEmbeddingDim = 65_536
  }

  /// Bounds of every size field (called by `validate()` before any shape arithmetic).
  func validateSizes() throws {
    guard blockOutChannels.count <= Limit.levels else {
      throw InvalidInput("block_out_channels", "\(blockOutChannels.count) levels exceed the limit of \(Limit.levels)")
    }
    for (i, c) in blockOutChannels.enumerated() {
      try Budget.count(c, "block_out_channels[\(i)]", maximum: Limit.channels)
    }
    try Budget.count(inChannels, "in_channels", maximum: Limit.imageChannels)
    try Budget.count(outChannels, "out_channels", maximum: Limit.imageChannels)
    try Budget.count(layersPerBlock, "layers_per_block", maximum: Limit.layersPerBlock)
    if let sampleSize { try Budget.count(sampleSize, "sample_size", maximum: Limit.sampleSize) }
    if let timeEmbeddingDim { try Budget.count(timeEmbeddingDim, "time_embedding_dim", maximum: Limit.timeEmbeddingDim) }
    if let attentionHeadDim { try Budget.count(attentionHeadDim, "attention_head_dim", maximum: Limit.channels) }
    // Downsample2D with padding p maps H to (H + 2p - 3) / 2 + 1, which is H / 2 (what the up path's 2x upsampling
    // and skip concatenations need) only for p = 1, and for p = 0 with diffusers' extra right/bottom pad.
    if blockOutChannels.count > 1, downsamplePadding != 0, downsamplePadding != 1 {
      throw InvalidInput("downsample_padding", "unsupported value \(downsamplePadding) (supported: 0, 1; padding p maps H to (H + 2p - 3) / 2 + 1, which must equal H / 2 for the skip connections to match)")
    }
  }

  /// The parameter count, from the layout (which allocates no weights).
  public var parameterCount: Int { UNet2DModel<Float>.layout(self).total }

  /// An estimate of the numbers one image keeps alive through a forward pass and its VJP: about eight tensors of
  /// c x h x w per ResNet block (inputs, norms, activations, convolution outputs; twice c on the up path's
  /// concatenations), the attention blocks' q, k, v and their h w x h w score matrices, and the 8M-number
  /// im2col buffer. Computed in Double: it never overflows.
  public func activationsPerImage(height: Int, width: Int) -> Double {
    var total = 0.0
    var pixels = Double(height) * Double(width)
    let attentionLevels = Set(downBlockTypes.indices.filter { downBlockTypes[$0].hasPrefix("Attn") })
    for (i, c) in blockOutChannels.enumerated() {
      let channels = Double(c)
      let resnets = Double(layersPerBlock) + Double(layersPerBlock + 1) * 1.5
      total += 8 * resnets * channels * pixels
      if attentionLevels.contains(i) || upBlockTypes.indices.contains(blockOutChannels.count - 1 - i)
        && upBlockTypes[blockOutChannels.count - 1 - i].hasPrefix("Attn") {
        let heads = Double(c / max(1, attentionHeadDim ?? c))
        total += Double(2 * layersPerBlock + 1) * (8 * channels * pixels + 2 * heads * pixels * pixels)
      }
      if i < blockOutChannels.count - 1 { pixels /= 4 }
    }
    // the mid block: two ResNets and (with add_attention) one attention at the lowest resolution
    let last = Double(blockOutChannels.last ?? 0)
    total += 16 * last * pixels
    if addAttention {
      let heads = Double((blockOutChannels.last ?? 1) / max(1, attentionHeadDim ?? blockOutChannels.last ?? 1))
      total += 8 * last * pixels + 2 * heads * pixels * pixels
    }
    return total
  }

  /// Bytes a run of `batch` images needs: `parameterCopies` copies of theta (weights, gradient, Adam's two moments:
  /// 4 for training) plus the activations, in `scalarBytes`-byte numbers.
  public func memoryEstimate(batch: Int, height: Int, width: Int, scalarBytes: Int, parameterCopies: Int) -> Double {
    let parameters = Double(parameterCount) * Double(parameterCopies)
    let activations = Double(batch) * activationsPerImage(height: height, width: width) + 8e6
    return Double(scalarBytes) * (parameters + activations)
  }

  /// Throws (naming `field`) unless a run of `batch` images of `height x width` fits the machine's memory.
  public func checkMemory(batch: Int, height: Int, width: Int, scalarBytes: Int, parameterCopies: Int,
                          field: String, available: Int = Budget.physicalMemory) throws {
    try Budget.count(batch, "batch", maximum: Budget.Limit.batch)
    let weights = Double(scalarBytes) * Double(parameterCount) * Double(parameterCopies)
    try Budget.checkMemory(weights, "block_out_channels", what: "a UNet of \(parameterCount) parameters", available: available)
    let bytes = memoryEstimate(batch: batch, height: height, width: width, scalarBytes: scalarBytes, parameterCopies: parameterCopies)
    try Budget.checkMemory(
      bytes, field, what: "a UNet of \(parameterCount) parameters on \(batch) image(s) of \(height)x\(width)", available: available)
  }
}
