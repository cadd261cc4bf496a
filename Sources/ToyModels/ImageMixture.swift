import DiffusionCore
import Foundation

/// A diagonal Gaussian mixture over 1 x s x s images (d = s^2) whose means are structured images:
/// component k's mean is a sum of 2-3 Gaussian blobs and one stroke (a Gaussian ridge along a segment), placed from
/// the seed and scaled to peak 1 on a background of -0.5. Every pixel has standard deviation `std`.
/// Unconditioned: equal weights. Conditioned: `pi(z) = softmax(W z)`, `W[k][k] = class_strength`
/// (docs/math.md#gaussian-mixture), so the one-hot z of class k selects component k (see `classCondition`).
public enum ImageMixture {
  public static func build(_ config: ImageMixtureConfig) throws -> GaussianMixture {
    try config.validate()
    var rng = SeededGenerator(seed: config.seed)
    let means = (0..<config.K).map { _ in meanImage(size: config.size, &rng) }
    let m = config.conditionDimension
    let W = (0..<config.K).map { k in (0..<m).map { j in j == k ? config.classStrength : 0 } }
    let logStd = [[Double]](repeating: [Double](repeating: log(config.std), count: config.dataDimension), count: config.K)
    return try GaussianMixture(means: means, logits: [Double](repeating: 0, count: config.K), W: W, logStd: logStd,
                               schedule: config.schedule)
  }

  /// z selecting class k: one-hot of size m (empty when unconditioned).
  public static func classCondition(_ k: Int, _ config: ImageMixtureConfig) -> [Double] {
    (0..<config.conditionDimension).map { $0 == k ? 1 : 0 }
  }

  /// One mean image, row-major: blobs `exp(-|p - c|^2 / (2 r^2))` and a ridge `exp(-dist(p, segment)^2 / (2 w^2))`,
  /// their maximum rescaled to [-0.5, 1].
  static func meanImage(size s: Int, _ rng: inout SeededGenerator) -> [Double] {
    let n = Double(s)
    var image = [Double](repeating: 0, count: s * s)
    let blobs = 2 + Int(rng.next() % 2)
    for _ in 0..<blobs {
      let cx = n * (0.15 + 0.7 * rng.uniform()), cy = n * (0.15 + 0.7 * rng.uniform())
      let r = n * (0.06 + 0.08 * rng.uniform())
      for i in 0..<s {
        for j in 0..<s {
          let dx = Double(j) + 0.5 - cx, dy = Double(i) + 0.5 - cy
          image[i * s + j] = max(image[i * s + j], exp(-(dx * dx + dy * dy) / (2 * r * r)))
        }
      }
    }
    let (ax, ay) = (n * (0.1 + 0.8 * rng.uniform()), n * (0.1 + 0.8 * rng.uniform()))
    let (bx, by) = (n * (0.1 + 0.8 * rng.uniform()), n * (0.1 + 0.8 * rng.uniform()))
    let w = n * 0.04
    let lengthSquared = max((bx - ax) * (bx - ax) + (by - ay) * (by - ay), 1e-12)
    for i in 0..<s {
      for j in 0..<s {
        let px = Double(j) + 0.5, py = Double(i) + 0.5
        let u = min(max(((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / lengthSquared, 0), 1)
        let dx = px - (ax + u * (bx - ax)), dy = py - (ay + u * (by - ay))
        image[i * s + j] = max(image[i * s + j], exp(-(dx * dx + dy * dy) / (2 * w * w)))
      }
    }
    return image.map { 1.5 * $0 - 0.5 }
  }
}
