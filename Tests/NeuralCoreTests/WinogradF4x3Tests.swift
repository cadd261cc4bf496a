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
