import Foundation

/// diffusers' `get_timestep_embedding` (Timesteps): for i < half = dim/2,
/// `w_i = exp(-log(10000) i / (half - freq_shift))`, `emb = [sin(t w), cos(t w)]` (`[cos, sin]` with flip_sin_to_cos),
/// zero-padded when dim is odd. diffusers computes it in float32 whatever the model's dtype; `float32: true`
/// reproduces that rounding (each step rounded to Float), `false` computes in Double.
public enum SinusoidalTimestepEmbedding {
  public static func embed(_ t: [Double], dim: Int, flipSinToCos: Bool, freqShift: Double, float32: Bool = true) -> [Double] {
    let half = dim / 2
    var out = [Double](repeating: 0, count: t.count * dim)
    for (b, time) in t.enumerated() {
      for i in 0..<half {
        let s: Double, c: Double
        if float32 {
          let exponent = Float(-log(10000.0)) * Float(i) / Float(Double(half) - freqShift)
          let frequency = Float(exp(Double(exponent)))
          let argument = Float(time) * frequency
          s = Double(Float(sin(Double(argument))))
          c = Double(Float(cos(Double(argument))))
        } else {
          let argument = time * exp(-log(10000.0) * Double(i) / (Double(half) - freqShift))
          s = sin(argument)
          c = cos(argument)
        }
        out[b * dim + i] = flipSinToCos ? c : s
        out[b * dim + half + i] = flipSinToCos ? s : c
      }
    }
    return out
  }
}
