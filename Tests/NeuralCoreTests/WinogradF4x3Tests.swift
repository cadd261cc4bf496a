import DiffusionCore
import XCTest

@testable import NeuralCore

/// Winograd F(4x4, 3x3) against the im2col convolution (Float64 to 1e-12 relative; Float32's error stated), the
/// choice between the two algorithms, and the weight-transform cache (the same numbers as transforming per call,
/// dropped when the parameters change).
final class WinogradF4x3Tests: XCTestCase {
  private func randomConv(_ cin: Int, _ cout: Int, seed: UInt64) -> (Conv2D, [Double]) {
    var layout = ParameterLayout()
    let conv = Conv2D(&layout, "c", cin, cout, kernel: 3, pad: 1)
    var rng = SeededGenerator(seed: seed)
    return (conv, FiniteDifferences.random(layout.total, &rng))
  }

  private func assertNear(_ a: [Double], _ b: [Double], tolerance: Double, _ what: String, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, what, line: line)
    FiniteDifferences.assertClose(a, Dictionary(uniqueKeysWithValues: b.enumerated().map { ($0.offset, $0.element) }), tolerance: tolerance, what, line: line)
  }

  /// Forward, input gradient, weight and bias gradients agree with im2col to 1e-12 relative in Float64; the last
  /// shape splits its transforms over two threads and its products into batch chunks.
  func testF4x3MatchesIm2colInFloat64() {
    let threads = ParallelRanges.threads
    ParallelRanges.threads = 2
    defer { ParallelRanges.threads = threads }
    for (cin, cout, b, h, w) in [(8, 9, 3, 4, 8), (10, 8, 2, 8, 4), (9, 12, 1, 4, 4), (32, 40, 4, 16, 12)] {
      let (conv, theta) = randomConv(cin, cout, seed: UInt64(cin * 100 + h * 10 + w))
      var rng = SeededGenerator(seed: 5)
      let x = Activation<Double>(channels: cin, batch: b, height: h, width: w, data: FiniteDifferences.random(cin * b * h * w, &rng))
      let dy = Activation<Double>(channels: cout, batch: b, height: h, width: w, data: FiniteDifferences.random(cout * b * h * w, &rng))
      let (yW, yI) = theta.withUnsafeBufferPointer {
        (conv.winogradForward(x, $0.baseAddress!, WinogradF4x3.self), conv.im2colForward(x, $0.baseAddress!))
      }
      assertNear(yW.data, yI.data, tolerance: 1e-12, "forward \(cin)x\(cout) \(h)x\(w)")
      var gW = [Double](repeating: 0.5, count: theta.count), gI = gW
      let dxW = theta.withUnsafeBufferPointer { p in
        gW.withUnsafeMutableBufferPointer { conv.winogradBackward(dy, input: x, p.baseAddress!, $0.baseAddress!, WinogradF4x3.self) }
      }
      let dxI = theta.withUnsafeBufferPointer { p in
        gI.withUnsafeMutableBufferPointer { conv.im2colBackward(dy, input: x, p.baseAddress!, $0.baseAddress!) }
      }
      assertNear(dxW.data, dxI.data, tolerance: 1e-12, "dx \(cin)x\(cout) \(h)x\(w)")
      assertNear(gW, gI, tolerance: 1e-12, "dtheta \(cin)x\(cout) \(h)x\(w)")
    }
  }

  /// The input transform, which works a row of tiles at a time along contiguous memory, gives bitwise the numbers of
  /// B^T d B taken patch by patch with the same 1-D map (`bt`, columns first), in Float32, for 1, 2 and 8 tiles a row.
  func testInputTransformEqualsPatchByPatchBitwise() {
    for (c, b, h, w) in [(3, 2, 4, 4), (2, 1, 8, 8), (2, 2, 12, 32)] {
      let wg = WinogradF4x3(inChannels: c, outChannels: 1, height: h, width: w)
      var rng = SeededGenerator(seed: UInt64(h * 100 + w))
      let x = (0..<c * b * h * w).map { _ in Float(rng.normal()) }
      let tiles = b * wg.tilesPerImage, stride = WinogradF4x3.xiStride(c * tiles)
      var v = [Float](repeating: .nan, count: 36 * stride)
      x.withUnsafeBufferPointer { xp in v.withUnsafeMutableBufferPointer { wg.transformInput(xp.baseAddress!, batch: b, 0, b, $0.baseAddress!) } }
      for ch in 0..<c {
        for i in 0..<b {
          // the zero-padded image, then each patch: B^T down its 6 columns, then B^T along the 6 result rows
          func pixel(_ y: Int, _ u: Int) -> Float { y < 1 || y > h || u < 1 || u > w ? 0 : x[((ch * b + i) * h + y - 1) * w + u - 1] }
          for ty in 0..<wg.tileRows {
            for tx in 0..<wg.tileColumns {
              var t = [Float](repeating: 0, count: 36)
              for j in 0..<6 {
                let (y0, u) = (4 * ty, 4 * tx + j)
                let r = WinogradF4x3.bt(pixel(y0, u), pixel(y0 + 1, u), pixel(y0 + 2, u), pixel(y0 + 3, u), pixel(y0 + 4, u), pixel(y0 + 5, u))
                (t[j], t[6 + j], t[12 + j], t[18 + j], t[24 + j], t[30 + j]) = (r.0, r.1, r.2, r.3, r.4, r.5)
              }
              for r in 0..<6 {
                let q = WinogradF4x3.bt(t[6 * r], t[6 * r + 1], t[6 * r + 2], t[6 * r + 3], t[6 * r + 4], t[6 * r + 5])
                let expected = [q.0, q.1, q.2, q.3, q.4, q.5]
                for k in 0..<6 {
                  let got = v[(6 * r + k) * stride + ch * tiles + i * wg.tilesPerImage + ty * wg.tileColumns + tx]
                  XCTAssertEqual(got.bitPattern, expected[k].bitPattern, "\(h)x\(w) channel \(ch) image \(i) tile (\(ty), \(tx)) xi \(6 * r + k)")
                }
              }
            }
          }
        }
      }
    }
  }

  /// The output transform, a row of tiles at a time, gives bitwise the numbers of A^T M A + bias taken tile by tile
  /// with the same 1-D map (`at`, columns first), in Float32, for 1, 2 and 8 tiles a row.
  func testOutputTransformEqualsTileByTileBitwise() {
    for (c, b, h, w) in [(3, 2, 4, 4), (2, 1, 8, 8), (2, 2, 12, 32)] {
      let wg = WinogradF4x3(inChannels: 1, outChannels: c, height: h, width: w)
      var rng = SeededGenerator(seed: UInt64(h * 100 + w + 1))
      let tiles = b * wg.tilesPerImage, stride = WinogradF4x3.xiStride(c * tiles)
      let m = (0..<36 * stride).map { _ in Float(rng.normal()) }, bias = (0..<c).map { _ in Float(rng.normal()) }
      var y = [Float](repeating: .nan, count: c * b * h * w)
      m.withUnsafeBufferPointer { mp in
        bias.withUnsafeBufferPointer { bp in
          y.withUnsafeMutableBufferPointer { wg.transformOutput(mp.baseAddress!, bias: bp.baseAddress!, batch: b, 0, b, $0.baseAddress!) }
        }
      }
      for o in 0..<c {
        for i in 0..<b {
          for ty in 0..<wg.tileRows {
            for tx in 0..<wg.tileColumns {
              func e(_ xi: Int) -> Float { m[xi * stride + o * tiles + i * wg.tilesPerImage + ty * wg.tileColumns + tx] }
              let p = (0..<6).map { j in WinogradF4x3.at(e(j), e(6 + j), e(12 + j), e(18 + j), e(24 + j), e(30 + j)) }
              for r in 0..<4 {
                func pr(_ j: Int) -> Float { [p[j].0, p[j].1, p[j].2, p[j].3][r] }
                let q = WinogradF4x3.at(pr(0), pr(1), pr(2), pr(3), pr(4), pr(5))
                let expected = [q.0 + bias[o], q.1 + bias[o], q.2 + bias[o], q.3 + bias[o]]
                for k in 0..<4 {
                  let got = y[((o * b + i) * h + 4 * ty + r) * w + 4 * tx + k]
                  XCTAssertEqual(got.bitPattern, expected[k].bitPattern, "\(h)x\(w) channel \(o) image \(i) tile (\(ty), \(tx)) pixel (\(r), \(k))")
                }
              }
            }
          }
        }
      }
    }
  }

  /// The two adjoint transforms, a row of tiles at a time, give bitwise the numbers of the tile-by-tile definitions:
  /// dM = A dY A^T (`a`, columns first) and dx = the sum over patches of B dV B^T (`b`, columns first), the patches
  /// accumulated in row-major tile order (they overlap by two rows and columns), in Float32.
  func testAdjointTransformsEqualTileByTileBitwise() {
    for (c, b, h, w) in [(3, 2, 4, 4), (2, 1, 8, 8), (2, 2, 12, 32)] {
      let wg = WinogradF4x3(inChannels: c, outChannels: c, height: h, width: w)
      var rng = SeededGenerator(seed: UInt64(h * 100 + w + 2))
      let tiles = b * wg.tilesPerImage, stride = WinogradF4x3.xiStride(c * tiles), (th, tw) = (wg.tileRows, wg.tileColumns)
      let dy = (0..<c * b * h * w).map { _ in Float(rng.normal()) }, dv = (0..<36 * stride).map { _ in Float(rng.normal()) }
      var dm = [Float](repeating: .nan, count: 36 * stride), dx = [Float](repeating: .nan, count: c * b * h * w)
      dy.withUnsafeBufferPointer { p in dm.withUnsafeMutableBufferPointer { wg.transformOutputGradient(p.baseAddress!, batch: b, 0, b, $0.baseAddress!) } }
      dv.withUnsafeBufferPointer { p in dx.withUnsafeMutableBufferPointer { wg.transformInputGradient(p.baseAddress!, batch: b, 0, b, $0.baseAddress!) } }
      for ch in 0..<c {
        for i in 0..<b {
          var padded = [Float](repeating: 0, count: (h + 2) * (w + 2))
          for ty in 0..<th {
            for tx in 0..<tw {
              let tile = ch * tiles + i * wg.tilesPerImage + ty * tw + tx
              // dM of this tile from dY
              func g(_ r: Int, _ u: Int) -> Float { dy[((ch * b + i) * h + 4 * ty + r) * w + 4 * tx + u] }
              let cols = (0..<4).map { j in WinogradF4x3.a(g(0, j), g(1, j), g(2, j), g(3, j)) }
              for r in 0..<6 {
                func cr(_ j: Int) -> Float { [cols[j].0, cols[j].1, cols[j].2, cols[j].3, cols[j].4, cols[j].5][r] }
                let q = WinogradF4x3.a(cr(0), cr(1), cr(2), cr(3))
                for (k, e) in [q.0, q.1, q.2, q.3, q.4, q.5].enumerated() {
                  XCTAssertEqual(dm[(6 * r + k) * stride + tile].bitPattern, e.bitPattern, "dM \(h)x\(w) tile (\(ty), \(tx)) xi \(6 * r + k)")
                }
              }
              // B dV B^T of this tile into the padded dx
              func e(_ xi: Int) -> Float { dv[xi * stride + tile] }
              let rs = (0..<6).map { j in WinogradF4x3.b(e(j), e(6 + j), e(12 + j), e(18 + j), e(24 + j), e(30 + j)) }
              for k in 0..<6 {
                func rk(_ j: Int) -> Float { [rs[j].0, rs[j].1, rs[j].2, rs[j].3, rs[j].4, rs[j].5][k] }
                let q = WinogradF4x3.b(rk(0), rk(1), rk(2), rk(3), rk(4), rk(5))
                for (m, v) in [q.0, q.1, q.2, q.3, q.4, q.5].enumerated() { padded[(4 * ty + k) * (w + 2) + 4 * tx + m] += v }
              }
            }
          }
          for y in 0..<h {
            for u in 0..<w {
              XCTAssertEqual(dx[((ch * b + i) * h + y) * w + u].bitPattern, padded[(y + 1) * (w + 2) + u + 1].bitPattern, "dx \(h)x\(w) (\(y), \(u))")
            }
          }
        }
      }
    }
  }

  /// Float32 F(4x4, 3x3) against the Float64 direct convolution, on the widest layer shape of the cifar10 UNet
  /// (256 channels, 8 x 8): the largest error relative to the largest value, measured 9.2e-6 forward, 5.3e-6 dx,
  /// 3.1e-6 dtheta (F(2x2, 3x3): 7.2e-7, 5.0e-7, 2.3e-7), stays below 2e-5 (F(2x2, 3x3): 1e-6).
  func testF4x3Float32ErrorAgainstDirectConvolution() {
    let (cin, cout, b, h, w) = (256, 256, 1, 8, 8)
    let (conv, theta) = randomConv(cin, cout, seed: 3)
    var rng = SeededGenerator(seed: 7)
    let xd = FiniteDifferences.random(cin * b * h * w, &rng), dyd = FiniteDifferences.random(cout * b * h * w, &rng)
    let x64 = Activation<Double>(channels: cin, batch: b, height: h, width: w, data: xd)
    let dy64 = Activation<Double>(channels: cout, batch: b, height: h, width: w, data: dyd)
    let x32 = Activation<Float>(channels: cin, batch: b, height: h, width: w, data: xd.map { Float($0) })
    let dy32 = Activation<Float>(channels: cout, batch: b, height: h, width: w, data: dyd.map { Float($0) })
    let theta32 = theta.map { Float($0) }
    func relative(_ a: [Float], _ ref: [Double]) -> Double {
      let scale = ref.reduce(0.0) { max($0, abs($1)) }
      return zip(a, ref).reduce(0.0) { max($0, abs(Double($1.0) - $1.1)) } / scale
    }
    var g64 = [Double](repeating: 0, count: theta.count)
    let (y64, dx64) = theta.withUnsafeBufferPointer { p in
      (conv.im2colForward(x64, p.baseAddress!), g64.withUnsafeMutableBufferPointer { conv.im2colBackward(dy64, input: x64, p.baseAddress!, $0.baseAddress!) })
    }
    for (name, f4) in [("F(2x2, 3x3)", false), ("F(4x4, 3x3)", true)] {
      var g32 = [Float](repeating: 0, count: theta.count)
      let (y32, dx32) = theta32.withUnsafeBufferPointer { p in
        f4
          ? (conv.winogradForward(x32, p.baseAddress!, WinogradF4x3.self),
            g32.withUnsafeMutableBufferPointer { conv.winogradBackward(dy32, input: x32, p.baseAddress!, $0.baseAddress!, WinogradF4x3.self) })
          : (conv.winogradForward(x32, p.baseAddress!, WinogradF2x3.self),
            g32.withUnsafeMutableBufferPointer { conv.winogradBackward(dy32, input: x32, p.baseAddress!, $0.baseAddress!, WinogradF2x3.self) })
      }
      let errors = (relative(y32.data, y64.data), relative(dx32.data, dx64.data), relative(g32, g64))
      print(String(format: "%@ Float32 max error / max |value|: forward %.2e, dx %.2e, dtheta %.2e", name, errors.0, errors.1, errors.2))
      let bound = f4 ? 2e-5 : 1e-6
      XCTAssertLessThan(max(errors.0, errors.1, errors.2), bound, name)
    }
  }

  func testF4x3IsChosenForWholeTilesWhenSwitchedOn() {
    var layout = ParameterLayout()
    let conv = Conv2D(&layout, "a", 8, 8, kernel: 3, pad: 1)
    XCTAssertTrue(conv.usesF4x3(Activation<Float>(zeros: 8, batch: 1, height: 32, width: 32)))
    XCTAssertFalse(conv.usesF4x3(Activation<Float>(zeros: 8, batch: 1, height: 16, width: 16)))  // 16 tiles
    XCTAssertTrue(conv.usesF4x3(Activation<Float>(zeros: 8, batch: 2, height: 16, width: 16)))
    XCTAssertFalse(conv.usesF4x3(Activation<Float>(zeros: 8, batch: 4, height: 30, width: 32)))  // partial tiles
    XCTAssertEqual(conv.usesF4x3(Activation<Double>(zeros: 8, batch: 4, height: 32, width: 32)), KernelSwitches.winogradF4x3Float64)
  }

  /// A model's passes with the weight cache give bitwise the numbers of transforming per call; changing the
  /// parameters drops the cache (the next pass sees the new weights).
  func testWeightCacheGivesTheSameNumbersAndFollowsTheParameters() throws {
    var unet = try UNet2DModel<Float>.named("tiny")
    let c = unet.config, size = c.sampleSize!
    var rng = SeededGenerator(seed: 2)
    let b = 2
    let x = (0..<b * c.inChannels * size * size).map { _ in Float(rng.normal()) }
    let z = (0..<b * c.conditionDimension).map { _ in Float(rng.normal()) }
    let v = (0..<b * c.outChannels * size * size).map { _ in Float(rng.normal()) }
    func pass(_ m: UNet2DModel<Float>) throws -> UNetVJP<Float> {
      try m.vjp(x, batch: b, height: size, width: size, timesteps: [500], z: z, cotangent: v)
    }
    defer { KernelSwitches.cacheWinogradWeights = true }
    KernelSwitches.cacheWinogradWeights = false
    let uncached = try pass(unet)
    KernelSwitches.cacheWinogradWeights = true
    let cached = try pass(unet), again = try pass(unet)
    XCTAssertGreaterThan(unet.winogradCache.count, 0)
    XCTAssertEqual(cached.eps, uncached.eps)
    XCTAssertEqual(cached.x, uncached.x)
    XCTAssertEqual(cached.parameters, uncached.parameters)
    XCTAssertEqual(again.parameters, cached.parameters)
    let before = unet.winogradCache
    for i in 0..<unet.parameters.count { unet.parameters[i] *= 0.5 }
    XCTAssertFalse(unet.winogradCache === before)
    XCTAssertEqual(unet.winogradCache.count, 0)
    KernelSwitches.cacheWinogradWeights = false
    let changedUncached = try pass(unet)
    KernelSwitches.cacheWinogradWeights = true
    XCTAssertEqual(try pass(unet).eps, changedUncached.eps)
    XCTAssertNotEqual(changedUncached.eps, uncached.eps)
  }

  /// The profile's timers add up only while switched on, and see the convolutions of a pass.
  func testKernelProfileCountsOnlyWhenOn() throws {
    let unet = try UNet2DModel<Float>.named("tiny")
    let c = unet.config, size = c.sampleSize!
    let x = [Float](repeating: 0.1, count: c.inChannels * size * size), z = [Float](repeating: 0, count: c.conditionDimension)
    KernelProfile.reset(enabled: false)
    _ = try unet.forward(x, batch: 1, height: size, width: size, timesteps: [1], z: z)
    XCTAssertEqual(KernelProfile.snapshot().values.reduce(0, +), 0)
    KernelProfile.reset(enabled: true)
    defer { KernelProfile.reset(enabled: false) }
    _ = try unet.forward(x, batch: 1, height: size, width: size, timesteps: [1], z: z)
    let s = KernelProfile.snapshot()
    XCTAssertGreaterThan(s[.convForward]!, 0)
    XCTAssertGreaterThan(s[.groupNormForward]!, 0)
    XCTAssertEqual(s[.convDataGradient]!, 0)
  }
}
