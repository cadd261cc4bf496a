import DiffusionCore
import ToyModels

/// A recognizer's decision threshold at a target false match rate, measured on seeded impostor pairs (two samples
/// of different components) and genuine pairs (two samples of the same component): a pair matches when the cosine
/// similarity of its embeddings is above `threshold`.
public struct MatchThreshold: Sendable, Equatable {
  public var threshold: Double
  /// The target false match rate and the one measured at the threshold (impostor pairs above it).
  public var targetFMR: Double
  public var measuredFMR: Double
  /// The share of genuine pairs above the threshold.
  public var genuineMatchRate: Double
  public var impostorPairs: Int
  public var genuinePairs: Int

  /// The threshold is the k-th largest impostor similarity, k = floor(fmr n) (0-based), so at most a share fmr of
  /// the impostor pairs lies strictly above it.
  public static func calibrate<R: IdentityEmbedding>(
    _ recognizer: R, mixture: GaussianMixture, fmr: Double = 1e-3, impostorPairs n: Int, genuinePairs g: Int, seed: UInt64
  ) throws -> MatchThreshold {
    guard fmr.isFinite, fmr > 0, fmr < 1, (1 / fmr).isFinite else { throw InvalidInput("fmr", "must be in (0, 1), got \(fmr)") }
    guard n >= Int((1 / fmr).rounded(.up)) else {
      throw InvalidInput("impostor_pairs", "needs at least 1/fmr = \(Int((1 / fmr).rounded(.up))) impostor pairs, got \(n)")
    }
    try Check.positive(g, "genuine_pairs")
    guard recognizer.inputDimension == mixture.dataDimension else {
      throw InvalidInput("recognizers", "a recognizer takes d = \(recognizer.inputDimension) but the data have d = \(mixture.dataDimension)")
    }
    let K = mixture.componentCount
    var rng = SeededGenerator(seed: seed)
    func similarities(count: Int, same: Bool) throws -> [Double] {
      var u: [Double] = [], w: [Double] = []
      for _ in 0..<count {
        let a = Int(rng.next() % UInt64(K))
        var b = a
        if !same { b = Int(rng.next() % UInt64(K - 1)); if b >= a { b += 1 } }
        u += try mixture.sample(component: a, count: 1, generator: &rng)
        w += try mixture.sample(component: b, count: 1, generator: &rng)
      }
      return recognizer.similarities(try recognizer.embed(u, batch: count), try recognizer.embed(w, batch: count))
    }
    let impostor = try similarities(count: n, same: false).sorted(by: >)
    let genuine = try similarities(count: g, same: true)
    let threshold = impostor[Int((fmr * Double(n)).rounded(.down))]
    return MatchThreshold(
      threshold: threshold, targetFMR: fmr, measuredFMR: Double(impostor.filter { $0 > threshold }.count) / Double(n),
      genuineMatchRate: Double(genuine.filter { $0 > threshold }.count) / Double(g), impostorPairs: n, genuinePairs: g)
  }
}
