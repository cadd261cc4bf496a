import DiffusionCore
import XCTest

@testable import NeuralCore

/// Every layer's backward against central finite differences in Float64 (h = 1e-5, every input and parameter
/// coordinate of tiny shapes). Tolerance 1e-7 relative (|error| <= 1e-7 max(1, |fd|)); FD error is ~1e-10.
final class LayerGradientTests: XCTestCase {
  let tolerance = 1e-7

  /// Runs the check for a layer mapping an activation (C, B, H, W) to an activation, with parameters theta.
  private func check(
    _ name: String, input shape: (c: Int, b: Int, h: Int, w: Int), parameters count: Int, seed: UInt64 = 7,
    forward: (Activation<Double>, UnsafePointer<Double>) -> Activation<Double>,
    vjp: (Activation<Double>, Activation<Double>, UnsafePointer<Double>, UnsafeMutablePointer<Double>) -> Activation<Double>,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    var rng = SeededGenerator(seed: seed)
    let n = shape.c * shape.b * shape.h * shape.w
    let x = FiniteDifferences.random(n, &rng)
    let theta = (0..<count).map { _ in 0.2 + 0.5 * rng.normal() }
    func act(_ d: [Double]) -> Activation<Double> { Activation(channels: shape.c, batch: shape.b, height: shape.h, width: shape.w, data: d) }
    let y = theta.withUnsafeBufferPointer { forward(act(x), $0.baseAddress!) }
    let v = FiniteDifferences.random(y.count, &rng)
    var dTheta = [Double](repeating: 0, count: count)
    let dx = theta.withUnsafeBufferPointer { p in
      dTheta.withUnsafeMutableBufferPointer { g in
        vjp(act(x), Activation(channels: y.channels, batch: y.batch, height: y.height, width: y.width, data: v), p.baseAddress!, g.baseAddress!)
      }
    }
    let fdX = FiniteDifferences.gradient(x) { xp in
      theta.withUnsafeBufferPointer { FiniteDifferences.dot(v, forward(act(xp), $0.baseAddress!).data) }
    }
    FiniteDifferences.assertClose(dx.data, fdX, tolerance: tolerance, "\(name) dx", file: file, line: line)
    let fdTheta = FiniteDifferences.gradient(theta) { tp in
      tp.withUnsafeBufferPointer { FiniteDifferences.dot(v, forward(act(x), $0.baseAddress!).data) }
    }
    FiniteDifferences.assertClose(dTheta, fdTheta, tolerance: tolerance, "\(name) dtheta", file: file, line: line)
  }

  private func checkConv(_ name: String, _ make: (inout ParameterLayout) -> Conv2D, input: (c: Int, b: Int, h: Int, w: Int)) {
    var layout = ParameterLayout()
    let conv = make(&layout)
    check(
      name, input: input, parameters: layout.total,
      forward: { x, p in conv.forward(x, p) },
      vjp: { x, dy, p, g in conv.backward(dy, input: x, p, g) })
  }

  func testConv3x3SamePadding() {
    checkConv("conv3x3", { Conv2D(&$0, "c", 2, 3, kernel: 3, pad: 1) }, input: (2, 2, 5, 4))
  }

  func testConv3x3Stride2SymmetricPadding() {
    checkConv("conv3x3 s2 p1", { Conv2D(&$0, "c", 2, 3, kernel: 3, stride: 2, pad: 1) }, input: (2, 2, 6, 4))
  }

  func testConv3x3Stride2RightBottomPadding() {
    // diffusers Downsample2D with downsample_padding 0
    checkConv("conv3x3 s2 pad(0,0,1,1)", { Downsample2D(&$0, "d", channels: 2, padding: 0).conv }, input: (2, 2, 6, 4))
  }

  func testConv1x1AndLinearProjection() {
    checkConv("conv1x1", { Conv2D(&$0, "c", 3, 2, kernel: 1) }, input: (3, 2, 2, 3))
    checkConv("to_q", { Conv2D(&$0, "q", 3, 4, kernel: 1, linearShape: true) }, input: (3, 2, 2, 2))
  }

  func testConvMatchesDirectSum() {
    // the forward pass against the definition y[o][b][i][j] = b_o + sum w[o][c][ky][kx] x[c][b][i s - p + ky][j s - p + kx]
    var layout = ParameterLayout()
    let conv = Conv2D(&layout, "c", 2, 3, kernel: 3, stride: 2, padding: (1, 0, 1, 2))
    var rng = SeededGenerator(seed: 3)
    let x = Activation<Double>(channels: 2, batch: 2, height: 5, width: 6, data: FiniteDifferences.random(120, &rng))
    let theta = FiniteDifferences.random(layout.total, &rng)
    let y = theta.withUnsafeBufferPointer { conv.forward(x, $0.baseAddress!) }
    XCTAssertEqual(y.height, 3)
    XCTAssertEqual(y.width, 3)  // (6 + 0 + 2 - 3) / 2 + 1
    for o in 0..<3 {
      for b in 0..<2 {
        for i in 0..<y.height {
          for j in 0..<y.width {
            var s = theta[conv.bias.offset + o]
            for c in 0..<2 {
              for ky in 0..<3 {
                for kx in 0..<3 {
                  let iy = i * 2 - 1 + ky, ix = j * 2 - 0 + kx
                  guard iy >= 0, iy < 5, ix >= 0, ix < 6 else { continue }
                  s += theta[conv.weight.offset + ((o * 2 + c) * 3 + ky) * 3 + kx] * x.data[((c * 2 + b) * 5 + iy) * 6 + ix]
                }
              }
            }
            XCTAssertEqual(y.data[((o * 2 + b) * 3 + i) * 3 + j], s, accuracy: 1e-12)
          }
        }
      }
    }
  }

  func testGroupNorm() {
    var layout = ParameterLayout()
    let norm = GroupNorm(&layout, "n", groups: 2, channels: 4, eps: 1e-5)
    check(
      "group norm", input: (4, 2, 3, 3), parameters: layout.total,
      forward: { x, p in norm.forward(x, p).0 },
      vjp: { x, dy, p, g in
        let (_, stats) = norm.forward(x, p)
        return norm.backward(dy, input: x, stats, p, g)
      })
  }

  func testSiLU() {
    check(
      "silu", input: (3, 2, 2, 2), parameters: 0,
      forward: { x, _ in SiLU.forward(x) },
      vjp: { x, dy, _, _ in SiLU.backward(dy, input: x) })
  }

  func testLinear() {
    var layout = ParameterLayout()
    let linear = Linear(&layout, "l", 4, 5)
    // rows x features as a (1, 3, 1, 4) activation's flat data
    check(
      "linear", input: (1, 3, 1, 4), parameters: layout.total,
      forward: { x, p in Activation(channels: 1, batch: 3, height: 1, width: 5, data: linear.forward(x.data, rows: 3, p)) },
      vjp: { x, dy, p, g in
        Activation(channels: 1, batch: 3, height: 1, width: 4, data: linear.backward(dy.data, input: x.data, rows: 3, p, g))
      })
  }

  func testNearestUpsampleAndUpsample2D() {
    check(
      "nearest 2x", input: (2, 2, 2, 3), parameters: 0,
      forward: { x, _ in NearestUpsample2x.forward(x) },
      vjp: { _, dy, _, _ in NearestUpsample2x.backward(dy) })
    var layout = ParameterLayout()
    let up = Upsample2D(&layout, "u", channels: 2)
    check(
      "upsample2d", input: (2, 2, 2, 2), parameters: layout.total,
      forward: { x, p in up.forward(x, p).0 },
      vjp: { x, dy, p, g in up.backward(dy, upsampled: up.forward(x, p).1, p, g) })
  }

  func testMultiHeadAttention() {
    var layout = ParameterLayout()
    let attention = SpatialAttention(&layout, "a", channels: 4, headDim: 2, groups: 2, eps: 1e-5, rescale: 1.5)
    XCTAssertEqual(attention.heads, 2)
    check(
      "attention", input: (4, 2, 2, 3), parameters: layout.total,
      forward: { x, p in attention.forward(x, p).0 },
      vjp: { x, dy, p, g in attention.backward(dy, attention.forward(x, p).1, p, g) })
  }

  func testSingleHeadAttention() {
    var layout = ParameterLayout()
    let attention = SpatialAttention(&layout, "a", channels: 4, headDim: 4, groups: 4, eps: 1e-6, rescale: 1)
    check(
      "attention 1 head", input: (4, 1, 3, 2), parameters: layout.total,
      forward: { x, p in attention.forward(x, p).0 },
      vjp: { x, dy, p, g in attention.backward(dy, attention.forward(x, p).1, p, g) })
  }

  func testResnetBlockWithShortcutAndTimeEmbedding() {
    // the time embedding silu(emb) is appended to theta so that its adjoint is checked too
    var layout = ParameterLayout()
    let block = ResnetBlock2D(&layout, "r", inChannels: 4, outChannels: 6, timeChannels: 5, groups: 2, eps: 1e-5, outputScale: 1.3)
    let weights = layout.total, batch = 2
    func split(_ p: UnsafePointer<Double>) -> [Double] { Array(UnsafeBufferPointer(start: p + weights, count: batch * 5)) }
    check(
      "resnet", input: (4, batch, 3, 2), parameters: weights + batch * 5,
      forward: { x, p in block.forward(x, siluEmb: split(p), p).0 },
      vjp: { x, dy, p, g in
        let emb = split(p)
        var dEmb = [Double](repeating: 0, count: emb.count)
        let dx = block.backward(dy, block.forward(x, siluEmb: emb, p).1, siluEmb: emb, dSiluEmb: &dEmb, p, g)
        for i in 0..<dEmb.count { g[weights + i] = dEmb[i] }
        return dx
      })
  }

  func testResnetBlockIdentityShortcut() {
    var layout = ParameterLayout()
    let block = ResnetBlock2D(&layout, "r", inChannels: 4, outChannels: 4, timeChannels: 3, groups: 2, eps: 1e-6, outputScale: 1)
    XCTAssertNil(block.shortcut)
    let weights = layout.total
    check(
      "resnet identity", input: (4, 1, 2, 2), parameters: weights + 3,
      forward: { x, p in block.forward(x, siluEmb: Array(UnsafeBufferPointer(start: p + weights, count: 3)), p).0 },
      vjp: { x, dy, p, g in
        let emb = Array(UnsafeBufferPointer(start: p + weights, count: 3))
        var dEmb = [Double](repeating: 0, count: 3)
        let dx = block.backward(dy, block.forward(x, siluEmb: emb, p).1, siluEmb: emb, dSiluEmb: &dEmb, p, g)
        for i in 0..<3 { g[weights + i] = dEmb[i] }
        return dx
      })
  }

  func testTimestepFeaturesMatchTheFormula() {
    // dim 6, half 3, freq_shift 1: w_i = exp(-ln(10000) i / 2); flip puts cos first
    let e = SinusoidalTimestepEmbedding.embed([2.5], dim: 6, flipSinToCos: true, freqShift: 1, float32: false)
    for i in 0..<3 {
      let w = exp(-log(10000.0) * Double(i) / 2)
      XCTAssertEqual(e[i], cos(2.5 * w), accuracy: 1e-15)
      XCTAssertEqual(e[3 + i], sin(2.5 * w), accuracy: 1e-15)
    }
    let odd = SinusoidalTimestepEmbedding.embed([1, 2], dim: 5, flipSinToCos: false, freqShift: 0, float32: true)
    XCTAssertEqual(odd.count, 10)
    XCTAssertEqual(odd[4], 0)
    XCTAssertEqual(odd[1], Double(Float(sin(Double(Float(exp(Double(Float(-log(10000.0)) / 2))))))), accuracy: 0)
  }
}
