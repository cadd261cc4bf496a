/// Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks",
/// 2016) for a stride-1, padding-1, 3x3 convolution: the output is cut into 2x2 tiles, each computed from a 4x4
/// input patch d as `Y = A^T [(G g G^T) .* (B^T d B)] A`. Summed over input channels, the elementwise product is 16
/// matrix products `M_xi = U_xi V_xi` (C_out x C_in)(C_in x tiles), xi = 0..<16, which is 16 multiplies per tile
/// and channel pair where the direct convolution needs 36 (2.25x fewer). With
///
///     B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
///     A^T = [1 1 1 0; 0 1 -1 -1]
///
/// every coefficient is 0, +-1 or +-1/2, so the transforms add rounding of the order of a few ulp (Float64 stays
/// within 1e-10 of the direct convolution on the golden fixtures).
///
/// The reverse pass is the exact adjoint of these linear maps: `dM = A dY A^T` per tile, `dV = U^T dM`,
/// `dX = B dV B^T` scattered back onto the overlapping patches, and `dU = dM V^T`, `dW = G^T dU G`.
///
/// Buffers are laid out (xi, channel, tile) so that each `M_xi`, `U_xi`, `V_xi` is a row-major matrix; a tile index
/// runs over (image, tile row, tile column) of the images of one chunk.
struct WinogradF2x3: WinogradTiling {
  let inChannels: Int
  let outChannels: Int
  let height: Int
  let width: Int

  static var points: Int { 16 }
  static var cacheTag: Int { 0 }

  /// Tiles per image row and column (an odd size gets a partial last tile).
  var tileRows: Int { (height + 1) / 2 }
  var tileColumns: Int { (width + 1) / 2 }
  var tilesPerImage: Int { tileRows * tileColumns }
  /// The zero-padded plane the 4x4 patches are read from: one zero row/column before, enough after.
  var paddedWidth: Int { 2 * tileColumns + 2 }
  var paddedHeight: Int { 2 * tileRows + 2 }

  // MARK: - weights

  /// `U_xi = (G g G^T)_xi` for every (o, c): u[xi weightStride + o C_in + c], from torch's (C_out, C_in, 3, 3) weight.
  func transformWeights<S: BLASScalar>(_ w: UnsafePointer<S>, _ u: UnsafeMutablePointer<S>) {
    let plane = weightStride
    let half: S = 0.5
    ParallelRanges.forEach(outChannels, costPerItem: 25 * inChannels) { range in
      for o in range {
        // eight input channels at a time: the same operations on SIMD lanes (bitwise the scalar results)
        var c = 0
        while c + 8 <= inChannels {
          let g = w + (o * inChannels + c) * 9
          @inline(__always) func tap(_ j: Int) -> SIMD8<S> {
            SIMD8(g[j], g[9 + j], g[18 + j], g[27 + j], g[36 + j], g[45 + j], g[54 + j], g[63 + j])
          }
          let base = u + o * inChannels + c
          let h = SIMD8<S>(repeating: half)
          @inline(__always) func row(_ i: Int, _ x: SIMD8<S>, _ y: SIMD8<S>, _ z: SIMD8<S>) {
            UnsafeMutableRawPointer(base + (4 * i + 0) * plane).storeBytes(of: x, as: SIMD8<S>.self)
            UnsafeMutableRawPointer(base + (4 * i + 1) * plane).storeBytes(of: h * (x + y + z), as: SIMD8<S>.self)
            UnsafeMutableRawPointer(base + (4 * i + 2) * plane).storeBytes(of: h * (x - y + z), as: SIMD8<S>.self)
            UnsafeMutableRawPointer(base + (4 * i + 3) * plane).storeBytes(of: z, as: SIMD8<S>.self)
          }
          let g0 = tap(0)
          let g1 = tap(1)
          let g2 = tap(2)
          let g3 = tap(3)
          let g4 = tap(4)
          let g5 = tap(5)
          let g6 = tap(6)
          let g7 = tap(7)
          let g8 = tap(8)
          row(0, g0, g1, g2)
          row(1, h * (g0 + g3 + g6), h * (g1 + g4 + g7), h * (g2 + g5 + g8))
          row(2, h * (g0 - g3 + g6), h * (g1 - g4 + g7), h * (g2 - g5 + g8))
          row(3, g6, g7, g8)
          c += 8
        }
        for c in c..<inChannels {
          let g = w + (o * inChannels + c) * 9
          let base = u + o * inChannels + c
          // row i of G g, then that row times G^T
          @inline(__always) func row(_ i: Int, _ x: S, _ y: S, _ z: S) {
            base[(4 * i + 0) * plane] = x
            base[(4 * i + 1) * plane] = half * (x + y + z)
            base[(4 * i + 2) * plane] = half * (x - y + z)
            base[(4 * i + 3) * plane] = z
          }
          row(0, g[0], g[1], g[2])
          row(1, half * (g[0] + g[3] + g[6]), half * (g[1] + g[4] + g[7]), half * (g[2] + g[5] + g[8]))
          row(2, half * (g[0] - g[3] + g[6]), half * (g[1] - g[4] + g[7]), half * (g[2] - g[5] + g[8]))
          row(3, g[6], g[7], g[8])
        }
      }
    }
  }

  /// `dW += G^T dU G` for every (o, c), the adjoint of `transformWeights`.
  func accumulateWeightGradient<S: BLASScalar>(_ du: UnsafePointer<S>, _ dw: UnsafeMutablePointer<S>) {
    let plane = weightStride
    let half: S = 0.5
    ParallelRanges.forEach(outChannels, costPerItem: 25 * inChannels) { range in
      for o in range {
        for c in 0..<inChannels {
          let d = du + o * inChannels + c
          @inline(__always) func at(_ xi: Int) -> S { d[xi * plane] }
          let g = dw + (o * inChannels + c) * 9
          // column j of P = G^T dU (3 x 4), then row i of P G
          @inline(__always) func column(_ j: Int) -> (S, S, S) {
            let s = half * (at(4 + j) + at(8 + j))
            return (at(j) + s, half * (at(4 + j) - at(8 + j)), s + at(12 + j))
          }
          let (p00, p10, p20) = column(0)
          let (p01, p11, p21) = column(1)
          let (p02, p12, p22) = column(2)
          let (p03, p13, p23) = column(3)
          @inline(__always) func row(_ i: Int, _ q0: S, _ q1: S, _ q2: S, _ q3: S) {
            let s = half * (q1 + q2)
            g[3 * i] += q0 + s
            g[3 * i + 1] += half * (q1 - q2)
            g[3 * i + 2] += s + q3
          }
          row(0, p00, p01, p02, p03)
          row(1, p10, p11, p12, p13)
          row(2, p20, p21, p22, p23)
        }
      }
    }
  }

  // MARK: - activations

  /// `V_xi = (B^T d B)_xi` for the images `[b0, b0 + n)` of x (C_in, batch, H, W): v[xi stride + c T + t],
  /// T = n tilesPerImage, stride = xiStride(C_in T).
  func transformInput<S: BLASScalar>(_ x: UnsafePointer<S>, batch: Int, _ b0: Int, _ n: Int, _ v: UnsafeMutablePointer<S>) {
    let h = height
    let w = width
    let hw = h * w
    let th = tileRows
    let tw = tileColumns
    let pw = paddedWidth
    let tiles = n * tilesPerImage
    let stride = Self.xiStride(inChannels * tiles)
    ParallelRanges.forEach(inChannels, costPerItem: 20 * tiles) { range in
      // the zero-padded plane: its border stays zero, its interior is overwritten per image
      let padded = UnsafeMutablePointer<S>.allocate(capacity: paddedHeight * pw)
      defer { padded.deallocate() }
      padded.update(repeating: 0, count: paddedHeight * pw)
      for c in range {
        for i in 0..<n {
          let src = x + (c * batch + b0 + i) * hw
          for y in 0..<h { (padded + (y + 1) * pw + 1).update(from: src + y * w, count: w) }
          let out = v + c * tiles + i * tilesPerImage
          for ty in 0..<th {
            let r0 = padded + 2 * ty * pw
            let r1 = r0 + pw
            let r2 = r1 + pw
            let r3 = r2 + pw
            let o = out + ty * tw
            for tx in 0..<tw {
              let k = 2 * tx
              // B^T d: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3, each 4 wide
              let a0 = r0[k] - r2[k]
              let a1 = r0[k + 1] - r2[k + 1]
              let a2 = r0[k + 2] - r2[k + 2]
              let a3 = r0[k + 3] - r2[k + 3]
              let b0 = r1[k] + r2[k]
              let b1 = r1[k + 1] + r2[k + 1]
              let b2 = r1[k + 2] + r2[k + 2]
              let b3 = r1[k + 3] + r2[k + 3]
              let c0 = r2[k] - r1[k]
              let c1 = r2[k + 1] - r1[k + 1]
              let c2 = r2[k + 2] - r1[k + 2]
              let c3 = r2[k + 3] - r1[k + 3]
              let d0 = r1[k] - r3[k]
              let d1 = r1[k + 1] - r3[k + 1]
              let d2 = r1[k + 2] - r3[k + 2]
              let d3 = r1[k + 3] - r3[k + 3]
              // times B on the right: e0 - e2, e1 + e2, e2 - e1, e1 - e3
              o[0 * stride + tx] = a0 - a2
              o[1 * stride + tx] = a1 + a2
              o[2 * stride + tx] = a2 - a1
              o[3 * stride + tx] = a1 - a3
              o[4 * stride + tx] = b0 - b2
              o[5 * stride + tx] = b1 + b2
              o[6 * stride + tx] = b2 - b1
              o[7 * stride + tx] = b1 - b3
              o[8 * stride + tx] = c0 - c2
              o[9 * stride + tx] = c1 + c2
              o[10 * stride + tx] = c2 - c1
              o[11 * stride + tx] = c1 - c3
              o[12 * stride + tx] = d0 - d2
              o[13 * stride + tx] = d1 + d2
              o[14 * stride + tx] = d2 - d1
              o[15 * stride + tx] = d1 - d3
            }
          }
        }
      }
    }
  }

  /// `Y = A^T M A + bias` written into y (C_out, batch, H, W) for the images `[b0, b0 + n)`; m[xi stride + o T + t], stride = xiStride(C_out T).
  func transformOutput<S: BLASScalar>(
    _ m: UnsafePointer<S>, bias: UnsafePointer<S>, batch: Int, _ b0: Int, _ n: Int, _ y: UnsafeMutablePointer<S>
  ) {
    let h = height
    let w = width
    let hw = h * w
    let th = tileRows
    let tw = tileColumns
    let tiles = n * tilesPerImage
    let stride = Self.xiStride(outChannels * tiles)
    let evenW = w % 2 == 0
    ParallelRanges.forEach(outChannels, costPerItem: 20 * tiles) { range in
      for o in range {
        let beta = bias[o]
        for i in 0..<n {
          let dst = y + (o * batch + b0 + i) * hw
          let src = m + o * tiles + i * tilesPerImage
          for ty in 0..<th {
            let s = src + ty * tw
            let y0 = dst + 2 * ty * w
            let hasSecondRow = 2 * ty + 1 < h
            for tx in 0..<tw {
              @inline(__always) func e(_ xi: Int) -> S { s[xi * stride + tx] }
              // A^T M: rows m0 + m1 + m2, m1 - m2 - m3
              let p0 = e(0) + e(4) + e(8)
              let p1 = e(1) + e(5) + e(9)
              let p2 = e(2) + e(6) + e(10)
              let p3 = e(3) + e(7) + e(11)
              let q0 = e(4) - e(8) - e(12)
              let q1 = e(5) - e(9) - e(13)
              let q2 = e(6) - e(10) - e(14)
              let q3 = e(7) - e(11) - e(15)
              let x0 = 2 * tx
              if evenW || x0 + 1 < w {
                y0[x0] = p0 + p1 + p2 + beta
                y0[x0 + 1] = p1 - p2 - p3 + beta
                if hasSecondRow {
                  y0[w + x0] = q0 + q1 + q2 + beta
                  y0[w + x0 + 1] = q1 - q2 - q3 + beta
                }
              } else {
                y0[x0] = p0 + p1 + p2 + beta
                if hasSecondRow { y0[w + x0] = q0 + q1 + q2 + beta }
              }
            }
          }
        }
      }
    }
  }

  /// `dM = A dY A^T` per tile (the adjoint of `transformOutput`), from dy (C_out, batch, H, W): dm[xi stride + o T + t], stride = xiStride(C_out T).
  func transformOutputGradient<S: BLASScalar>(
    _ dy: UnsafePointer<S>, batch: Int, _ b0: Int, _ n: Int, _ dm: UnsafeMutablePointer<S>
  ) {
    let h = height
    let w = width
    let hw = h * w
    let th = tileRows
    let tw = tileColumns
    let tiles = n * tilesPerImage
    let stride = Self.xiStride(outChannels * tiles)
    ParallelRanges.forEach(outChannels, costPerItem: 20 * tiles) { range in
      for o in range {
        for i in 0..<n {
          let src = dy + (o * batch + b0 + i) * hw
          let dst = dm + o * tiles + i * tilesPerImage
          for ty in 0..<th {
            let d = dst + ty * tw
            let row0 = src + 2 * ty * w
            let hasSecondRow = 2 * ty + 1 < h
            for tx in 0..<tw {
              let x0 = 2 * tx
              let hasSecondColumn = x0 + 1 < w
              let g00 = row0[x0]
              let g01 = hasSecondColumn ? row0[x0 + 1] : 0
              let g10 = hasSecondRow ? row0[w + x0] : 0
              let g11 = hasSecondRow && hasSecondColumn ? row0[w + x0 + 1] : 0
              // A dY: rows g0, g0 + g1, g0 - g1, -g1 (each 2 wide); then each row (a, b) times A^T: a, a + b, a - b, -b
              @inline(__always) func put(_ i: Int, _ a: S, _ b: S) {
                d[(4 * i) * stride + tx] = a
                d[(4 * i + 1) * stride + tx] = a + b
                d[(4 * i + 2) * stride + tx] = a - b
                d[(4 * i + 3) * stride + tx] = -b
              }
              put(0, g00, g01)
              put(1, g00 + g10, g01 + g11)
              put(2, g00 - g10, g01 - g11)
              put(3, -g10, -g11)
            }
          }
        }
      }
    }
  }

  /// `dX = B dV B^T` summed over the overlapping patches (the adjoint of `transformInput`), written (not added)
  /// into dx (C_in, batch, H, W) for the images `[b0, b0 + n)`.
  func transformInputGradient<S: BLASScalar>(
    _ dv: UnsafePointer<S>, batch: Int, _ b0: Int, _ n: Int, _ dx: UnsafeMutablePointer<S>
  ) {
    let h = height
    let w = width
    let hw = h * w
    let th = tileRows
    let tw = tileColumns
    let pw = paddedWidth
    let tiles = n * tilesPerImage
    let stride = Self.xiStride(inChannels * tiles)
    ParallelRanges.forEach(inChannels, costPerItem: 24 * tiles) { range in
      let padded = UnsafeMutablePointer<S>.allocate(capacity: paddedHeight * pw)
      defer { padded.deallocate() }
      for c in range {
        for i in 0..<n {
          padded.update(repeating: 0, count: paddedHeight * pw)
          let src = dv + c * tiles + i * tilesPerImage
          for ty in 0..<th {
            let r0 = padded + 2 * ty * pw
            let r1 = r0 + pw
            let r2 = r1 + pw
            let r3 = r2 + pw
            let s = src + ty * tw
            for tx in 0..<tw {
              @inline(__always) func e(_ xi: Int) -> S { s[xi * stride + tx] }
              // B dV: rows v0, v1 - v2 + v3, -v0 + v1 + v2, -v3 (4 wide); each row (e0..e3) times B^T the same way
              let k = 2 * tx
              @inline(__always) func add(_ r: UnsafeMutablePointer<S>, _ e0: S, _ e1: S, _ e2: S, _ e3: S) {
                r[k] += e0
                r[k + 1] += e1 - e2 + e3
                r[k + 2] += -e0 + e1 + e2
                r[k + 3] -= e3
              }
              let v00 = e(0)
              let v01 = e(1)
              let v02 = e(2)
              let v03 = e(3)
              let v10 = e(4)
              let v11 = e(5)
              let v12 = e(6)
              let v13 = e(7)
              let v20 = e(8)
              let v21 = e(9)
              let v22 = e(10)
              let v23 = e(11)
              let v30 = e(12)
              let v31 = e(13)
              let v32 = e(14)
              let v33 = e(15)
              add(r0, v00, v01, v02, v03)
              add(r1, v10 - v20 + v30, v11 - v21 + v31, v12 - v22 + v32, v13 - v23 + v33)
              add(r2, -v00 + v10 + v20, -v01 + v11 + v21, -v02 + v12 + v22, -v03 + v13 + v23)
              add(r3, -v30, -v31, -v32, -v33)
            }
          }
          let out = dx + (c * batch + b0 + i) * hw
          for y in 0..<h { (out + y * w).update(from: padded + (y + 1) * pw + 1, count: w) }
        }
      }
    }
  }
}
