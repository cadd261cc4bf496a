import DiffusionCore
import Foundation

/// The layers of a `Recognizer` and its forward and backward passes (float64, channel-major activations).
struct RecognizerNetwork: Sendable {
  let conv1: Conv2D
  let conv2: Conv2D
  let conv3: Conv2D
  let embed: Linear
  /// The CosFace prototypes P (K x e), used by the training head only.
  let prototypes: ParameterSlot
  let layout: ParameterLayout
  let imageSize: Int
  let embeddingDimension: Int
  let classes: Int

  init(_ c: RecognizerConfig) {
    var layout = ParameterLayout()
    let w = c.width, q = c.imageSize / 4
    conv1 = Conv2D(&layout, "conv1", 1, w, kernel: 3, pad: 1)
    conv2 = Conv2D(&layout, "conv2", w, 2 * w, kernel: 3, stride: 2, pad: 1)
    conv3 = Conv2D(&layout, "conv3", 2 * w, 2 * w, kernel: 3, stride: 2, pad: 1)
    embed = Linear(&layout, "embed", 2 * w * q * q, c.embeddingDimension)
    prototypes = layout.add("head.prototypes", [c.classes, c.embeddingDimension])
    self.layout = layout
    imageSize = c.imageSize
    embeddingDimension = c.embeddingDimension
    classes = c.classes
  }

  /// Seeded initialization: weights U(-b, b) with b = sqrt(6 / fan_in) (Kaiming-uniform for a ReLU-like gain),
  /// biases 0, prototypes N(0, 1).
  func initialParameters(seed: UInt64) -> [Double] {
    var rng = SeededGenerator(seed: seed)
    var p = [Double](repeating: 0, count: layout.total)
    func uniform(_ slot: ParameterSlot, fanIn: Int) {
      let bound = (6 / Double(fanIn)).squareRoot()
      for i in 0..<slot.count { p[slot.offset + i] = bound * (2 * rng.uniform() - 1) }
    }
    uniform(conv1.weight, fanIn: conv1.patchSize)
    uniform(conv2.weight, fanIn: conv2.patchSize)
    uniform(conv3.weight, fanIn: conv3.patchSize)
    uniform(embed.weight, fanIn: embed.inFeatures)
    for i in 0..<prototypes.count { p[prototypes.offset + i] = rng.normal() }
    return p
  }

  /// Every intermediate of one forward pass, kept for the backward pass.
  struct Pass {
    var x: Activation<Double>
    var a1: Activation<Double>, h1: Activation<Double>
    var a2: Activation<Double>, h2: Activation<Double>
    var a3: Activation<Double>, h3: Activation<Double>
    /// The flattened features (B x 2w (s/4)^2, NCHW order).
    var features: [Double]
    /// u = Linear(features) (B x e) and |u| per image.
    var u: [Double]
    var norms: [Double]
    /// v = u / |u| (B x e).
    var v: [Double]
  }

  /// conv1 -> SiLU -> conv2 (stride 2) -> SiLU -> conv3 (stride 2) -> SiLU -> flatten -> Linear -> u / |u|.
  /// Throws if some image's u is zero (its direction is undefined).
  func forward(_ input: [Double], batch: Int, _ p: UnsafePointer<Double>) throws -> Pass {
    let s = imageSize, e = embeddingDimension
    let x = Activation(channels: 1, batch: batch, height: s, width: s, data: input)  // C = 1: NCHW is channel-major
    let a1 = conv1.forward(x, p), h1 = SiLU.forward(a1)
    let a2 = conv2.forward(h1, p), h2 = SiLU.forward(a2)
    let a3 = conv3.forward(h2, p), h3 = SiLU.forward(a3)
    let features = h3.toNCHW()
    let u = embed.forward(features, rows: batch, p)
    var norms = [Double](repeating: 0, count: batch), v = u
    for b in 0..<batch {
      var n2 = 0.0
      for j in 0..<e { n2 += u[b * e + j] * u[b * e + j] }
      let n = n2.squareRoot()
      guard n > 0, n.isFinite else {
        throw InvalidInput("x", "image \(b) has an embedding of norm \(n): its direction v = u / |u| is undefined")
      }
      norms[b] = n
      for j in 0..<e { v[b * e + j] = u[b * e + j] / n }
    }
    return Pass(x: x, a1: a1, h1: h1, a2: a2, h2: h2, a3: a3, h3: h3, features: features, u: u, norms: norms, v: v)
  }

  /// The cotangent dv (B x e) pulled back to the images: returns dx (B x s^2); when g is given, adds the parameter
  /// gradient to it. Normalization: `du = (dv - v <v, dv>) / |u|`.
  func backward(_ pass: Pass, dv: [Double], _ p: UnsafePointer<Double>, _ g: UnsafeMutablePointer<Double>?) -> [Double] {
    let e = embeddingDimension, batch = pass.x.batch
    var du = dv
    for b in 0..<batch {
      var dot = 0.0
      for j in 0..<e { dot += pass.v[b * e + j] * dv[b * e + j] }
      for j in 0..<e { du[b * e + j] = (dv[b * e + j] - pass.v[b * e + j] * dot) / pass.norms[b] }
    }
    let dFeatures = embed.backward(du, input: pass.features, rows: batch, p, g)
    let h3 = pass.h3
    let dh3 = Activation<Double>.fromNCHW(dFeatures, batch: batch, channels: h3.channels, height: h3.height, width: h3.width)
    let dh2 = conv3.backward(SiLU.backward(dh3, input: pass.a3), input: pass.h2, p, g)
    let dh1 = conv2.backward(SiLU.backward(dh2, input: pass.a2), input: pass.h1, p, g)
    let dx = conv1.backward(SiLU.backward(dh1, input: pass.a1), input: pass.x, p, g)
    return dx.data
  }
}
