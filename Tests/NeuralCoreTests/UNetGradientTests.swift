import DiffusionCore
import XCTest

@testable import NeuralCore

/// The whole UNet's VJP on the tiny layout (channels [8, 16], 4 groups, one layer per block, two-head attention,
/// identity class embedding, downsample_padding 0) against central finite differences in Float64:
/// a sample of x coordinates, every z coordinate, one coordinate of every parameter tensor, plus random directions
/// through all of x and theta. One image (the batched test checks that B images give the per-image results, summed
/// for theta). Tolerance 1e-6 relative (|error| <= 1e-6 max(1, |fd|)); the FD error with h = 1e-5 is ~1e-9.
final class UNetGradientTests: XCTestCase {
  let tolerance = 1e-6
  let (batch, height, width) = (1, 8, 8)

  private func setup(_ config: UNetConfig = .tiny, batch: Int = 1) throws -> (UNet2DModel<Double>, [Double], [Double], [Double], [Double]) {
    let model = try UNet2DModel<Double>(config: config, seed: 11)
    var rng = SeededGenerator(seed: 5)
    let d = batch * config.inChannels * height * width
    let x = FiniteDifferences.random(d, &rng)
    let z = FiniteDifferences.random(batch * config.conditionDimension, &rng, scale: 0.5)
    let v = FiniteDifferences.random(batch * config.outChannels * height * width, &rng)
    return (model, batch == 1 ? [503] : [17, 503], x, z, v)
  }

  func testVJPInXAndZ() throws {
    let (model, t, x, z, v) = try setup()
    let r = try model.vjp(x, batch: batch, height: height, width: width, timesteps: t, z: z, cotangent: v, wantParameters: false)
    XCTAssertTrue(r.parameters.isEmpty)
    XCTAssertEqual(r.z.count, z.count)
    let fdX = try FiniteDifferences.gradient(x, indices: Array(stride(from: 0, to: x.count, by: 3))) { xp in
      FiniteDifferences.dot(v, try model.forward(xp, batch: batch, height: height, width: width, timesteps: t, z: z))
    }
    FiniteDifferences.assertClose(r.x, fdX, tolerance: tolerance, "vjp_x")
    var rng = SeededGenerator(seed: 21)
    let u = FiniteDifferences.random(x.count, &rng)
    let along = try FiniteDifferences.gradient([0.0]) { s in
      FiniteDifferences.dot(
        v, try model.forward(zip(x, u).map { $0 + s[0] * $1 }, batch: batch, height: height, width: width, timesteps: t, z: z))
    }[0]!
    XCTAssertEqual(FiniteDifferences.dot(r.x, u), along, accuracy: tolerance * max(1, abs(along)))
    let fdZ = try FiniteDifferences.gradient(z) { zp in
      FiniteDifferences.dot(v, try model.forward(x, batch: batch, height: height, width: width, timesteps: t, z: zp))
    }
    FiniteDifferences.assertClose(r.z, fdZ, tolerance: tolerance, "vjp_z")
    // eps is the forward pass
    let eps = try model.forward(x, batch: batch, height: height, width: width, timesteps: t, z: z)
    XCTAssertEqual(r.eps, eps)
  }

  func testVJPInParameters() throws {
    let (model, t, x, z, v) = try setup()
    let r = try model.vjp(x, batch: batch, height: height, width: width, timesteps: t, z: z, cotangent: v)
    XCTAssertEqual(r.parameters.count, model.parameterCount)
    // one coordinate of every parameter tensor (at a varying position)
    var indices: [Int] = []
    for (i, block) in model.parameterBlocks.enumerated() {
      indices.append(model.layout.offsets[i] + (i * 7919) % block.count)
    }
    let fd = try FiniteDifferences.gradient(model.parameters, indices: indices) { theta in
      FiniteDifferences.dot(
        v, try model.replacingParameters(theta).forward(x, batch: batch, height: height, width: width, timesteps: t, z: z))
    }
    FiniteDifferences.assertClose(r.parameters, fd, tolerance: tolerance, "vjp_param")
    // a random direction through all of theta
    var rng = SeededGenerator(seed: 9)
    let u = FiniteDifferences.random(model.parameterCount, &rng)
    let h = 1e-6
    func objective(_ s: Double) throws -> Double {
      let theta = zip(model.parameters, u).map { $0 + s * $1 }
      return FiniteDifferences.dot(v, try model.replacingParameters(theta).forward(x, batch: batch, height: height, width: width, timesteps: t, z: z))
    }
    let directional = (try objective(h) - objective(-h)) / (2 * h)
    XCTAssertEqual(FiniteDifferences.dot(r.parameters, u), directional, accuracy: 1e-6 * max(1, abs(directional)))
  }

  func testCentredInputAndMidScaleAndNoAttentionInMid() throws {
    var c = UNetConfig.tiny
    c.centerInputSample = true
    c.midBlockScaleFactor = 1.7
    c.addAttention = false
    c.flipSinToCos = true
    c.downsamplePadding = 1
    c.classEmbedIdentity = false
    let (model, t, x, z, v) = try setup(c)
    XCTAssertTrue(z.isEmpty)
    let r = try model.vjp(x, batch: batch, height: height, width: width, timesteps: t, cotangent: v)
    XCTAssertTrue(r.z.isEmpty)
    let fdX = try FiniteDifferences.gradient(x, indices: Array(stride(from: 0, to: x.count, by: 5))) { xp in
      FiniteDifferences.dot(v, try model.forward(xp, batch: batch, height: height, width: width, timesteps: t))
    }
    FiniteDifferences.assertClose(r.x, fdX, tolerance: tolerance, "vjp_x")
    var indices: [Int] = []
    for (i, block) in model.parameterBlocks.enumerated() where block.name.hasPrefix("mid_block") {
      indices.append(model.layout.offsets[i] + block.count / 3)
    }
    let fd = try FiniteDifferences.gradient(model.parameters, indices: indices) { theta in
      FiniteDifferences.dot(v, try model.replacingParameters(theta).forward(x, batch: batch, height: height, width: width, timesteps: t))
    }
    FiniteDifferences.assertClose(r.parameters, fd, tolerance: tolerance, "vjp_param mid")
  }

  func testBatchedEqualsPerImage() throws {
    let (model, t, x, z, v) = try setup(batch: 2)
    let both = try model.vjp(x, batch: 2, height: height, width: width, timesteps: t, z: z, cotangent: v)
    let d = x.count / 2, m = z.count / 2
    var summed = [Double](repeating: 0, count: model.parameterCount)
    for b in 0..<2 {
      let one = try model.vjp(
        Array(x[b * d..<(b + 1) * d]), batch: 1, height: height, width: width, timesteps: [t[b]], z: Array(z[b * m..<(b + 1) * m]),
        cotangent: Array(v[b * d..<(b + 1) * d]))
      for i in 0..<d {
        XCTAssertEqual(one.eps[i], both.eps[b * d + i], accuracy: 1e-12)
        XCTAssertEqual(one.x[i], both.x[b * d + i], accuracy: 1e-12)
      }
      for i in 0..<m { XCTAssertEqual(one.z[i], both.z[b * m + i], accuracy: 1e-12) }
      for i in 0..<summed.count { summed[i] += one.parameters[i] }
    }
    for i in stride(from: 0, to: summed.count, by: 13) { XCTAssertEqual(summed[i], both.parameters[i], accuracy: 1e-11) }
  }

  func testFloatAgreesWithDouble() throws {
    let (model, t, x, z, v) = try setup()
    let model32 = try UNet2DModel<Float>(config: .tiny, seed: 11)
    let r64 = try model.vjp(x, batch: batch, height: height, width: width, timesteps: t, z: z, cotangent: v)
    let r32 = try model32.vjp(
      x.map { Float($0) }, batch: batch, height: height, width: width, timesteps: t, z: z.map { Float($0) },
      cotangent: v.map { Float($0) })
    for (a, b, name) in [(r64.eps, r32.eps, "eps"), (r64.x, r32.x, "x"), (r64.z, r32.z, "z"), (r64.parameters, r32.parameters, "theta")] {
      let scale = a.map { abs($0) }.max()!
      let worst = zip(a, b).map { abs($0 - Double($1)) }.max()!
      XCTAssertLessThan(worst, 1e-4 * scale, name)
    }
  }
}
