import Foundation

/// diffusers' `betas` and `alphas_cumprod`, computed as diffusers computes them (float32 tensors), so that the
/// schedule the solvers see is the one the model was trained with, to the last bit:
/// - `torch.linspace(start, end, N, dtype=float32)`: `step = (end - start) / (N - 1)` in float32, then
///   `start + step i` for `i < N/2` and `end - step (N - 1 - i)` otherwise, each one fused multiply-add;
/// - `scaled_linear`: that linspace of `sqrt(beta_start), sqrt(beta_end)` (square roots in float64), squared in float32;
/// - `squaredcos_cap_v2`: `betas_for_alpha_bar` in float64, `beta_i = min(1 - abar((i+1)/N) / abar(i/N), 0.999)`,
///   `abar(t) = cos((t + 0.008) / 1.008 pi/2)^2`, rounded to float32;
/// - `alphas = 1 - betas` in float32; `torch.cumprod` on the CPU accumulates in float64 and rounds every output to float32.
public enum DiffusersBetas {
  public static func linspace(_ start: Double, _ end: Double, count n: Int) -> [Float] {
    let s = Float(start), e = Float(end)
    guard n > 1 else { return n == 1 ? [s] : [] }
    let step = (e - s) / Float(n - 1)
    return (0..<n).map { i in i < n / 2 ? s.addingProduct(step, Float(i)) : e.addingProduct(-step, Float(n - 1 - i)) }
  }

  public static func linear(start: Double, end: Double, count: Int) -> [Float] { linspace(start, end, count: count) }

  public static func scaledLinear(start: Double, end: Double, count: Int) -> [Float] {
    linspace(start.squareRoot(), end.squareRoot(), count: count).map { $0 * $0 }
  }

  public static func squaredCosCapV2(count n: Int, maxBeta: Double = 0.999) -> [Float] {
    func alphaBar(_ t: Double) -> Double {
      let c = cos((t + 0.008) / 1.008 * Double.pi / 2)
      return c * c
    }
    return (0..<n).map { i in
      Float(min(1 - alphaBar(Double(i + 1) / Double(n)) / alphaBar(Double(i) / Double(n)), maxBeta))
    }
  }

  /// `cumprod(1 - betas)` as torch computes it on the CPU, returned exactly (float32 values as Double).
  public static func alphasCumprod(_ betas: [Float]) -> [Double] {
    var product = 1.0
    return betas.map { beta in
      product *= Double(Float(1) - beta)
      return Double(Float(product))
    }
  }
}
