import Foundation

extension UNet2DModel {
  /// Zeroes the time-embedding MLP's input weights of every sinusoidal feature with more than `periods` periods over
  /// t in [0, 1] (network time 1000 t; `SinusoidalTimestepEmbedding`: w_i = exp(-log(10000) i / (half - freq_shift))).
  /// A random network's eps then varies slowly in t, as a trained one's does; tests use it so that small step counts
  /// resolve a random UNet (its fastest features oscillate ~160 times over [0, 1]).
  public mutating func silenceTimeFeatures(fasterThan periods: Double) {
    let half = config.blockOutChannels[0] / 2
    guard let slot = layout.slot("time_embedding.linear_1.weight") else { return }
    for i in 0..<half where 1000 * exp(-log(10000.0) * Double(i) / (Double(half) - config.freqShift)) > 2 * Double.pi * periods {
      for row in 0..<config.timeEmbedDim {
        parameters[slot.offset + row * 2 * half + i] = 0
        parameters[slot.offset + row * 2 * half + half + i] = 0
      }
    }
  }
}
