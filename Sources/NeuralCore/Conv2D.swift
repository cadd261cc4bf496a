/// torch.nn.Conv2d (weight (C_out, C_in, k, k), bias) on channel-major activations, as one matrix product per
/// chunk of images: `Y (C_out x B H'W') = W (C_out x C_in k^2) col(X) (C_in k^2 x B H'W') + b` (im2col).
/// Padding may be asymmetric (diffusers' Downsample2D with padding 0 pads right and bottom by one).
/// A 1x1, stride-1, unpadded convolution skips im2col; with `linearShape` it is a torch.nn.Linear applied to
/// every pixel (weight (out, in)), as diffusers' attention projections are.
struct Conv2D: Sendable {
  let inChannels: Int
  let outChannels: Int
  let kernel: Int
  let stride: Int
  let padTop: Int, padLeft: Int, padBottom: Int, padRight: Int
  let weight: ParameterSlot
  let bias: ParameterSlot

  init(
    _ layout: inout ParameterLayout, _ prefix: String, _ inChannels: Int, _ outChannels: Int, kernel: Int,
    stride: Int = 1, padding: (top: Int, left: Int, bottom: Int, right: Int) = (0, 0, 0, 0), linearShape: Bool = false
  ) {
    self.inChannels = inChannels
    self.outChannels = outChannels
    self.kernel = kernel
    self.stride = stride
    (padTop, padLeft, padBottom, padRight) = padding
    let shape = linearShape ? [outChannels, inChannels] : [outChannels, inChannels, kernel, kernel]
    weight = layout.add(prefix + ".weight", shape)
    bias = layout.add(prefix + ".bias", [outChannels])
  }

  /// A k x k convolution with the same padding on every side.
  init(_ layout: inout ParameterLayout, _ prefix: String, _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, pad: Int) {
    self.init(&layout, prefix, inChannels, outChannels, kernel: kernel, stride: stride, padding: (pad, pad, pad, pad))
  }

  var isPointwise: Bool { kernel == 1 && stride == 1 && padTop == 0 && padLeft == 0 && padBottom == 0 && padRight == 0 }
  /// C_in k^2, the inner dimension of the product.
  var patchSize: Int { inChannels * kernel * kernel }

  func outputSize(_ h: Int, _ w: Int) -> (Int, Int) {
    ((h + padTop + padBottom - kernel) / stride + 1, (w + padLeft + padRight - kernel) / stride + 1)
  }

  /// FLOPs (2 per multiply-add) of one forward pass.
  func flops(batch: Int, height: Int, width: Int) -> Double {
    let (ho, wo) = outputSize(height, width)
    return 2 * Double(outChannels) * Double(patchSize) * Double(batch * ho * wo)
  }

  /// Images per im2col chunk, so that the column buffer stays near 8M numbers.
  private func chunk(batch: Int, outPixels: Int) -> Int {
    max(1, min(batch, (8 << 20) / max(1, patchSize * outPixels)))
  }

  func forward<S: BLASScalar>(_ x: Activation<S>, _ p: UnsafePointer<S>) -> Activation<S> {
    precondition(x.channels == inChannels, "conv input channels")  // invariant
    return usesWinograd(x) ? winogradForward(x, p) : im2colForward(x, p)
  }

  /// The forward pass as im2col + one product per chunk of images.
  func im2colForward<S: BLASScalar>(_ x: Activation<S>, _ p: UnsafePointer<S>) -> Activation<S> {
    let (ho, wo) = outputSize(x.height, x.width)
    let hw = ho * wo, ldc = x.batch * hw
    var y = [S](unsafeUninitializedCapacity: outChannels * ldc) { buf, n in
      for o in 0..<outChannels {
        let b = p[bias.offset + o]
        for j in 0..<ldc { buf[o * ldc + j] = b }
      }
      n = outChannels * ldc
    }
    x.data.withUnsafeBufferPointer { xp in
      y.withUnsafeMutableBufferPointer { yp in
        if isPointwise {
          KernelProfile.time(.convForward) {
            S.gemm(
              transA: false, transB: false, m: outChannels, n: ldc, k: inChannels, alpha: 1,
              p + weight.offset, lda: inChannels, xp.baseAddress!, ldb: ldc, beta: 1, yp.baseAddress!, ldc: ldc)
          }
          return
        }
        let nb = chunk(batch: x.batch, outPixels: hw)
        // every entry is written by im2col before it is read
        var col = [S](unsafeUninitializedCapacity: patchSize * nb * hw) { _, n in n = patchSize * nb * hw }
        col.withUnsafeMutableBufferPointer { cp in
          var b0 = 0
          while b0 < x.batch {
            let n = min(nb, x.batch - b0)
            KernelProfile.time(.im2col) { im2col(xp.baseAddress!, x, b0, n, ho, wo, cp.baseAddress!) }
            KernelProfile.time(.convForward) {
              S.gemm(
                transA: false, transB: false, m: outChannels, n: n * hw, k: patchSize, alpha: 1,
                p + weight.offset, lda: patchSize, cp.baseAddress!, ldb: n * hw, beta: 1, yp.baseAddress! + b0 * hw, ldc: ldc)
            }
            b0 += n
          }
        }
      }
    }
    return Activation(channels: outChannels, batch: x.batch, height: ho, width: wo, data: y)
  }

  /// `dX = W^T dY` (adjoint of the convolution); when g is given, `dW += dY X^T` and `db += sum dY`.
  func backward<S: BLASScalar>(
    _ dy: Activation<S>, input x: Activation<S>, _ p: UnsafePointer<S>, _ g: UnsafeMutablePointer<S>?
  ) -> Activation<S> {
    usesWinograd(x) ? winogradBackward(dy, input: x, p, g) : im2colBackward(dy, input: x, p, g)
  }

  /// `dX = col2im(W^T dY)`; when g is given, `dW += dY col(X)^T` and `db += sum dY`.
  func im2colBackward<S: BLASScalar>(
    _ dy: Activation<S>, input x: Activation<S>, _ p: UnsafePointer<S>, _ g: UnsafeMutablePointer<S>?
  ) -> Activation<S> {
    let ho = dy.height, wo = dy.width, hw = ho * wo, ld = dy.batch * hw
    var dx = [S](repeating: 0, count: x.count)
    dy.data.withUnsafeBufferPointer { dyp in
      let dyb = dyp.baseAddress!
      if let g {
        KernelProfile.time(.convWeightGradient) {
          for o in 0..<outChannels {
            g[bias.offset + o] += GroupNorm.sum(dyb + o * ld, ld)
          }
        }
      }
      x.data.withUnsafeBufferPointer { xp in
        dx.withUnsafeMutableBufferPointer { dxp in
          if isPointwise {
            KernelProfile.time(.convDataGradient) {
              S.gemm(
                transA: true, transB: false, m: inChannels, n: ld, k: outChannels, alpha: 1,
                p + weight.offset, lda: inChannels, dyb, ldb: ld, beta: 0, dxp.baseAddress!, ldc: ld)
            }
            if let g {
              KernelProfile.time(.convWeightGradient) {
                S.gemm(
                  transA: false, transB: true, m: outChannels, n: inChannels, k: ld, alpha: 1,
                  dyb, lda: ld, xp.baseAddress!, ldb: ld, beta: 1, g + weight.offset, ldc: inChannels)
              }
            }
            return
          }
          let nb = chunk(batch: x.batch, outPixels: hw)
          // written by im2col or by the product (beta 0) before it is read
          var col = [S](unsafeUninitializedCapacity: patchSize * nb * hw) { _, n in n = patchSize * nb * hw }
          col.withUnsafeMutableBufferPointer { cp in
            var b0 = 0
            while b0 < x.batch {
              let n = min(nb, x.batch - b0)
              if let g {
                KernelProfile.time(.im2col) { im2col(xp.baseAddress!, x, b0, n, ho, wo, cp.baseAddress!) }
                KernelProfile.time(.convWeightGradient) {
                  S.gemm(
                    transA: false, transB: true, m: outChannels, n: patchSize, k: n * hw, alpha: 1,
                    dyb + b0 * hw, lda: ld, cp.baseAddress!, ldb: n * hw, beta: 1, g + weight.offset, ldc: patchSize)
                }
              }
              KernelProfile.time(.convDataGradient) {
                S.gemm(
                  transA: true, transB: false, m: patchSize, n: n * hw, k: outChannels, alpha: 1,
                  p + weight.offset, lda: patchSize, dyb + b0 * hw, ldb: ld, beta: 0, cp.baseAddress!, ldc: n * hw)
              }
              KernelProfile.time(.im2col) { col2im(cp.baseAddress!, x, b0, n, ho, wo, dxp.baseAddress!) }
              b0 += n
            }
          }
        }
      }
    }
    return Activation(channels: inChannels, batch: x.batch, height: x.height, width: x.width, data: dx)
  }

  /// The output columns `[lo, hi)` whose input column `ox stride - padLeft + kx` lies in `[0, w)`.
  @inline(__always) private func columnRange(_ kx: Int, _ w: Int, _ wo: Int) -> (Int, Int) {
    let lo = max(0, (padLeft - kx + stride - 1) / stride)
    let last = w - 1 + padLeft - kx
    let hi = last < 0 ? 0 : min(wo, last / stride + 1)
    return (lo, max(lo, hi))
  }

  /// col[(c k + ky) k + kx][(i H' + oy) W' + ox] = x[c][b0 + i][oy s - padTop + ky][ox s - padLeft + kx] (zero outside).
  private func im2col<S: BLASScalar>(
    _ x: UnsafePointer<S>, _ shape: Activation<S>, _ b0: Int, _ n: Int, _ ho: Int, _ wo: Int, _ col: UnsafeMutablePointer<S>
  ) {
    let h = shape.height, w = shape.width, batch = shape.batch, ncols = n * ho * wo
    if isSameSizeStride1(h, w, ho, wo) {
      im2colSameSize(x, shape, b0, n, col)
      return
    }
    for c in 0..<inChannels {
      for ky in 0..<kernel {
        for kx in 0..<kernel {
          let row = col + ((c * kernel + ky) * kernel + kx) * ncols
          let (lo, hi) = columnRange(kx, w, wo)
          for i in 0..<n {
            let src = x + (c * batch + b0 + i) * h * w
            for oy in 0..<ho {
              let dst = row + (i * ho + oy) * wo
              let iy = oy * stride - padTop + ky
              if iy < 0 || iy >= h || hi <= lo {
                for ox in 0..<wo { dst[ox] = 0 }
                continue
              }
              let srow = src + iy * w - padLeft + kx
              for ox in 0..<lo { dst[ox] = 0 }
              if stride == 1 {
                for ox in lo..<hi { dst[ox] = srow[ox] }
              } else {
                for ox in lo..<hi { dst[ox] = srow[ox * stride] }
              }
              for ox in hi..<wo { dst[ox] = 0 }
            }
          }
        }
      }
    }
  }

  /// The adjoint of im2col: scatter-adds the columns back onto dx.
  private func col2im<S: BLASScalar>(
    _ col: UnsafeMutablePointer<S>, _ shape: Activation<S>, _ b0: Int, _ n: Int, _ ho: Int, _ wo: Int, _ dx: UnsafeMutablePointer<S>
  ) {
    let h = shape.height, w = shape.width, batch = shape.batch, ncols = n * ho * wo
    if isSameSizeStride1(h, w, ho, wo) {
      col2imSameSize(col, shape, b0, n, dx)
      return
    }
    for c in 0..<inChannels {
      for ky in 0..<kernel {
        for kx in 0..<kernel {
          let row = col + ((c * kernel + ky) * kernel + kx) * ncols
          let (lo, hi) = columnRange(kx, w, wo)
          if hi <= lo { continue }
          for i in 0..<n {
            let image = dx + (c * batch + b0 + i) * h * w
            for oy in 0..<ho {
              let iy = oy * stride - padTop + ky
              if iy < 0 || iy >= h { continue }
              let src = row + (i * ho + oy) * wo
              let drow = image + iy * w - padLeft + kx
              if stride == 1 {
                for ox in lo..<hi { drow[ox] += src[ox] }
              } else {
                for ox in lo..<hi { drow[ox * stride] += src[ox] }
              }
            }
          }
        }
      }
    }
  }

  // MARK: - stride 1, output the size of the input (3x3, padding 1): whole shifted planes at a time

  private func isSameSizeStride1(_ h: Int, _ w: Int, _ ho: Int, _ wo: Int) -> Bool {
    stride == 1 && ho == h && wo == w && kernel > 1
  }

  /// For tap (ky, kx) the column block of image i is the image shifted by (dy, dx) = (ky - padTop, kx - padLeft):
  /// one contiguous copy of the valid rows, then the wrapped-around boundary columns and the invalid rows zeroed.
  private func im2colSameSize<S: BLASScalar>(
    _ x: UnsafePointer<S>, _ shape: Activation<S>, _ b0: Int, _ n: Int, _ col: UnsafeMutablePointer<S>
  ) {
    let h = shape.height, w = shape.width, hw = h * w, batch = shape.batch, ncols = n * hw
    for c in 0..<inChannels {
      for ky in 0..<kernel {
        for kx in 0..<kernel {
          let row = col + ((c * kernel + ky) * kernel + kx) * ncols
          let dy = ky - padTop, dx = kx - padLeft
          let oy0 = max(0, -dy), oy1 = min(h, h - dy)
          for i in 0..<n {
            let src = x + (c * batch + b0 + i) * hw, dst = row + i * hw
            guard oy1 > oy0 else {
              dst.update(repeating: 0, count: hw)
              continue
            }
            dst.update(repeating: 0, count: oy0 * w)
            dst.advanced(by: oy1 * w).update(repeating: 0, count: (h - oy1) * w)
            // dst[j] = src[j + shift] for j in [oy0 w, oy1 w), clipped to the source plane
            let shift = dy * w + dx
            let j0 = max(oy0 * w, -shift), j1 = min(oy1 * w, hw - shift)
            if j0 > oy0 * w { dst.advanced(by: oy0 * w).update(repeating: 0, count: j0 - oy0 * w) }
            if j1 < oy1 * w { dst.advanced(by: j1).update(repeating: 0, count: oy1 * w - j1) }
            if j1 > j0 { dst.advanced(by: j0).update(from: src.advanced(by: j0 + shift), count: j1 - j0) }
            // columns whose source column ox + dx fell outside [0, w) wrapped to a neighbouring row
            if dx != 0 {
              let bad = dx > 0 ? max(0, w - dx)..<w : 0..<min(w, -dx)
              for oy in oy0..<oy1 { for ox in bad { dst[oy * w + ox] = 0 } }
            }
          }
        }
      }
    }
  }

  /// The adjoint of `im2colSameSize`: zero the column entries that have no source pixel (scratch memory), then add
  /// each shifted block back contiguously.
  private func col2imSameSize<S: BLASScalar>(
    _ col: UnsafeMutablePointer<S>, _ shape: Activation<S>, _ b0: Int, _ n: Int, _ dxBase: UnsafeMutablePointer<S>
  ) {
    let h = shape.height, w = shape.width, hw = h * w, batch = shape.batch, ncols = n * hw
    for c in 0..<inChannels {
      for ky in 0..<kernel {
        for kx in 0..<kernel {
          let row = col + ((c * kernel + ky) * kernel + kx) * ncols
          let dy = ky - padTop, dx = kx - padLeft
          let oy0 = max(0, -dy), oy1 = min(h, h - dy)
          guard oy1 > oy0 else { continue }
          let shift = dy * w + dx
          let j0 = max(oy0 * w, -shift), j1 = min(oy1 * w, hw - shift)
          guard j1 > j0 else { continue }
          for i in 0..<n {
            let src = row + i * hw, plane = dxBase + (c * batch + b0 + i) * hw
            if dx != 0 {
              let bad = dx > 0 ? max(0, w - dx)..<w : 0..<min(w, -dx)
              for oy in oy0..<oy1 { for ox in bad { src[oy * w + ox] = 0 } }
            }
            let out = plane + shift
            for j in j0..<j1 { out[j] += src[j] }
          }
        }
      }
    }
  }
}
