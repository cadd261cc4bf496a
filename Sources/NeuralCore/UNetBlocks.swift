/// diffusers' DownBlock2D / AttnDownBlock2D: `layers` ResnetBlock2Ds (each followed by an Attention in the Attn
/// variant), every output kept as a skip, then an optional Downsample2D whose output is a skip too.
struct DownBlock: Sendable {
  let resnets: [ResnetBlock2D]
  let attentions: [SpatialAttention]
  let downsampler: Downsample2D?

  struct Tape<S: BLASScalar>: Sendable {
    var resnets: [ResnetBlock2D.Tape<S>] = []
    var attentions: [SpatialAttention.Tape<S>] = []
    var downsampleInput: Activation<S>? = nil
  }

  /// Returns the block output and appends its skips.
  func forward<S: BLASScalar>(
    _ x: Activation<S>, siluEmb: [S], skips: inout [Activation<S>], _ p: UnsafePointer<S>
  ) -> (Activation<S>, Tape<S>) {
    var tape = Tape<S>()
    var h = x
    for (j, resnet) in resnets.enumerated() {
      let (y, rt) = resnet.forward(h, siluEmb: siluEmb, p)
      tape.resnets.append(rt)
      h = y
      if !attentions.isEmpty {
        let (ya, at) = attentions[j].forward(h, p)
        tape.attentions.append(at)
        h = ya
      }
      skips.append(h)
    }
    if let downsampler {
      tape.downsampleInput = h
      h = downsampler.conv.forward(h, p)
      skips.append(h)
    }
    return (h, tape)
  }

  /// `dh` is the adjoint of the block output; the skips' adjoints are taken from the end of `dSkips`.
  func backward<S: BLASScalar>(
    _ dh: Activation<S>, _ tape: Tape<S>, siluEmb: [S], dSiluEmb: inout [S], dSkips: inout [Activation<S>?],
    _ p: UnsafePointer<S>, _ g: UnsafeMutablePointer<S>?
  ) -> Activation<S> {
    var d = dh
    if let downsampler, let input = tape.downsampleInput {
      if let s = dSkips.removeLast() { d.add(s) }
      d = downsampler.conv.backward(d, input: input, p, g)
    }
    for j in stride(from: resnets.count - 1, through: 0, by: -1) {
      if let s = dSkips.removeLast() { d.add(s) }
      if !attentions.isEmpty { d = attentions[j].backward(d, tape.attentions[j], p, g) }
      d = resnets[j].backward(d, tape.resnets[j], siluEmb: siluEmb, dSiluEmb: &dSiluEmb, p, g)
    }
    return d
  }

  func flops(batch: Int, height: Int, width: Int) -> Double {
    var f = 0.0
    for (j, r) in resnets.enumerated() {
      f += r.flops(batch: batch, height: height, width: width)
      if !attentions.isEmpty { f += attentions[j].flops(batch: batch, height: height, width: width) }
    }
    if let downsampler { f += downsampler.conv.flops(batch: batch, height: height, width: width) }
    return f
  }
}

/// diffusers' UNetMidBlock2D: resnet, attention (when add_attention), resnet.
struct MidBlock: Sendable {
  let first: ResnetBlock2D
  let attention: SpatialAttention?
  let second: ResnetBlock2D

  struct Tape<S: BLASScalar>: Sendable {
    let first: ResnetBlock2D.Tape<S>
    let attention: SpatialAttention.Tape<S>?
    let second: ResnetBlock2D.Tape<S>
  }

  func forward<S: BLASScalar>(_ x: Activation<S>, siluEmb: [S], _ p: UnsafePointer<S>) -> (Activation<S>, Tape<S>) {
    let (h1, t1) = first.forward(x, siluEmb: siluEmb, p)
    var h = h1
    var ta: SpatialAttention.Tape<S>? = nil
    if let attention {
      let (ha, t) = attention.forward(h, p)
      h = ha
      ta = t
    }
    let (y, t2) = second.forward(h, siluEmb: siluEmb, p)
    return (y, Tape(first: t1, attention: ta, second: t2))
  }

  func backward<S: BLASScalar>(
    _ dy: Activation<S>, _ tape: Tape<S>, siluEmb: [S], dSiluEmb: inout [S], _ p: UnsafePointer<S>, _ g: UnsafeMutablePointer<S>?
  ) -> Activation<S> {
    var d = second.backward(dy, tape.second, siluEmb: siluEmb, dSiluEmb: &dSiluEmb, p, g)
    if let attention, let ta = tape.attention { d = attention.backward(d, ta, p, g) }
    return first.backward(d, tape.first, siluEmb: siluEmb, dSiluEmb: &dSiluEmb, p, g)
  }

  func flops(batch: Int, height: Int, width: Int) -> Double {
    first.flops(batch: batch, height: height, width: width) + second.flops(batch: batch, height: height, width: width)
      + (attention?.flops(batch: batch, height: height, width: width) ?? 0)
  }
}

/// diffusers' UpBlock2D / AttnUpBlock2D: `layers + 1` ResnetBlock2Ds, each on `cat([h, skip], dim=1)` with the
/// most recent remaining skip (followed by an Attention in the Attn variant), then an optional Upsample2D.
struct UpBlock: Sendable {
  let resnets: [ResnetBlock2D]
  let attentions: [SpatialAttention]
  let upsampler: Upsample2D?

  struct Tape<S: BLASScalar>: Sendable {
    var resnets: [ResnetBlock2D.Tape<S>] = []
    var attentions: [SpatialAttention.Tape<S>] = []
    var hiddenChannels: [Int] = []
    var skipIndices: [Int] = []
    var upsampled: Activation<S>? = nil
  }

  func forward<S: BLASScalar>(
    _ x: Activation<S>, siluEmb: [S], skips: inout [Activation<S>], _ p: UnsafePointer<S>
  ) -> (Activation<S>, Tape<S>) {
    var tape = Tape<S>()
    var h = x
    for (j, resnet) in resnets.enumerated() {
      let skip = skips.removeLast()
      tape.skipIndices.append(skips.count)
      tape.hiddenChannels.append(h.channels)
      let (y, rt) = resnet.forward(h.concatenatingChannels(skip), siluEmb: siluEmb, p)
      tape.resnets.append(rt)
      h = y
      if !attentions.isEmpty {
        let (ya, at) = attentions[j].forward(h, p)
        tape.attentions.append(at)
        h = ya
      }
    }
    if let upsampler {
      let (y, up) = upsampler.forward(h, p)
      tape.upsampled = up
      h = y
    }
    return (h, tape)
  }

  /// Stores the skips' adjoints in `dSkips` at the indices they were taken from.
  func backward<S: BLASScalar>(
    _ dy: Activation<S>, _ tape: Tape<S>, siluEmb: [S], dSiluEmb: inout [S], dSkips: inout [Activation<S>?],
    _ p: UnsafePointer<S>, _ g: UnsafeMutablePointer<S>?
  ) -> Activation<S> {
    var d = dy
    if let upsampler, let up = tape.upsampled { d = upsampler.backward(d, upsampled: up, p, g) }
    for j in stride(from: resnets.count - 1, through: 0, by: -1) {
      if !attentions.isEmpty { d = attentions[j].backward(d, tape.attentions[j], p, g) }
      let dIn = resnets[j].backward(d, tape.resnets[j], siluEmb: siluEmb, dSiluEmb: &dSiluEmb, p, g)
      let hc = tape.hiddenChannels[j]
      dSkips[tape.skipIndices[j]] = dIn.channelSlice(hc, dIn.channels - hc)
      d = dIn.channelSlice(0, hc)
    }
    return d
  }

  func flops(batch: Int, height: Int, width: Int) -> Double {
    var f = 0.0
    for (j, r) in resnets.enumerated() {
      f += r.flops(batch: batch, height: height, width: width)
      if !attentions.isEmpty { f += attentions[j].flops(batch: batch, height: height, width: width) }
    }
    if let upsampler { f += upsampler.conv.flops(batch: batch, height: 2 * height, width: 2 * width) }
    return f
  }
}
