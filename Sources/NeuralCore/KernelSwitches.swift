/// Switches between kernel variants, for measuring one against the other in the same process (`bench ab`); the
/// defaults are the variants that measured faster. Set them only between passes.
public enum KernelSwitches {
  /// Keep each 3x3 convolution's Winograd weight transform between calls with the same parameters
  /// (`WinogradWeightCache`) instead of transforming the weights in every pass and slice.
  nonisolated(unsafe) public static var cacheWinogradWeights = true

  /// Run 3x3 convolutions on whole 4x4 tiles through Winograd F(4x4, 3x3) instead of F(2x2, 3x3), in Float32.
  nonisolated(unsafe) public static var winogradF4x3Float32 = true
  /// The same in Float64 (off: Float64 keeps F(2x2, 3x3), whose values the diffusers agreement tests pin).
  nonisolated(unsafe) public static var winogradF4x3Float64 = false
  /// GroupNorm + SiLU as one pass each way (`GroupNorm.forwardSiLU`, `backwardSiLU`) instead of separate layers.
  nonisolated(unsafe) public static var fuseGroupNormSiLU = true

  /// Deal a Winograd convolution's per-point products out to the threads (single-threaded OpenBLAS each) when the
  /// layer runs multi-threaded, instead of threading each product (`WinogradProducts`).
  nonisolated(unsafe) public static var splitWinogradProducts = true

  /// The Float32 variants above all on (the defaults) or all off (the kernels before them: F(2x2, 3x3) Winograd,
  /// weight transforms in every pass, separate GroupNorm and SiLU passes), for measuring before against after.
  public static func setAll(_ on: Bool) {
    cacheWinogradWeights = on
    winogradF4x3Float32 = on
    fuseGroupNormSiLU = on
    splitWinogradProducts = on
  }
}
