/// Winograd F(4x4, 3x3) (Lavin & Gray 2016, interpolation points 0, +-1, +-2, infinity) for a stride-1, padding-1
/// 3x3 convolution on images whose height and width are multiples of 4: 4x4 output tiles from 6x6 input patches,
/// `Y = A^T [(G g G^T) .* (B^T d B)] A`, 36 matrix products `M_xi = U_xi V_xi` doing 36 multiplies per tile and
/// channel pair where the direct convolution does 144 (4x fewer; F(2x2, 3x3) saves 2.25x). With
///
///     B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
///     G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
///     A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
///
/// the coefficients reach 8 and 1/6 is inexact, so the result carries more rounding than F(2x2, 3x3): on a
/// 256-channel layer in Float32, 9.2e-6 of the largest output against the direct convolution where F(2x2, 3x3)
/// has 7.2e-7 (WinogradF4x3Tests); in Float64 it agrees with im2col to 1e-12. Float64 keeps F(2x2, 3x3) unless
/// `KernelSwitches.winogradF4x3Float64` is set. The reverse pass is the exact adjoint, as in `WinogradF2x3`; buffers are laid out the same way,
/// (xi, channel, tile).
struct WinogradF4x3: WinogradTiling {
  let inChannels: Int
  let outChannels: Int
  let height: Int
  let width: Int

  static var points: Int { 36 }
  static var cacheTag: Int { 1 }
  /// Whole 4x4 tiles only.
  static func applies(height: Int, width: Int) -> Bool { height % 4 == 0 && width % 4 == 0 }

  var tileRows: Int { height / 4 }
  var tileColumns: Int { width / 4 }
  var tilesPerImage: Int { tileRows * tileColumns }
  var paddedWidth: Int { width + 2 }
  var paddedHeight: Int { height + 2 }

  // MARK: - the 1-D maps

  /// B^T u.
  @inline(__always) static func bt<S: BLASScalar>(_ u0: S, _ u1: S, _ u2: S, _ u3: S, _ u4: S, _ u5: S) -> (S, S, S, S, S, S) {
    (4 * u0 - 5 * u2 + u4, -4 * (u1 + u2) + u3 + u4, 4 * (u1 - u2) - u3 + u4, 2 * (u3 - u1) - u2 + u4, 2 * (u1 - u3) - u2 + u4, 4 * u1 - 5 * u3 + u5)
  }
  /// B u (the adjoint of `bt`).
  @inline(__always) static func b<S: BLASScalar>(_ u0: S, _ u1: S, _ u2: S, _ u3: S, _ u4: S, _ u5: S) -> (S, S, S, S, S, S) {
    (4 * u0, 4 * (u2 - u1 + u5) + 2 * (u4 - u3), -5 * u0 - 4 * (u1 + u2) - u3 - u4, u1 - u2 + 2 * (u3 - u4) - 5 * u5, u0 + u1 + u2 + u3 + u4, u5)
  }
  /// G u (6 from 3).
  @inline(__always) static func g<S: BLASScalar>(_ a: S, _ b: S, _ c: S) -> (S, S, S, S, S, S) {
    let s = -(a + c) / 6, t = b / 6, p = a / 24 + c / 6, q = b / 12
    return (a / 4, s - t, s + t, p + q, p - q, c)
  }
  /// G^T u (3 from 6, the adjoint of `g`).
  @inline(__always) static func gt<S: BLASScalar>(_ u0: S, _ u1: S, _ u2: S, _ u3: S, _ u4: S, _ u5: S) -> (S, S, S) {
    let s = (u1 + u2) / 6, d = (u3 + u4)
    return (u0 / 4 - s + d / 24, (u2 - u1) / 6 + (u3 - u4) / 12, -s + d / 6 + u5)
  }
  /// A^T u (4 from 6).
  @inline(__always) static func at<S: BLASScalar>(_ u0: S, _ u1: S, _ u2: S, _ u3: S, _ u4: S, _ u5: S) -> (S, S, S, S) {
    let s = u1 + u2, d = u1 - u2, s34 = u3 + u4, d34 = u3 - u4
    return (u0 + s + s34, d + 2 * d34, s + 4 * s34, d + 8 * d34 + u5)
  }
  /// A u (6 from 4, the adjoint of `at`).
  @inline(__always) static func a<S: BLASScalar>(_ y0: S, _ y1: S, _ y2: S, _ y3: S) -> (S, S, S, S, S, S) {
    let e = y0 + y2, o = y1 + y3, e4 = y0 + 4 * y2, o8 = 2 * y1 + 8 * y3
    return (y0, e + o, e - o, e4 + o8, e4 - o8, y3)
  }

  // MARK: - weights

  func transformWeights<S: BLASScalar>(_ w: UnsafePointer<S>, _ u: UnsafeMutablePointer<S>) {
    let plane = weightStride
    ParallelRanges.forEach(outChannels, costPerItem: 120 * inChannels) { range in
      for o in range {
        for c in 0..<inChannels {
          let k = w + (o * inChannels + c) * 9, base = u + o * inChannels + c
          // columns of G g (6 x 3), then each row times G^T
          let c0 = Self.g(k[0], k[3], k[6]), c1 = Self.g(k[1], k[4], k[7]), c2 = Self.g(k[2], k[5], k[8])
          @inline(__always) func row(_ r: Int, _ x: S, _ y: S, _ z: S) {
            let v = Self.g(x, y, z)
            base[(6 * r) * plane] = v.0
            base[(6 * r + 1) * plane] = v.1
            base[(6 * r + 2) * plane] = v.2
            base[(6 * r + 3) * plane] = v.3
            base[(6 * r + 4) * plane] = v.4
            base[(6 * r + 5) * plane] = v.5
          }
          row(0, c0.0, c1.0, c2.0)
          row(1, c0.1, c1.1, c2.1)
          row(2, c0.2, c1.2, c2.2)
          row(3, c0.3, c1.3, c2.3)
          row(4, c0.4, c1.4, c2.4)
          row(5, c0.5, c1.5, c2.5)
        }
      }
    }
  }

  func accumulateWeightGradient<S: BLASScalar>(_ du: UnsafePointer<S>, _ dw: UnsafeMutablePointer<S>) {
    let plane = weightStride
    ParallelRanges.forEach(outChannels, costPerItem: 120 * inChannels) { range in
      for o in range {
        for c in 0..<inChannels {
          let d = du + o * inChannels + c, k = dw + (o * inChannels + c) * 9
          // P = G^T dU (3 x 6) column by column, then dW row i += G^T (row i of P)
          @inline(__always) func column(_ j: Int) -> (S, S, S) {
            Self.gt(d[j * plane], d[(6 + j) * plane], d[(12 + j) * plane], d[(18 + j) * plane], d[(24 + j) * plane], d[(30 + j) * plane])
          }
          let p0 = column(0), p1 = column(1), p2 = column(2), p3 = column(3), p4 = column(4), p5 = column(5)
          let r0 = Self.gt(p0.0, p1.0, p2.0, p3.0, p4.0, p5.0)
          let r1 = Self.gt(p0.1, p1.1, p2.1, p3.1, p4.1, p5.1)
          let r2 = Self.gt(p0.2, p1.2, p2.2, p3.2, p4.2, p5.2)
          k[0] += r0.0; k[1] += r0.1; k[2] += r0.2
          k[3] += r1.0; k[4] += r1.1; k[5] += r1.2
          k[6] += r2.0; k[7] += r2.1; k[8] += r2.2
        }
      }
    }
  }

  // MARK: - activations

  func transformInput<S: BLASScalar>(_ x: UnsafePointer<S>, batch: Int, _ b0: Int, _ n: Int, _ v: UnsafeMutablePointer<S>) {
    let h = height, w = width, hw = h * w, th = tileRows, tw = tileColumns, pw = paddedWidth
    let tiles = n * tilesPerImage, stride = Self.xiStride(inChannels * tiles)
    ParallelRanges.forEach(inChannels, costPerItem: 40 * tiles) { range in
      let padded = UnsafeMutablePointer<S>.allocate(capacity: paddedHeight * pw + 36)
      defer { padded.deallocate() }
      padded.update(repeating: 0, count: paddedHeight * pw)
      let t = padded + paddedHeight * pw  // B^T d of one patch, 6 x 6
      for c in range {
        for i in 0..<n {
          let src = x + (c * batch + b0 + i) * hw
          for y in 0..<h { (padded + (y + 1) * pw + 1).update(from: src + y * w, count: w) }
          let out = v + c * tiles + i * tilesPerImage
          for ty in 0..<th {
            let o = out + ty * tw
            for tx in 0..<tw {
              let d = padded + 4 * ty * pw + 4 * tx
              for j in 0..<6 {
                let r = Self.bt(d[j], d[pw + j], d[2 * pw + j], d[3 * pw + j], d[4 * pw + j], d[5 * pw + j])
                t[j] = r.0; t[6 + j] = r.1; t[12 + j] = r.2; t[18 + j] = r.3; t[24 + j] = r.4; t[30 + j] = r.5
              }
              for r in 0..<6 {
                let e = t + 6 * r
                let q = Self.bt(e[0], e[1], e[2], e[3], e[4], e[5])
                let dst = o + 6 * r * stride + tx
                dst[0] = q.0; dst[stride] = q.1; dst[2 * stride] = q.2; dst[3 * stride] = q.3; dst[4 * stride] = q.4; dst[5 * stride] = q.5
              }
            }
          }
        }
      }
    }
  }

  func transformOutput<S: BLASScalar>(
    _ m: UnsafePointer<S>, bias: UnsafePointer<S>, batch: Int, _ b0: Int, _ n: Int, _ y: UnsafeMutablePointer<S>
  ) {
    let h = height, w = width, hw = h * w, th = tileRows, tw = tileColumns
    let tiles = n * tilesPerImage, stride = Self.xiStride(outChannels * tiles)
    ParallelRanges.forEach(outChannels, costPerItem: 40 * tiles) { range in
      for o in range {
        let beta = bias[o]
        for i in 0..<n {
          let dst = y + (o * batch + b0 + i) * hw
          let src = m + o * tiles + i * tilesPerImage
          for ty in 0..<th {
            let s = src + ty * tw
            for tx in 0..<tw {
              @inline(__always) func e(_ xi: Int) -> S { s[xi * stride + tx] }
              // A^T M (4 x 6) column by column, then each of its rows times A
              @inline(__always) func column(_ j: Int) -> (S, S, S, S) { Self.at(e(j), e(6 + j), e(12 + j), e(18 + j), e(24 + j), e(30 + j)) }
              let p0 = column(0), p1 = column(1), p2 = column(2), p3 = column(3), p4 = column(4), p5 = column(5)
              let base = dst + 4 * ty * w + 4 * tx
              @inline(__always) func put(_ r: Int, _ q: (S, S, S, S)) {
                let row = base + r * w
                row[0] = q.0 + beta; row[1] = q.1 + beta; row[2] = q.2 + beta; row[3] = q.3 + beta
              }
              put(0, Self.at(p0.0, p1.0, p2.0, p3.0, p4.0, p5.0))
              put(1, Self.at(p0.1, p1.1, p2.1, p3.1, p4.1, p5.1))
              put(2, Self.at(p0.2, p1.2, p2.2, p3.2, p4.2, p5.2))
              put(3, Self.at(p0.3, p1.3, p2.3, p3.3, p4.3, p5.3))
            }
          }
        }
      }
    }
  }

  func transformOutputGradient<S: BLASScalar>(_ dy: UnsafePointer<S>, batch: Int, _ b0: Int, _ n: Int, _ dm: UnsafeMutablePointer<S>) {
    let h = height, w = width, hw = h * w, th = tileRows, tw = tileColumns
    let tiles = n * tilesPerImage, stride = Self.xiStride(outChannels * tiles)
    ParallelRanges.forEach(outChannels, costPerItem: 40 * tiles) { range in
      for o in range {
        for i in 0..<n {
          let src = dy + (o * batch + b0 + i) * hw
          let dst = dm + o * tiles + i * tilesPerImage
          for ty in 0..<th {
            let d = dst + ty * tw
            for tx in 0..<tw {
              let g = src + 4 * ty * w + 4 * tx
              // A dY (6 x 4) column by column, then each of its rows times A^T
              @inline(__always) func column(_ j: Int) -> (S, S, S, S, S, S) { Self.a(g[j], g[w + j], g[2 * w + j], g[3 * w + j]) }
              let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3)
              @inline(__always) func put(_ r: Int, _ q: (S, S, S, S, S, S)) {
                let p = d + 6 * r * stride + tx
                p[0] = q.0; p[stride] = q.1; p[2 * stride] = q.2; p[3 * stride] = q.3; p[4 * stride] = q.4; p[5 * stride] = q.5
              }
              put(0, Self.a(c0.0, c1.0, c2.0, c3.0))
              put(1, Self.a(c0.1, c1.1, c2.1, c3.1))
              put(2, Self.a(c0.2, c1.2, c2.2, c3.2))
              put(3, Self.a(c0.3, c1.3, c2.3, c3.3))
              put(4, Self.a(c0.4, c1.4, c2.4, c3.4))
              put(5, Self.a(c0.5, c1.5, c2.5, c3.5))
            }
          }
        }
      }
    }
  }

  func transformInputGradient<S: BLASScalar>(_ dv: UnsafePointer<S>, batch: Int, _ b0: Int, _ n: Int, _ dx: UnsafeMutablePointer<S>) {
    let h = height, w = width, hw = h * w, th = tileRows, tw = tileColumns, pw = paddedWidth
    let tiles = n * tilesPerImage, stride = Self.xiStride(inChannels * tiles)
    ParallelRanges.forEach(inChannels, costPerItem: 48 * tiles) { range in
      let padded = UnsafeMutablePointer<S>.allocate(capacity: paddedHeight * pw + 36)
      defer { padded.deallocate() }
      let t = padded + paddedHeight * pw  // B dV of one tile, 6 x 6
      for c in range {
        for i in 0..<n {
          padded.update(repeating: 0, count: paddedHeight * pw)
          let src = dv + c * tiles + i * tilesPerImage
          for ty in 0..<th {
            let s = src + ty * tw
            for tx in 0..<tw {
              for j in 0..<6 {
                let e = s + j * stride + tx
                let r = Self.b(e[0], e[6 * stride], e[12 * stride], e[18 * stride], e[24 * stride], e[30 * stride])
                t[j] = r.0; t[6 + j] = r.1; t[12 + j] = r.2; t[18 + j] = r.3; t[24 + j] = r.4; t[30 + j] = r.5
              }
              let d = padded + 4 * ty * pw + 4 * tx
              for r in 0..<6 {
                let e = t + 6 * r
                let q = Self.b(e[0], e[1], e[2], e[3], e[4], e[5])
                let row = d + r * pw
                row[0] += q.0; row[1] += q.1; row[2] += q.2; row[3] += q.3; row[4] += q.4; row[5] += q.5
              }
            }
          }
          let out = dx + (c * batch + b0 + i) * hw
          for y in 0..<h { (out + y * w).update(from: padded + (y + 1) * pw + 1, count: w) }
        }
      }
    }
  }
}
