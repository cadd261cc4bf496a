/// The layers of a UNet2DModel, built against a `ParameterLayout` in diffusers' registration order
/// (so the layout's names are the state_dict keys, in state_dict order).
struct UNetArchitecture: Sendable {
  let config: UNetConfig
  let convIn: Conv2D
  let timeLinear1: Linear
  let timeLinear2: Linear
  let downBlocks: [DownBlock]
  let midBlock: MidBlock
  let upBlocks: [UpBlock]
  let normOut: GroupNorm
  let convOut: Conv2D

  init(_ c: UNetConfig, _ layout: inout ParameterLayout) {
    config = c
    let channels = c.blockOutChannels, temb = c.timeEmbedDim, groups = c.normNumGroups, eps = c.normEps
    convIn = Conv2D(&layout, "conv_in", c.inChannels, channels[0], kernel: 3, pad: 1)
    timeLinear1 = Linear(&layout, "time_embedding.linear_1", channels[0], temb)
    timeLinear2 = Linear(&layout, "time_embedding.linear_2", temb, temb)

    var downs: [DownBlock] = []
    var output = channels[0]
    for (i, type) in c.downBlockTypes.enumerated() {
      let input = output
      output = channels[i]
      let prefix = "down_blocks.\(i)"
      var attentions: [SpatialAttention] = []
      if type == "AttnDownBlock2D" {
        for j in 0..<c.layersPerBlock {
          attentions.append(
            SpatialAttention(
              &layout, "\(prefix).attentions.\(j)", channels: output, headDim: c.attentionHeadDim ?? output, groups: groups,
              eps: eps, rescale: 1))
        }
      }
      var resnets: [ResnetBlock2D] = []
      for j in 0..<c.layersPerBlock {
        resnets.append(
          ResnetBlock2D(
            &layout, "\(prefix).resnets.\(j)", inChannels: j == 0 ? input : output, outChannels: output, timeChannels: temb,
            groups: groups, eps: eps, outputScale: 1))
      }
      let last = i == channels.count - 1
      let down = last ? nil : Downsample2D(&layout, "\(prefix).downsamplers.0", channels: output, padding: c.downsamplePadding)
      downs.append(DownBlock(resnets: resnets, attentions: attentions, downsampler: down))
    }
    downBlocks = downs

    let mid = channels.last!
    let midAttention: SpatialAttention? =
      c.addAttention
      ? SpatialAttention(
        &layout, "mid_block.attentions.0", channels: mid, headDim: c.attentionHeadDim ?? mid,
        groups: c.attnNormNumGroups ?? groups, eps: eps, rescale: c.midBlockScaleFactor)
      : nil
    let midFirst = ResnetBlock2D(
      &layout, "mid_block.resnets.0", inChannels: mid, outChannels: mid, timeChannels: temb, groups: groups, eps: eps,
      outputScale: c.midBlockScaleFactor)
    let midSecond = ResnetBlock2D(
      &layout, "mid_block.resnets.1", inChannels: mid, outChannels: mid, timeChannels: temb, groups: groups, eps: eps,
      outputScale: c.midBlockScaleFactor)
    midBlock = MidBlock(first: midFirst, attention: midAttention, second: midSecond)

    var ups: [UpBlock] = []
    let reversed = Array(channels.reversed())
    output = reversed[0]
    for (i, type) in c.upBlockTypes.enumerated() {
      let prevOutput = output
      output = reversed[i]
      let input = reversed[min(i + 1, channels.count - 1)]
      let prefix = "up_blocks.\(i)"
      let layers = c.layersPerBlock + 1
      var attentions: [SpatialAttention] = []
      if type == "AttnUpBlock2D" {
        for j in 0..<layers {
          attentions.append(
            SpatialAttention(
              &layout, "\(prefix).attentions.\(j)", channels: output, headDim: c.attentionHeadDim ?? output, groups: groups,
              eps: eps, rescale: 1))
        }
      }
      var resnets: [ResnetBlock2D] = []
      for j in 0..<layers {
        let skip = j == layers - 1 ? input : output
        let resnetIn = j == 0 ? prevOutput : output
        resnets.append(
          ResnetBlock2D(
            &layout, "\(prefix).resnets.\(j)", inChannels: resnetIn + skip, outChannels: output, timeChannels: temb,
            groups: groups, eps: eps, outputScale: 1))
      }
      let last = i == channels.count - 1
      let up = last ? nil : Upsample2D(&layout, "\(prefix).upsamplers.0", channels: output)
      ups.append(UpBlock(resnets: resnets, attentions: attentions, upsampler: up))
    }
    upBlocks = ups

    normOut = GroupNorm(&layout, "conv_norm_out", groups: groups, channels: channels[0], eps: eps)
    convOut = Conv2D(&layout, "conv_out", channels[0], c.outChannels, kernel: 3, pad: 1)
  }

  /// FLOPs (2 per multiply-add) of one forward pass (convolutions, linear layers, attention products).
  func flops(batch: Int, height: Int, width: Int) -> Double {
    var h = height, w = width
    var f = convIn.flops(batch: batch, height: h, width: w)
    f += 2 * Double(batch) * Double(timeLinear1.inFeatures * timeLinear1.outFeatures + timeLinear2.inFeatures * timeLinear2.outFeatures)
    for d in downBlocks {
      f += d.flops(batch: batch, height: h, width: w)
      if let down = d.downsampler { (h, w) = down.conv.outputSize(h, w) }
    }
    f += midBlock.flops(batch: batch, height: h, width: w)
    for u in upBlocks {
      f += u.flops(batch: batch, height: h, width: w)
      if u.upsampler != nil { h *= 2; w *= 2 }
    }
    return f + convOut.flops(batch: batch, height: h, width: w)
  }
}
