/// diffusers' ResnetBlock2D with time_embedding_norm "default":
/// `h = conv1(silu(norm1(x))) + time_emb_proj(silu(emb))[:, :, None, None]`, `h = conv2(silu(norm2(h)))`,
/// `y = (shortcut(x) + h) / output_scale_factor`, shortcut the 1x1 `conv_shortcut` when channels change.
/// The block receives `silu(emb)` (shared by every block; its adjoint is accumulated by the caller).
struct ResnetBlock2D: Sendable {
  let inChannels: Int
  let outChannels: Int
  let outputScale: Double
  let norm1: GroupNorm
  let conv1: Conv2D
  let timeProjection: Linear
  let norm2: GroupNorm
  let conv2: Conv2D
  let shortcut: Conv2D?

  init(
    _ layout: inout ParameterLayout, _ prefix: String, inChannels: Int, outChannels: Int, timeChannels: Int,
    groups: Int, eps: Double, outputScale: Double
  ) {
    self.inChannels = inChannels
    self.outChannels = outChannels
    self.outputScale = outputScale
    norm1 = GroupNorm(&layout, prefix + ".norm1", groups: groups, channels: inChannels, eps: eps)
    conv1 = Conv2D(&layout, prefix + ".conv1", inChannels, outChannels, kernel: 3, pad: 1)
    timeProjection = Linear(&layout, prefix + ".time_emb_proj", timeChannels, outChannels)
    norm2 = GroupNorm(&layout, prefix + ".norm2", groups: groups, channels: outChannels, eps: eps)
    conv2 = Conv2D(&layout, prefix + ".conv2", outChannels, outChannels, kernel: 3, pad: 1)
    shortcut = inChannels == outChannels ? nil : Conv2D(&layout, prefix + ".conv_shortcut", inChannels, outChannels, kernel: 1)
  }

  /// The normalised n1 = norm1(x), n2 = norm2(h1) are not kept: the reverse pass recomputes them from x, h1 and
  /// the statistics (one affine pass each), which saves two activations per block.
  struct Tape<S: BLASScalar>: Sendable {
    let x: Activation<S>
    let stats1: GroupNorm.Statistics
    let a1: Activation<S>
    let h1: Activation<S>
    let stats2: GroupNorm.Statistics
    let a2: Activation<S>
  }

  func flops(batch: Int, height: Int, width: Int) -> Double {
    conv1.flops(batch: batch, height: height, width: width) + conv2.flops(batch: batch, height: height, width: width)
      + (shortcut?.flops(batch: batch, height: height, width: width) ?? 0)
      + 2 * Double(batch * timeProjection.inFeatures * timeProjection.outFeatures)
  }

  /// `siluEmb` is silu(emb), B x timeChannels, row-major.
  func forward<S: BLASScalar>(_ x: Activation<S>, siluEmb: [S], _ p: UnsafePointer<S>) -> (Activation<S>, Tape<S>) {
    let (a1, stats1) = norm1.forwardSiLU(x, p)
    var h1 = conv1.forward(a1, p)
    let temb = timeProjection.forward(siluEmb, rows: x.batch, p)
    let hw = h1.pixels, batch = x.batch
    h1.data.withUnsafeMutableBufferPointer { hp in
      for c in 0..<outChannels {
        for b in 0..<batch {
          let add = temb[b * outChannels + c], base = (c * batch + b) * hw
          for i in base..<base + hw { hp[i] += add }
        }
      }
    }
    let (a2, stats2) = norm2.forwardSiLU(h1, p)
    var y = conv2.forward(a2, p)
    y.add(shortcut?.forward(x, p) ?? x)
    y.scale(by: 1 / S(outputScale))
    return (y, Tape(x: x, stats1: stats1, a1: a1, h1: h1, stats2: stats2, a2: a2))
  }

  /// Returns dx; adds the adjoint of silu(emb) into `dSiluEmb`.
  func backward<S: BLASScalar>(
    _ dy: Activation<S>, _ tape: Tape<S>, siluEmb: [S], dSiluEmb: inout [S], _ p: UnsafePointer<S>, _ g: UnsafeMutablePointer<S>?
  ) -> Activation<S> {
    var dOut = dy
    dOut.scale(by: 1 / S(outputScale))
    let da2 = conv2.backward(dOut, input: tape.a2, p, g)
    let dh1 = norm2.backwardSiLU(da2, input: tape.h1, tape.stats2, p, g)
    // the time projection's adjoint: dh1 summed over pixels, per (image, channel)
    let batch = tape.x.batch, hw = dh1.pixels
    var dTemb = [S](repeating: 0, count: batch * outChannels)
    dh1.data.withUnsafeBufferPointer { dp in
      for c in 0..<outChannels {
        for b in 0..<batch {
          dTemb[b * outChannels + c] = GroupNorm.sum(dp.baseAddress! + (c * batch + b) * hw, hw)
        }
      }
    }
    let dEmb = timeProjection.backward(dTemb, input: siluEmb, rows: batch, p, g)
    for i in 0..<dEmb.count { dSiluEmb[i] += dEmb[i] }
    let da1 = conv1.backward(dh1, input: tape.a1, p, g)
    var dx = norm1.backwardSiLU(da1, input: tape.x, tape.stats1, p, g)
    if let shortcut {
      dx.add(shortcut.backward(dOut, input: tape.x, p, g))
    } else {
      dx.add(dOut)
    }
    return dx
  }
}
