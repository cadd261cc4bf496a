/// The 3x3, stride-1, padding-1 convolutions through Winograd: F(4x4, 3x3) (`WinogradF4x3`, 36 products 4x
/// smaller than the direct one) where `usesF4x3` allows, else F(2x2, 3x3) (`WinogradF2x3`, 16 products 2.25x
/// smaller); forward and both adjoints, and no im2col copies.
extension Conv2D {
  /// Whether the Winograd path applies to this layer: 3x3, stride 1, padding 1 on every side, and channel counts
  /// wide enough for the 16 products to beat one im2col product (conv_in/conv_out on 1-3 channels do not).
  var usesWinograd: Bool {
    kernel == 3 && stride == 1 && padTop == 1 && padLeft == 1 && padBottom == 1 && padRight == 1
      && min(inChannels, outChannels) >= Self.winogradMinimumChannels
  }

  /// Whether `forward`/`backward` take it for this input: with fewer than 16 tiles (a 4 x 4 image at batch 1) the
  /// 16 products are too narrow and read 16/9 as many weights as the im2col product, which then wins.
  func usesWinograd<S: BLASScalar>(_ x: Activation<S>) -> Bool {
    usesWinograd && x.batch * ((x.height + 1) / 2) * ((x.width + 1) / 2) >= Self.winogradMinimumTiles
  }

  static var winogradMinimumChannels: Int { 8 }
  static var winogradMinimumTiles: Int { 16 }
  /// F(4x4, 3x3) needs this many 4x4 tiles: it reads 4x the weights per product where F(2x2, 3x3) reads 16/9x, so
  /// on few tiles the products are bound by the weights and the smaller tiles win.
  static var f4x3MinimumTiles: Int { 32 }

  /// Whether this input takes F(4x4, 3x3): switched on for its precision (`KernelSwitches`), whole 4x4 tiles,
  /// and enough of them.
  func usesF4x3<S: BLASScalar>(_ x: Activation<S>) -> Bool {
    let on = S.self == Float.self ? KernelSwitches.winogradF4x3Float32 : KernelSwitches.winogradF4x3Float64
    return on && WinogradF4x3.applies(height: x.height, width: x.width) && x.batch * (x.height / 4) * (x.width / 4) >= Self.f4x3MinimumTiles
  }

  func winogradForward<S: BLASScalar>(_ x: Activation<S>, _ p: UnsafePointer<S>) -> Activation<S> {
    usesF4x3(x) ? winogradForward(x, p, WinogradF4x3.self) : winogradForward(x, p, WinogradF2x3.self)
  }

  func winogradBackward<S: BLASScalar>(
    _ dy: Activation<S>, input x: Activation<S>, _ p: UnsafePointer<S>, _ g: UnsafeMutablePointer<S>?
  ) -> Activation<S> {
    usesF4x3(x) ? winogradBackward(dy, input: x, p, g, WinogradF4x3.self) : winogradBackward(dy, input: x, p, g, WinogradF2x3.self)
  }

  /// U for this layer's weights: from the model's cache when a pass bound one, else transformed into `scratch`.
  private func transformedWeights<S: BLASScalar, W: WinogradTiling>(
    _ wg: W, _ p: UnsafePointer<S>, _ cache: WinogradWeightCache?, into scratch: UnsafeMutablePointer<S>
  ) -> UnsafePointer<S> {
    let fill = { (u: UnsafeMutablePointer<S>) in KernelProfile.time(.winogradWeights) { wg.transformWeights(p + weight.offset, u) } }
    guard let cache else {
      fill(scratch)
      return UnsafePointer(scratch)
    }
    return cache.transformed(key: 2 * weight.offset + W.cacheTag, count: W.points * wg.weightStride, fill)
  }

  func winogradForward<S: BLASScalar, W: WinogradTiling>(_ x: Activation<S>, _ p: UnsafePointer<S>, _: W.Type) -> Activation<S> {
    let wg = W(inChannels: inChannels, outChannels: outChannels, height: x.height, width: x.width)
    let points = W.points
    let batch = x.batch, nb = wg.chunk(batch: batch), tmax = nb * wg.tilesPerImage
    let uStride = wg.weightStride, uCount = points * uStride
    let vCount = points * W.xiStride(inChannels * tmax), mCount = points * W.xiStride(outChannels * tmax)
    // every output entry is written by the output transform
    var y = [S](unsafeUninitializedCapacity: outChannels * x.columns) { _, n in n = outChannels * x.columns }
    let cache = KernelSwitches.cacheWinogradWeights ? WinogradWeightCache.current : nil
    let ownU = cache == nil ? uCount : 0
    let scratch = UnsafeMutablePointer<S>.allocate(capacity: ownU + vCount + mCount)
    defer { scratch.deallocate() }
    let u = transformedWeights(wg, p, cache, into: scratch), v = scratch + ownU, m = v + vCount
    x.data.withUnsafeBufferPointer { xp in
      y.withUnsafeMutableBufferPointer { yp in
        var b0 = 0
        while b0 < batch {
          let n = min(nb, batch - b0), tiles = n * wg.tilesPerImage
          let vs = W.xiStride(inChannels * tiles), ms = W.xiStride(outChannels * tiles)
          KernelProfile.time(.winogradTransforms) { wg.transformInput(xp.baseAddress!, batch: batch, b0, n, v) }
          KernelProfile.time(.convForward) {
            for xi in 0..<points {
              S.gemm(
                transA: false, transB: false, m: outChannels, n: tiles, k: inChannels, alpha: 1,
                u + xi * uStride, lda: inChannels, v + xi * vs, ldb: tiles,
                beta: 0, m + xi * ms, ldc: tiles)
            }
          }
          KernelProfile.time(.winogradTransforms) { wg.transformOutput(m, bias: p + bias.offset, batch: batch, b0, n, yp.baseAddress!) }
          b0 += n
        }
      }
    }
    return Activation(channels: outChannels, batch: batch, height: x.height, width: x.width, data: y)
  }

  /// `dX` through the transposed Winograd maps; with g, `dW += G^T (sum_t dM V^T) G` and `db += sum dY`.
  func winogradBackward<S: BLASScalar, W: WinogradTiling>(
    _ dy: Activation<S>, input x: Activation<S>, _ p: UnsafePointer<S>, _ g: UnsafeMutablePointer<S>?, _: W.Type
  ) -> Activation<S> {
    let wg = W(inChannels: inChannels, outChannels: outChannels, height: x.height, width: x.width)
    let points = W.points
    let batch = x.batch, nb = wg.chunk(batch: batch), tmax = nb * wg.tilesPerImage, ld = dy.columns
    let uStride = wg.weightStride, uCount = points * uStride
    let vCount = points * W.xiStride(inChannels * tmax), mCount = points * W.xiStride(outChannels * tmax)
    let duCount = g == nil ? 0 : uCount
    // every dx entry is written by the input-gradient transform
    var dx = [S](unsafeUninitializedCapacity: x.count) { _, n in n = x.count }
    let cache = KernelSwitches.cacheWinogradWeights ? WinogradWeightCache.current : nil
    let ownU = cache == nil ? uCount : 0
    let scratch = UnsafeMutablePointer<S>.allocate(capacity: ownU + vCount + mCount + duCount)
    defer { scratch.deallocate() }
    let u = transformedWeights(wg, p, cache, into: scratch), v = scratch + ownU, dm = v + vCount, du = dm + mCount
    dy.data.withUnsafeBufferPointer { dyp in
      let dyb = dyp.baseAddress!
      if let g {
        KernelProfile.time(.convWeightGradient) {
          for o in 0..<outChannels { g[bias.offset + o] += GroupNorm.sum(dyb + o * ld, ld) }
        }
      }
      x.data.withUnsafeBufferPointer { xp in
        dx.withUnsafeMutableBufferPointer { dxp in
          var b0 = 0
          while b0 < batch {
            let n = min(nb, batch - b0), tiles = n * wg.tilesPerImage
            let vs = W.xiStride(inChannels * tiles), ms = W.xiStride(outChannels * tiles)
            KernelProfile.time(.winogradTransforms) { wg.transformOutputGradient(dyb, batch: batch, b0, n, dm) }
            if g != nil {
              // dU_xi (+)= dM_xi V_xi^T, the first chunk initialising the sum
              KernelProfile.time(.winogradTransforms) { wg.transformInput(xp.baseAddress!, batch: batch, b0, n, v) }
              KernelProfile.time(.convWeightGradient) {
                WinogradProducts.each(points) { xi in
                  S.gemm(
                    transA: false, transB: true, m: outChannels, n: inChannels, k: tiles, alpha: 1,
                    dm + xi * ms, lda: tiles, v + xi * vs, ldb: tiles,
                    beta: b0 == 0 ? 0 : 1, du + xi * uStride, ldc: inChannels)
                }
              }
            }
            // dV_xi = U_xi^T dM_xi, overwriting V
            KernelProfile.time(.convDataGradient) {
              WinogradProducts.each(points) { xi in
                S.gemm(
                  transA: true, transB: false, m: inChannels, n: tiles, k: outChannels, alpha: 1,
                  u + xi * uStride, lda: inChannels, dm + xi * ms, ldb: tiles,
                  beta: 0, v + xi * vs, ldc: tiles)
              }
            }
            KernelProfile.time(.winogradTransforms) { wg.transformInputGradient(v, batch: batch, b0, n, dxp.baseAddress!) }
            b0 += n
          }
        }
      }
    }
    if let g { KernelProfile.time(.winogradWeights) { wg.accumulateWeightGradient(du, g + weight.offset) } }
    return Activation(channels: inChannels, batch: batch, height: x.height, width: x.width, data: dx)
  }
}

/// The independent products of a Winograd convolution's reverse pass, one per point xi. Where the layer itself runs
/// on several threads (a batch too small to slice, e.g. batch 1), they are dealt out to the threads, each running
/// whole products on single-threaded OpenBLAS, instead of every small product (128 x 64 x 128 at batch 1 on 32 x 32)
/// being split over the threads; inside a batch slice (one thread) they run in order. Measured with `bench ab
/// --variant split-products` on the quiet machine at batch 1 (5 rounds): with the forward's products dealt out too,
/// forward + VJP 0.92x (0.84-1.11) but the forward alone 1.12x (1.07-1.21), so the forward keeps OpenBLAS's
/// threading; reverse pass only, forward + VJP 0.95x (0.88-1.05). Batch 8 (sliced) is unaffected (0.99x). Float32
/// values agree to rounding (OpenBLAS's single- and multi-threaded sgemm round differently: 9e-6 relative on a
/// cifar10-layout gradient); Float64's are bitwise the same.
enum WinogradProducts {
  static func each(_ points: Int, _ product: (Int) -> Void) {
    let threads = ParallelRanges.threads
    guard KernelSwitches.splitWinogradProducts, threads > 1 else {
      for xi in 0..<points { product(xi) }
      return
    }
    _ = BatchParallel.map(threads) { k in
      for xi in stride(from: k, to: points, by: threads) { product(xi) }
    }
  }
}
