import DiffusionCore

/// The paper's morph loss (docs/math.md#morph-loss) for P pairs side by side, on the recognizer v:
/// `L_p = d(v_ab, v_a) + d(v_ab, v_b) + |d(v_ab, v_a) - d(v_ab, v_b)|`, `d(u, w) = 1 - cos(u, w)`, `v_ab = v(x_0)`;
/// the guidance loss is `sum_p L_p`, so its gradient in `x_{0,p}` is pair p's own.
public struct MorphLoss<Embedding: IdentityEmbedding>: GuidanceLoss {
  public let recognizer: Embedding
  /// `v(x_a)` and `v(x_b)`: P x e unit vectors.
  public let targetA: [Double]
  public let targetB: [Double]
  public var pairs: Int { targetA.count / recognizer.embeddingDimension }

  public init(recognizer: Embedding, xA: [Double], xB: [Double], pairs: Int) throws {
    try Check.positive(pairs, "pairs")
    try Check.count(xA, pairs * recognizer.inputDimension, "x_a")
    try Check.count(xB, pairs * recognizer.inputDimension, "x_b")
    self.recognizer = recognizer
    targetA = try recognizer.embed(xA, batch: pairs)
    targetB = try recognizer.embed(xB, batch: pairs)
  }

  /// `L_p` for every pair.
  public func perPair(_ x0: [Double]) throws -> [Double] {
    let v = try recognizer.embed(x0, batch: pairs)
    let simA = recognizer.similarities(v, targetA), simB = recognizer.similarities(v, targetB)
    return zip(simA, simB).map { a, b in
      let da = 1 - a, db = 1 - b
      return da + db + abs(da - db)
    }
  }

  /// `sum_p L_p`; NaN when the recognizer rejects x_0 (non-finite pixels), which the solvers then report.
  public func value(_ x0: [Double]) -> Double {
    ((try? perPair(x0)) ?? [.nan]).reduce(0, +)
  }

  /// `dL/dx_0 = (dL/dv)^T dv/dx_0` with `dL_p/dv = -v_a - v_b - sign(d_a - d_b) (v_a - v_b)` (v_a, v_b fixed).
  public func gradient(_ x0: [Double]) -> [Double] {
    let e = recognizer.embeddingDimension
    guard let v = try? recognizer.embed(x0, batch: pairs) else { return [Double](repeating: .nan, count: x0.count) }
    let simA = recognizer.similarities(v, targetA), simB = recognizer.similarities(v, targetB)
    var cotangent = [Double](repeating: 0, count: pairs * e)
    for p in 0..<pairs {
      let s: Double = simB[p] > simA[p] ? 1 : (simB[p] < simA[p] ? -1 : 0)  // sign(d_a - d_b) = sign(cos_b - cos_a)
      for j in 0..<e {
        let a = targetA[p * e + j], b = targetB[p * e + j]
        cotangent[p * e + j] = -a - b - s * (a - b)
      }
    }
    guard let r = try? recognizer.vjp(x0, batch: pairs, cotangent: cotangent) else {
      return [Double](repeating: .nan, count: x0.count)
    }
    return r.x
  }
}
