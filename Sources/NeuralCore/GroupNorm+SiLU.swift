/// GroupNorm followed by SiLU (every norm of a ResnetBlock2D, and conv_norm_out) as one pass each way: the forward
/// pass writes silu(GroupNorm(x)) without materialising the normalised activation, and the reverse pass recomputes
/// it per channel plane, applies SiLU's adjoint and GroupNorm's in the same sweep, instead of three passes over
/// three arrays (recompute, SiLU backward, GroupNorm backward). The same operations in the same order as the
/// separate layers, so bitwise their values (GroupNormSiLUTests).
extension GroupNorm {
  /// `silu(GroupNorm(x))` and the statistics.
  func forwardSiLU<S: BLASScalar>(_ x: Activation<S>, _ p: UnsafePointer<S>) -> (Activation<S>, Statistics) {
    guard KernelSwitches.fuseGroupNormSiLU else {
      let (n, stats) = forward(x, p)
      return (SiLU.forward(n), stats)
    }
    return KernelProfile.time(.groupNormSiLUForward) { forwardPass(x, p, silu: true) }
  }

  /// dx from `da`, the adjoint of `silu(GroupNorm(x))`; with g, the scale and shift gradients as `backward`.
  func backwardSiLU<S: BLASScalar>(
    _ da: Activation<S>, input x: Activation<S>, _ stats: Statistics, _ p: UnsafePointer<S>, _ g: UnsafeMutablePointer<S>?
  ) -> Activation<S> {
    guard KernelSwitches.fuseGroupNormSiLU else {
      return backward(SiLU.backward(da, input: recompute(x, stats, p)), input: x, stats, p, g)
    }
    return KernelProfile.time(.groupNormSiLUBackward) { backwardSiLUPass(da, input: x, stats, p, g) }
  }

  private func backwardSiLUPass<S: BLASScalar>(
    _ da: Activation<S>, input x: Activation<S>, _ stats: Statistics, _ p: UnsafePointer<S>, _ g: UnsafeMutablePointer<S>?
  ) -> Activation<S> {
    let cpg = channels / groups, hw = x.pixels, batch = x.batch
    var dx = [S](unsafeUninitializedCapacity: x.count) { _, n in n = x.count }  // every entry written below
    x.data.withUnsafeBufferPointer { xp in
      da.data.withUnsafeBufferPointer { dap in
        dx.withUnsafeMutableBufferPointer { dxp in
          // parallel over groups (disjoint channels, so disjoint parameter gradients); images in order within
          ParallelRanges.forEach(groups, costPerItem: 8 * batch * cpg * hw) { range in
            let normed = UnsafeMutablePointer<S>.allocate(capacity: 2 * hw)
            defer { normed.deallocate() }
            let scratch = normed + hw
            for gr in range {
              for b in 0..<batch {
                let mean = S(stats.values[2 * (b * groups + gr)]), rstd = S(stats.values[2 * (b * groups + gr) + 1])
                var sumDxhat: S = 0, sumDxhatXhat: S = 0
                for c in gr * cpg..<(gr + 1) * cpg {
                  let base = (c * batch + b) * hw
                  // the normalised plane as `recompute` has it, then dn = da silu'(n) into dx
                  let a = rstd * p[weight.offset + c], shift = p[bias.offset + c] - mean * a
                  for i in 0..<hw { normed[i] = xp[base + i] * a + shift }
                  (dxp.baseAddress! + base).update(from: dap.baseAddress! + base, count: hw)
                  SiLU.backwardInPlace(dxp.baseAddress! + base, input: normed, hw, scratch)
                  let (sdy, sdyx0) = Self.sumAndCentredDot(dxp.baseAddress! + base, xp.baseAddress! + base, hw, mean)
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
                  let a = rstd * gamma, k = rstd * rstd * m2, shift = -rstd * m1 + k * mean
                  for i in base..<base + hw { dxp[i] = a * dxp[i] - k * xp[i] + shift }
                }
              }
            }
          }
        }
      }
    }
    return Activation(channels: x.channels, batch: batch, height: x.height, width: x.width, data: dx)
  }
}
