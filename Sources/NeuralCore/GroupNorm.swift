/// torch.nn.GroupNorm (affine): per image and group of C/G channels,
/// `y = (x - mean) / sqrt(var + eps) * gamma_c + beta_c`, var biased.
struct GroupNorm: Sendable {
  let groups: Int
  let channels: Int
  let eps: Double
  let weight: ParameterSlot
  let bias: ParameterSlot

  init(_ layout: inout ParameterLayout, _ prefix: String, groups: Int, channels: Int, eps: Double) {
    self.groups = groups
    self.channels = channels
    self.eps = eps
    weight = layout.add(prefix + ".weight", [channels])
    bias = layout.add(prefix + ".bias", [channels])
  }

  /// The saved statistics: mean and 1/sqrt(var + eps) for each (image, group), interleaved.
  struct Statistics: Sendable {
    var values: [Double]
  }

  func forward<S: BLASScalar>(_ x: Activation<S>, _ p: UnsafePointer<S>) -> (Activation<S>, Statistics) {
    KernelProfile.time(.groupNormForward) { forwardPass(x, p) }
  }

  /// The forward pass; with `silu`, silu(y) is written instead of y (`forwardSiLU`).
  func forwardPass<S: BLASScalar>(_ x: Activation<S>, _ p: UnsafePointer<S>, silu: Bool = false) -> (Activation<S>, Statistics) {
    precondition(x.channels == channels, "group norm channels")  // invariant
    let cpg = channels / groups, hw = x.pixels, batch = x.batch
    var stats = [Double](repeating: 0, count: 2 * batch * groups)
    var y = [S](unsafeUninitializedCapacity: x.count) { _, n in n = x.count }  // every entry written below
    x.data.withUnsafeBufferPointer { xp in
      y.withUnsafeMutableBufferPointer { yp in
        stats.withUnsafeMutableBufferPointer { stats in
          ParallelRanges.forEach(batch * groups, costPerItem: (silu ? 8 : 3) * cpg * hw) { range in
            let scratch = silu ? UnsafeMutablePointer<S>.allocate(capacity: hw) : nil
            defer { scratch?.deallocate() }
            for k in range {
              let b = k / groups, g = k % groups
              // two passes: the mean, then the centred second moment
              var sum: S = 0
              for c in g * cpg..<(g + 1) * cpg {
                sum += Self.sum(xp.baseAddress! + (c * batch + b) * hw, hw)
              }
              let n = S(cpg * hw)
              let mean = sum / n
              var sq: S = 0
              for c in g * cpg..<(g + 1) * cpg {
                sq += Self.centredSquares(xp.baseAddress! + (c * batch + b) * hw, hw, mean)
              }
              let rstd = 1 / (sq / n + S(eps)).squareRoot()
              stats[2 * (b * groups + g)] = Double(mean)
              stats[2 * (b * groups + g) + 1] = Double(rstd)
              for c in g * cpg..<(g + 1) * cpg {
                let a = rstd * p[weight.offset + c], shift = p[bias.offset + c] - mean * a
                let base = (c * batch + b) * hw
                for i in base..<base + hw { yp[i] = xp[i] * a + shift }
                if let scratch { SiLU.applyInPlace(yp.baseAddress! + base, hw, scratch) }
              }
            }
          }
        }
      }
    }
    return (Activation(channels: x.channels, batch: batch, height: x.height, width: x.width, data: y), Statistics(values: stats))
  }

  /// The forward output again from its input and saved statistics (bitwise the same numbers: the same scale and
  /// shift per channel), so that a tape can keep x instead of both x and y.
  func recompute<S: BLASScalar>(_ x: Activation<S>, _ stats: Statistics, _ p: UnsafePointer<S>) -> Activation<S> {
    KernelProfile.time(.groupNormForward) { recomputePass(x, stats, p) }
  }

  private func recomputePass<S: BLASScalar>(_ x: Activation<S>, _ stats: Statistics, _ p: UnsafePointer<S>) -> Activation<S> {
    let cpg = channels / groups, hw = x.pixels, batch = x.batch
    var y = [S](unsafeUninitializedCapacity: x.count) { _, n in n = x.count }  // every entry written below
    x.data.withUnsafeBufferPointer { xp in
      y.withUnsafeMutableBufferPointer { yp in
        ParallelRanges.forEach(batch * groups, costPerItem: cpg * hw) { range in
          for k in range {
            let b = k / groups, g = k % groups
            let mean = S(stats.values[2 * k]), rstd = S(stats.values[2 * k + 1])
            for c in g * cpg..<(g + 1) * cpg {
              let a = rstd * p[weight.offset + c], shift = p[bias.offset + c] - mean * a
              let base = (c * batch + b) * hw
              for i in base..<base + hw { yp[i] = xp[i] * a + shift }
            }
          }
        }
      }
    }
    return Activation(channels: x.channels, batch: batch, height: x.height, width: x.width, data: y)
  }

  /// `dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat))` with `dxhat = dy gamma`;
  /// when g is given, `dgamma_c += sum dy xhat`, `dbeta_c += sum dy`.
  func backward<S: BLASScalar>(
    _ dy: Activation<S>, input x: Activation<S>, _ stats: Statistics, _ p: UnsafePointer<S>, _ g: UnsafeMutablePointer<S>?
  ) -> Activation<S> {
    KernelProfile.time(.groupNormBackward) { backwardPass(dy, input: x, stats, p, g) }
  }

  /// The reverse pass; with `silu`, `dy` is the adjoint of silu(y) (`backwardSiLU`): each channel plane of y is
  /// recomputed as `recompute` has it and SiLU's adjoint applied into dx first, which then serves as dy in place.
  func backwardPass<S: BLASScalar>(
    _ dy: Activation<S>, input x: Activation<S>, _ stats: Statistics, _ p: UnsafePointer<S>, _ g: UnsafeMutablePointer<S>?,
    silu: Bool = false
  ) -> Activation<S> {
    let cpg = channels / groups, hw = x.pixels, batch = x.batch
    var dx = [S](unsafeUninitializedCapacity: x.count) { _, n in n = x.count }  // every entry written below
    x.data.withUnsafeBufferPointer { xp in
      dy.data.withUnsafeBufferPointer { dyp in
        dx.withUnsafeMutableBufferPointer { dxp in
          // parallel over groups (disjoint channels, so disjoint parameter gradients); images in order within
          ParallelRanges.forEach(groups, costPerItem: (silu ? 8 : 3) * batch * cpg * hw) { range in
            let normed = silu ? UnsafeMutablePointer<S>.allocate(capacity: 2 * hw) : nil
            defer { normed?.deallocate() }
            // the plane's dy: dy itself, or dn = da silu'(n) written into dx
            let source = silu ? UnsafePointer(dxp.baseAddress!) : dyp.baseAddress!
            for gr in range {
              for b in 0..<batch {
                let mean = S(stats.values[2 * (b * groups + gr)]), rstd = S(stats.values[2 * (b * groups + gr) + 1])
                var sumDxhat: S = 0, sumDxhatXhat: S = 0
                for c in gr * cpg..<(gr + 1) * cpg {
                  let base = (c * batch + b) * hw
                  if let normed {
                    let a = rstd * p[weight.offset + c], shift = p[bias.offset + c] - mean * a
                    for i in 0..<hw { normed[i] = xp[base + i] * a + shift }
                    (dxp.baseAddress! + base).update(from: dyp.baseAddress! + base, count: hw)
                    SiLU.backwardInPlace(dxp.baseAddress! + base, input: normed, hw, normed + hw)
                  }
                  let (sdy, sdyx0) = Self.sumAndCentredDot(source + base, xp.baseAddress! + base, hw, mean)
                  let sdyx = sdyx0 * rstd
                  let gamma = p[weight.offset + c]
                  sumDxhat += sdy * gamma
                  sumDxhatXhat += sdyx * gamma
                  if let g {
                    g[weight.offset + c] += sdyx
                    g[bias.offset + c] += sdy
                  }
                }
                let n = S(cpg * hw)
                let m1 = sumDxhat / n, m2 = sumDxhatXhat / n
                for c in gr * cpg..<(gr + 1) * cpg {
                  let base = (c * batch + b) * hw
                  let gamma = p[weight.offset + c]
                  // dx = rstd gamma dy - rstd m1 - rstd^2 m2 (x - mean)
                  let a = rstd * gamma, k = rstd * rstd * m2, shift = -rstd * m1 + k * mean
                  for i in base..<base + hw { dxp[i] = a * source[i] - k * xp[i] + shift }
                }
              }
            }
          }
        }
      }
    }
    return Activation(channels: x.channels, batch: batch, height: x.height, width: x.width, data: dx)
  }

  @inline(__always) static func sum<S: BLASScalar>(_ x: UnsafePointer<S>, _ n: Int) -> S {
    var acc = SIMD8<S>(repeating: 0)
    var i = 0
    while i + 8 <= n {
      acc += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<S>.self)
      i += 8
    }
    var s = acc.sum()
    while i < n { s += x[i]; i += 1 }
    return s
  }

  @inline(__always) static func centredSquares<S: BLASScalar>(_ x: UnsafePointer<S>, _ n: Int, _ mean: S) -> S {
    var acc = SIMD8<S>(repeating: 0)
    let m = SIMD8<S>(repeating: mean)
    var i = 0
    while i + 8 <= n {
      let d = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<S>.self) - m
      acc += d * d
      i += 8
    }
    var s = acc.sum()
    while i < n { let d = x[i] - mean; s += d * d; i += 1 }
    return s
  }

  /// `(sum dy, sum dy (x - mean))`.
  @inline(__always) static func sumAndCentredDot<S: BLASScalar>(_ dy: UnsafePointer<S>, _ x: UnsafePointer<S>, _ n: Int, _ mean: S) -> (S, S) {
    var a = SIMD8<S>(repeating: 0), b = SIMD8<S>(repeating: 0)
    let m = SIMD8<S>(repeating: mean)
    var i = 0
    while i + 8 <= n {
      let d = UnsafeRawPointer(dy + i).loadUnaligned(as: SIMD8<S>.self)
      a += d
      b += d * (UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<S>.self) - m)
      i += 8
    }
    var s = a.sum(), t = b.sum()
    while i < n { s += dy[i]; t += dy[i] * (x[i] - mean); i += 1 }
    return (s, t)
  }
}
