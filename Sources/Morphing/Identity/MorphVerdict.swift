/// How one recognizer judges a set of morphs: the similarity of each morph with each of its two identities, and
/// whether it is accepted as both (the MMPMR criterion: both similarities above the threshold).
public struct MorphVerdict: Sendable {
  public var similarityA: [Double]
  public var similarityB: [Double]
  public var accepted: [Bool]

  /// MMPMR in percent: the share of morphs accepted as both identities.
  public var mmpmr: Double { 100 * Double(accepted.filter { $0 }.count) / Double(max(accepted.count, 1)) }

  public static func judge<R: IdentityEmbedding>(
    _ recognizer: R, threshold: Double, morphs: [Double], xA: [Double], xB: [Double], pairs: Int
  ) throws -> MorphVerdict {
    let v = try recognizer.embed(morphs, batch: pairs)
    let a = recognizer.similarities(v, try recognizer.embed(xA, batch: pairs))
    let b = recognizer.similarities(v, try recognizer.embed(xB, batch: pairs))
    return MorphVerdict(similarityA: a, similarityB: b, accepted: zip(a, b).map { $0 > threshold && $1 > threshold })
  }
}
