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

  /// V = B^T d B for every 6x6 patch, a row of tiles at a time: B^T down the columns of the row's six padded image
  /// rows at once (contiguous along x), then B^T along each result row for all its tiles together, from the row split
  /// by x mod 4 (`e[4 tx + j]` is phase j mod 4 at tx + j / 4), so that both passes run along contiguous memory and
  /// the stores of one xi are contiguous in tx. The same operations per element as patch by patch.
  func transformInput<S: BLASScalar>(_ x: UnsafePointer<S>, batch: Int, _ b0: Int, _ n: Int, _ v: UnsafeMutablePointer<S>) {
    let h = height, w = width, hw = h * w, th = tileRows, tw = tileColumns, pw = paddedWidth
    let tiles = n * tilesPerImage, stride = Self.xiStride(inChannels * tiles)
    ParallelRanges.forEach(inChannels, costPerItem: 40 * tiles) { range in
      let phaseLength = tw + 1
      let scratch = UnsafeMutablePointer<S>.allocate(capacity: paddedHeight * pw + 6 * pw + 4 * phaseLength)
      defer { scratch.deallocate() }
      let padded = scratch, columns = scratch + paddedHeight * pw, phases = columns + 6 * pw
      padded.update(repeating: 0, count: paddedHeight * pw)
      let (p0, p1, p2, p3) = (phases, phases + phaseLength, phases + 2 * phaseLength, phases + 3 * phaseLength)
      for c in range {
        for i in 0..<n {
          let src = x + (c * batch + b0 + i) * hw
          for y in 0..<h { (padded + (y + 1) * pw + 1).update(from: src + y * w, count: w) }
          let out = v + c * tiles + i * tilesPerImage
          for ty in 0..<th {
            let d = padded + 4 * ty * pw
            for u in 0..<pw {
              let r = Self.bt(d[u], d[pw + u], d[2 * pw + u], d[3 * pw + u], d[4 * pw + u], d[5 * pw + u])
              columns[u] = r.0; columns[pw + u] = r.1; columns[2 * pw + u] = r.2
              columns[3 * pw + u] = r.3; columns[4 * pw + u] = r.4; columns[5 * pw + u] = r.5
            }
            for r in 0..<6 {
              let e = columns + r * pw
              for k in 0..<tw {
                p0[k] = e[4 * k]; p1[k] = e[4 * k + 1]; p2[k] = e[4 * k + 2]; p3[k] = e[4 * k + 3]
              }
              p0[tw] = e[4 * tw]; p1[tw] = e[4 * tw + 1]
              let dst = out + ty * tw + 6 * r * stride
              for tx in 0..<tw {
                let q = Self.bt(p0[tx], p1[tx], p2[tx], p3[tx], p0[tx + 1], p1[tx + 1])
                dst[tx] = q.0; dst[stride + tx] = q.1; dst[2 * stride + tx] = q.2
                dst[3 * stride + tx] = q.3; dst[4 * stride + tx] = q.4; dst[5 * stride + tx] = q.5
              }
            }
          }
        }
      }
    }
  }

  /// Y = A^T M A + bias for every tile, a row of tiles at a time: A^T down the six columns of all the row's M's
  /// (contiguous in tx), then A^T along their rows, the four pixels of each tile gathered from four phase rows. The
  /// same operations per element as tile by tile.
  func transformOutput<S: BLASScalar>(
    _ m: UnsafePointer<S>, bias: UnsafePointer<S>, batch: Int, _ b0: Int, _ n: Int, _ y: UnsafeMutablePointer<S>
  ) {
    let h = height, w = width, hw = h * w, th = tileRows, tw = tileColumns
    let tiles = n * tilesPerImage, stride = Self.xiStride(outChannels * tiles)
    ParallelRanges.forEach(outChannels, costPerItem: 40 * tiles) { range in
      let scratch = UnsafeMutablePointer<S>.allocate(capacity: 28 * tw)
      defer { scratch.deallocate() }
      let columns = scratch, phases = scratch + 24 * tw  // columns[(6 r + j) tw + tx] = (A^T M)[r][j] of tile tx
      for o in range {
        let beta = bias[o]
        for i in 0..<n {
          let dst = y + (o * batch + b0 + i) * hw
          let src = m + o * tiles + i * tilesPerImage
          for ty in 0..<th {
            let s = src + ty * tw
            for j in 0..<6 {
              for tx in 0..<tw {
                let p = Self.at(s[j * stride + tx], s[(6 + j) * stride + tx], s[(12 + j) * stride + tx], s[(18 + j) * stride + tx],
                                s[(24 + j) * stride + tx], s[(30 + j) * stride + tx])
                columns[j * tw + tx] = p.0; columns[(6 + j) * tw + tx] = p.1; columns[(12 + j) * tw + tx] = p.2; columns[(18 + j) * tw + tx] = p.3
              }
            }
            for r in 0..<4 {
              let q = columns + 6 * r * tw
              for tx in 0..<tw {
                let v = Self.at(q[tx], q[tw + tx], q[2 * tw + tx], q[3 * tw + tx], q[4 * tw + tx], q[5 * tw + tx])
                phases[tx] = v.0 + beta; phases[tw + tx] = v.1 + beta; phases[2 * tw + tx] = v.2 + beta; phases[3 * tw + tx] = v.3 + beta
              }
              let row = dst + (4 * ty + r) * w
              for tx in 0..<tw {
                row[4 * tx] = phases[tx]; row[4 * tx + 1] = phases[tw + tx]; row[4 * tx + 2] = phases[2 * tw + tx]; row[4 * tx + 3] = phases[3 * tw + tx]
              }
            }
          }
        }
      }
    }
  }

  /// dM = A dY A^T for every tile (the adjoint of `transformOutput`), a row of tiles at a time: A down the columns of
  /// the row's four image rows (contiguous along x), then A along each result row for all tiles together, from the
  /// row split by x mod 4. The same operations per element as tile by tile.
  func transformOutputGradient<S: BLASScalar>(_ dy: UnsafePointer<S>, batch: Int, _ b0: Int, _ n: Int, _ dm: UnsafeMutablePointer<S>) {
    let h = height, w = width, hw = h * w, th = tileRows, tw = tileColumns
    let tiles = n * tilesPerImage, stride = Self.xiStride(outChannels * tiles)
    ParallelRanges.forEach(outChannels, costPerItem: 40 * tiles) { range in
      let scratch = UnsafeMutablePointer<S>.allocate(capacity: 6 * w + 4 * tw)
      defer { scratch.deallocate() }
      let columns = scratch, phases = scratch + 6 * w
      let (p0, p1, p2, p3) = (phases, phases + tw, phases + 2 * tw, phases + 3 * tw)
      for o in range {
        for i in 0..<n {
          let src = dy + (o * batch + b0 + i) * hw
          let dst = dm + o * tiles + i * tilesPerImage
          for ty in 0..<th {
            let g = src + 4 * ty * w
            for u in 0..<w {
              let c = Self.a(g[u], g[w + u], g[2 * w + u], g[3 * w + u])
              columns[u] = c.0; columns[w + u] = c.1; columns[2 * w + u] = c.2
              columns[3 * w + u] = c.3; columns[4 * w + u] = c.4; columns[5 * w + u] = c.5
            }
            for r in 0..<6 {
              let e = columns + r * w
              for k in 0..<tw { p0[k] = e[4 * k]; p1[k] = e[4 * k + 1]; p2[k] = e[4 * k + 2]; p3[k] = e[4 * k + 3] }
              let d = dst + ty * tw + 6 * r * stride
              for tx in 0..<tw {
                let q = Self.a(p0[tx], p1[tx], p2[tx], p3[tx])
                d[tx] = q.0; d[stride + tx] = q.1; d[2 * stride + tx] = q.2
                d[3 * stride + tx] = q.3; d[4 * stride + tx] = q.4; d[5 * stride + tx] = q.5
              }
            }
          }
        }
      }
    }
  }

  /// dx from dV (the adjoint of `transformInput`): B dV B^T of every tile accumulated into the padded image, a row of
  /// tiles at a time, each 1-D pass for all the row's tiles together (contiguous in tx). Neighbouring patches overlap
  /// by two columns, so a row's columns 4 tx + 4, 4 tx + 5 take tile tx's share before tile tx + 1's, as tile by tile:
  /// the same operations in the same order per element.
  func transformInputGradient<S: BLASScalar>(_ dv: UnsafePointer<S>, batch: Int, _ b0: Int, _ n: Int, _ dx: UnsafeMutablePointer<S>) {
    let h = height, w = width, hw = h * w, th = tileRows, tw = tileColumns, pw = paddedWidth
    let tiles = n * tilesPerImage, stride = Self.xiStride(inChannels * tiles)
    ParallelRanges.forEach(inChannels, costPerItem: 48 * tiles) { range in
      let scratch = UnsafeMutablePointer<S>.allocate(capacity: paddedHeight * pw + 42 * tw)
      defer { scratch.deallocate() }
      // columns[(6 k + j) tw + tx]: row k, column j of B dV of tile tx; shares[m tw + tx]: column m of one row of B dV B^T
      let padded = scratch, columns = scratch + paddedHeight * pw, shares = columns + 36 * tw
      for c in range {
        for i in 0..<n {
          padded.update(repeating: 0, count: paddedHeight * pw)
          let src = dv + c * tiles + i * tilesPerImage
          for ty in 0..<th {
            let s = src + ty * tw
            for j in 0..<6 {
              for tx in 0..<tw {
                let r = Self.b(s[j * stride + tx], s[(6 + j) * stride + tx], s[(12 + j) * stride + tx], s[(18 + j) * stride + tx],
                               s[(24 + j) * stride + tx], s[(30 + j) * stride + tx])
                columns[j * tw + tx] = r.0; columns[(6 + j) * tw + tx] = r.1; columns[(12 + j) * tw + tx] = r.2
                columns[(18 + j) * tw + tx] = r.3; columns[(24 + j) * tw + tx] = r.4; columns[(30 + j) * tw + tx] = r.5
              }
            }
            for k in 0..<6 {
              let t = columns + 6 * k * tw
              for tx in 0..<tw {
                let q = Self.b(t[tx], t[tw + tx], t[2 * tw + tx], t[3 * tw + tx], t[4 * tw + tx], t[5 * tw + tx])
                shares[tx] = q.0; shares[tw + tx] = q.1; shares[2 * tw + tx] = q.2
                shares[3 * tw + tx] = q.3; shares[4 * tw + tx] = q.4; shares[5 * tw + tx] = q.5
              }
              let row = padded + (4 * ty + k) * pw
              @inline(__always) func add(_ m: Int) {
                let share = shares + m * tw
                for tx in 0..<tw { row[4 * tx + m] += share[tx] }
              }
              add(4); add(5)  // the overlap's earlier tile first
              add(0); add(1); add(2); add(3)
            }
          }
          let out = dx + (c * batch + b0 + i) * hw
          for y in 0..<h { (out + y * w).update(from: padded + (y + 1) * pw + 1, count: w) }
        }
      }
    }
  }
}
