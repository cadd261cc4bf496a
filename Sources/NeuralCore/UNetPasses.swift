/// Everything the reverse pass needs from a forward pass.
struct UNetTape<S: BLASScalar> {
  let batch: Int
  let sinusoid: [S]
  let hidden1: [S]
  let activated1: [S]
  let emb: [S]
  let siluEmb: [S]
  let input: Activation<S>
  let downs: [DownBlock.Tape<S>]
  let mid: MidBlock.Tape<S>
  let ups: [UpBlock.Tape<S>]
  let normOutInput: Activation<S>
  let normOutStats: GroupNorm.Statistics
  let convOutInput: Activation<S>
  let output: Activation<S>
}

extension UNet2DModel {
  /// The forward pass (diffusers UNet2DModel.forward), keeping what the reverse pass needs.
  func run(_ x: [Scalar], batch: Int, height: Int, width: Int, timesteps: [Double], z: [Scalar], _ p: UnsafePointer<Scalar>) -> UNetTape<Scalar> {
    let c = config, net = self.net
    var input = Activation<Scalar>.fromNCHW(x, batch: batch, channels: c.inChannels, height: height, width: width)
    if c.centerInputSample {
      input.data = input.data.map { 2 * $0 - 1 }
    }
    // 1. time: emb = linear_2(silu(linear_1(sinusoid(t)))) (+ z for class_embed_type identity); the features are
    //    computed in float32 like diffusers for a Float model, in float64 for a Double one
    let t = timesteps.count == batch ? timesteps : [Double](repeating: timesteps[0], count: batch)
    let sinusoid = SinusoidalTimestepEmbedding.embed(
      t, dim: c.blockOutChannels[0], flipSinToCos: c.flipSinToCos, freqShift: c.freqShift, float32: Scalar.self == Float.self
    ).map { Scalar($0) }
    let hidden1 = net.timeLinear1.forward(sinusoid, rows: batch, p)
    let activated1 = SiLU.forward(hidden1)
    var emb = net.timeLinear2.forward(activated1, rows: batch, p)
    if c.classEmbedIdentity {
      for i in 0..<emb.count { emb[i] += z[i] }
    }
    let siluEmb = SiLU.forward(emb)
    // 2-3. conv_in and the down path, keeping skips
    var h = net.convIn.forward(input, p)
    var skips = [h]
    var downs: [DownBlock.Tape<Scalar>] = []
    for block in net.downBlocks {
      let (y, tape) = block.forward(h, siluEmb: siluEmb, skips: &skips, p)
      downs.append(tape)
      h = y
    }
    // 4. mid
    let (hm, mid) = net.midBlock.forward(h, siluEmb: siluEmb, p)
    h = hm
    // 5. up
    var ups: [UpBlock.Tape<Scalar>] = []
    for block in net.upBlocks {
      let (y, tape) = block.forward(h, siluEmb: siluEmb, skips: &skips, p)
      ups.append(tape)
      h = y
    }
    // 6. conv_norm_out, silu, conv_out
    let (activated, stats) = net.normOut.forwardSiLU(h, p)
    let out = net.convOut.forward(activated, p)
    return UNetTape(
      batch: batch, sinusoid: sinusoid, hidden1: hidden1, activated1: activated1, emb: emb, siluEmb: siluEmb, input: input,
      downs: downs, mid: mid, ups: ups, normOutInput: h, normOutStats: stats, convOutInput: activated,
      output: out)
  }

  /// The reverse pass from the cotangent v (NCHW): returns (v^T d eps/dx in NCHW, v^T d eps/dz); accumulates
  /// v^T d eps/dtheta into g when given.
  func backward(_ tape: UNetTape<Scalar>, cotangent v: [Scalar], _ p: UnsafePointer<Scalar>, _ g: UnsafeMutablePointer<Scalar>?) -> ([Scalar], [Scalar]) {
    let c = config, net = self.net, batch = tape.batch
    let out = tape.output
    let dOut = Activation<Scalar>.fromNCHW(v, batch: batch, channels: out.channels, height: out.height, width: out.width)
    var dSiluEmb = [Scalar](repeating: 0, count: tape.siluEmb.count)
    // 6.
    var d = net.convOut.backward(dOut, input: tape.convOutInput, p, g)
    d = net.normOut.backwardSiLU(d, input: tape.normOutInput, tape.normOutStats, p, g)
    // 5. the up path fills the skips' adjoints
    let skipCount = 1 + net.downBlocks.reduce(0) { $0 + $1.resnets.count + ($1.downsampler == nil ? 0 : 1) }
    var dSkips = [Activation<Scalar>?](repeating: nil, count: skipCount)
    for (block, blockTape) in zip(net.upBlocks, tape.ups).reversed() {
      d = block.backward(d, blockTape, siluEmb: tape.siluEmb, dSiluEmb: &dSiluEmb, dSkips: &dSkips, p, g)
    }
    // 4.
    d = net.midBlock.backward(d, tape.mid, siluEmb: tape.siluEmb, dSiluEmb: &dSiluEmb, p, g)
    // 3. the down path consumes them
    for (block, blockTape) in zip(net.downBlocks, tape.downs).reversed() {
      d = block.backward(d, blockTape, siluEmb: tape.siluEmb, dSiluEmb: &dSiluEmb, dSkips: &dSkips, p, g)
    }
    if let s = dSkips.removeLast() { d.add(s) }
    // 2.
    var dInput = net.convIn.backward(d, input: tape.input, p, g)
    if c.centerInputSample { dInput.scale(by: 2) }
    // 1. emb's adjoint from silu(emb); z's adjoint is emb's (identity class embedding); t gets none
    let dEmb = SiLU.backward(dSiluEmb, input: tape.emb)
    if let g {
      let dActivated1 = net.timeLinear2.backward(dEmb, input: tape.activated1, rows: batch, p, g)
      let dHidden1 = SiLU.backward(dActivated1, input: tape.hidden1)
      _ = net.timeLinear1.backward(dHidden1, input: tape.sinusoid, rows: batch, p, g)
    }
    return (dInput.toNCHW(), c.classEmbedIdentity ? dEmb : [])
  }
}
