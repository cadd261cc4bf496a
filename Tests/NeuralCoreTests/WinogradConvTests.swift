import DiffusionCore
import XCTest

@testable import NeuralCore

/// The Winograd F(2x2, 3x3) path of Conv2D against the im2col path (an independent computation of the same
/// convolution: one product with the explicit patch matrix) and against central finite differences, in Float64,
/// on odd and even image sizes (partial tiles) and with batch chunks.
final class WinogradConvTests: XCTestCase {
  /// |a_i - b_i| <= tolerance max(1, |b_i|) for every i.
  private func assertNear(_ a: [Double], _ b: [Double], tolerance: Double, _ what: String, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, what, line: line)
    FiniteDifferences.assertClose(a, Dictionary(uniqueKeysWithValues: b.enumerated().map { ($0.offset, $0.element) }), tolerance: tolerance, what, line: line)
  }

  private func randomConv(_ cin: Int, _ cout: Int, seed: UInt64) -> (Conv2D, [Double]) {
    var layout = ParameterLayout()
    let conv = Conv2D(&layout, "c", cin, cout, kernel: 3, pad: 1)
    var rng = SeededGenerator(seed: seed)
    return (conv, FiniteDifferences.random(layout.total, &rng))
  }

  func testWinogradIsTakenOnlyForWideStride1Padding1Kernels() {
    var layout = ParameterLayout()
    XCTAssertTrue(Conv2D(&layout, "a", 8, 8, kernel: 3, pad: 1).usesWinograd)
    XCTAssertFalse(Conv2D(&layout, "b", 3, 8, kernel: 3, pad: 1).usesWinograd)  // conv_in on 3 channels
    XCTAssertFalse(Conv2D(&layout, "c", 8, 8, kernel: 3, stride: 2, pad: 1).usesWinograd)
    XCTAssertFalse(Conv2D(&layout, "d", 8, 8, kernel: 1).usesWinograd)
    XCTAssertFalse(Conv2D(&layout, "e", 8, 8, kernel: 3, padding: (0, 0, 1, 1)).usesWinograd)
    // and only for inputs of at least 16 tiles
    let conv = Conv2D(&layout, "f", 8, 8, kernel: 3, pad: 1)
    XCTAssertFalse(conv.usesWinograd(Activation<Float>(zeros: 8, batch: 1, height: 4, width: 4)))
    XCTAssertTrue(conv.usesWinograd(Activation<Float>(zeros: 8, batch: 4, height: 4, width: 4)))
    XCTAssertTrue(conv.usesWinograd(Activation<Float>(zeros: 8, batch: 1, height: 8, width: 7)))
  }

  /// On two threads, the reverse pass's products dealt out to the threads (`WinogradProducts`) give bitwise the
  /// Float64 dx and parameter gradients of each product threaded by OpenBLAS, for both tilings.
  func testReverseProductsDealtOutToThreadsGiveTheSameFloat64Numbers() {
    let (threads, split) = (ParallelRanges.threads, KernelSwitches.splitWinogradProducts)
    ParallelRanges.threads = 2
    defer { (ParallelRanges.threads, KernelSwitches.splitWinogradProducts) = (threads, split) }
    let (conv, theta) = randomConv(24, 20, seed: 9)
    var rng = SeededGenerator(seed: 4)
    let x = Activation<Double>(channels: 24, batch: 1, height: 16, width: 16, data: FiniteDifferences.random(24 * 256, &rng))
    let dy = Activation<Double>(channels: 20, batch: 1, height: 16, width: 16, data: FiniteDifferences.random(20 * 256, &rng))
    func backward<W: WinogradTiling>(_ tiling: W.Type, split: Bool) -> ([Double], [Double]) {
      KernelSwitches.splitWinogradProducts = split
      var g = [Double](repeating: 0.25, count: theta.count)
      let dx = theta.withUnsafeBufferPointer { p in
        g.withUnsafeMutableBufferPointer { conv.winogradBackward(dy, input: x, p.baseAddress!, $0.baseAddress!, W.self) }
      }
      return (dx.data, g)
    }
    for tiling in [WinogradF2x3.self, WinogradF4x3.self] as [any WinogradTiling.Type] {
      func both<W: WinogradTiling>(_ w: W.Type) {
        let (a, b) = (backward(w, split: true), backward(w, split: false))
        XCTAssertEqual(a.0, b.0, "dx \(w)")
        XCTAssertEqual(a.1, b.1, "dtheta \(w)")
      }
      both(tiling)
    }
  }

  /// Forward, input gradient, weight and bias gradients agree with im2col to 1e-12 relative.
  /// The last shape is large enough for the transforms to split their channels over two threads.
  func testWinogradMatchesIm2colInFloat64() {
    let threads = ParallelRanges.threads
    ParallelRanges.threads = 2
    defer { ParallelRanges.threads = threads }
    for (cin, cout, b, h, w) in [(8, 9, 3, 5, 7), (10, 8, 2, 6, 4), (8, 8, 1, 1, 1), (9, 12, 2, 2, 3), (32, 40, 4, 16, 15)] {
      let (conv, theta) = randomConv(cin, cout, seed: UInt64(cin * 100 + h * 10 + w))
      XCTAssertTrue(conv.usesWinograd)
      var rng = SeededGenerator(seed: 5)
      let x = Activation<Double>(channels: cin, batch: b, height: h, width: w, data: FiniteDifferences.random(cin * b * h * w, &rng))
      let dy = Activation<Double>(channels: cout, batch: b, height: h, width: w, data: FiniteDifferences.random(cout * b * h * w, &rng))
      let (yW, yI) = theta.withUnsafeBufferPointer { (conv.winogradForward(x, $0.baseAddress!), conv.im2colForward(x, $0.baseAddress!)) }
      assertNear(yW.data, yI.data, tolerance: 1e-12, "forward \(cin)x\(cout) \(h)x\(w)")
      var gW = [Double](repeating: 0.5, count: theta.count), gI = gW
      let dxW = theta.withUnsafeBufferPointer { p in
        gW.withUnsafeMutableBufferPointer { conv.winogradBackward(dy, input: x, p.baseAddress!, $0.baseAddress!) }
      }
      let dxI = theta.withUnsafeBufferPointer { p in
        gI.withUnsafeMutableBufferPointer { conv.im2colBackward(dy, input: x, p.baseAddress!, $0.baseAddress!) }
      }
      assertNear(dxW.data, dxI.data, tolerance: 1e-12, "dx \(cin)x\(cout) \(h)x\(w)")
      assertNear(gW, gI, tolerance: 1e-12, "dtheta \(cin)x\(cout) \(h)x\(w)")
      let dxOnly = theta.withUnsafeBufferPointer { conv.winogradBackward(dy, input: x, $0.baseAddress!, nil) }
      XCTAssertEqual(dxOnly.data, dxW.data)
    }
  }

  /// Float32 Winograd agrees with the Float64 convolution to Float32 rounding (1e-5 relative).
  func testWinogradFloat32AgreesWithFloat64() {
    let (conv, theta) = randomConv(16, 16, seed: 9)
    var rng = SeededGenerator(seed: 6)
    let data = FiniteDifferences.random(16 * 2 * 8 * 8, &rng)
    let x64 = Activation<Double>(channels: 16, batch: 2, height: 8, width: 8, data: data)
    let x32 = Activation<Float>(channels: 16, batch: 2, height: 8, width: 8, data: data.map { Float($0) })
    let y64 = theta.withUnsafeBufferPointer { conv.im2colForward(x64, $0.baseAddress!) }
    let theta32 = theta.map { Float($0) }
    let y32 = theta32.withUnsafeBufferPointer { conv.winogradForward(x32, $0.baseAddress!) }
    assertNear(y32.data.map { Double($0) }, y64.data, tolerance: 1e-5, "float32 forward")
  }

  /// Central finite differences of the Winograd path itself (h = 1e-5), every input and parameter coordinate.
  func testWinogradGradientsAgainstFiniteDifferences() {
    let (conv, theta) = randomConv(8, 8, seed: 4)
    var rng = SeededGenerator(seed: 8)
    let (b, h, w) = (1, 3, 4)
    let x = FiniteDifferences.random(8 * b * h * w, &rng)
    let v = FiniteDifferences.random(8 * b * h * w, &rng)
    func act(_ d: [Double], _ c: Int) -> Activation<Double> { Activation(channels: c, batch: b, height: h, width: w, data: d) }
    func loss(_ xs: [Double], _ ts: [Double]) -> Double {
      ts.withUnsafeBufferPointer { FiniteDifferences.dot(v, conv.winogradForward(act(xs, 8), $0.baseAddress!).data) }
    }
    var g = [Double](repeating: 0, count: theta.count)
    let dx = theta.withUnsafeBufferPointer { p in
      g.withUnsafeMutableBufferPointer { conv.winogradBackward(act(v, 8), input: act(x, 8), p.baseAddress!, $0.baseAddress!) }
    }
    FiniteDifferences.assertClose(dx.data, FiniteDifferences.gradient(x) { loss($0, theta) }, tolerance: 1e-7, "winograd dx")
    FiniteDifferences.assertClose(g, FiniteDifferences.gradient(theta) { loss(x, $0) }, tolerance: 1e-7, "winograd dtheta")
  }
}
