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
    return KernelProfile.time(.groupNormSiLUBackward) { backwardPass(da, input: x, stats, p, g, silu: true) }
  }
}
