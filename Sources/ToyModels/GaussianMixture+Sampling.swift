import DiffusionCore
import Foundation

extension GaussianMixture {
  /// The mixture weights `pi(z) = softmax(logits + W z)` (docs/math.md#gaussian-mixture).
  public func weights(z: [Double]) throws -> [Double] {
    try Check.count(z, conditionDimension, "z")
    try Check.finite(z, "z")
    let K = componentCount, m = conditionDimension
    var logit = logitValues
    for k in 0..<K { for j in 0..<m { logit[k] += weightValues[k * m + j] * z[j] } }
    let top = logit.max() ?? 0
    let e = logit.map { exp($0 - top) }
    let total = e.reduce(0, +)
    return e.map { $0 / total }
  }

  /// B exact samples of `p_0(x | z) = sum_k pi_k(z) N(mu_k, Sigma_k)` (flat, B x d): a component k ~ pi(z),
  /// then `mu_k + Sigma_k^{1/2} n` with n ~ N(0, I). `z` holds one vector (used for all) or B x m numbers.
  public func sample(count B: Int, z: [Double], generator rng: inout SeededGenerator) throws -> [Double] {
    try sampleLabeled(count: B, z: z, generator: &rng).x
  }

  /// As `sample`, also returning the component k of each sample (its class label).
  public func sampleLabeled(count B: Int, z: [Double], generator rng: inout SeededGenerator) throws -> (x: [Double], labels: [Int]) {
    try Check.positive(B, "count")
    let m = conditionDimension, d = dataDimension
    guard z.count == m || z.count == B * m else {
      throw InvalidInput("z", "expected \(m) or \(B * m) numbers (one z or one per sample), got \(z.count)")
    }
    let shared = z.count == m ? try weights(z: z) : nil
    var out = [Double](repeating: 0, count: B * d)
    var labels = [Int](repeating: 0, count: B)
    for b in 0..<B {
      let pi = try shared ?? weights(z: Array(z[(b * m)..<((b + 1) * m)]))
      let u = rng.uniform()
      var k = 0, cumulative = pi[0]
      while k < componentCount - 1 && u > cumulative { k += 1; cumulative += pi[k] }
      labels[b] = k
      writeSample(component: k, into: &out, at: b * d, generator: &rng)
    }
    return (out, labels)
  }

  /// B exact samples of component k alone, `N(mu_k, Sigma_k)` (flat, B x d).
  public func sample(component k: Int, count B: Int, generator rng: inout SeededGenerator) throws -> [Double] {
    try Check.positive(B, "count")
    guard (0..<componentCount).contains(k) else {
      throw InvalidInput("component", "must be in 0..<\(componentCount), got \(k)")
    }
    var out = [Double](repeating: 0, count: B * dataDimension)
    for b in 0..<B { writeSample(component: k, into: &out, at: b * dataDimension, generator: &rng) }
    return out
  }

  /// `mu_k + Sigma_k^{1/2} n`, n ~ N(0, I), written to out[offset..<offset + d].
  private func writeSample(component k: Int, into out: inout [Double], at offset: Int, generator rng: inout SeededGenerator) {
    let d = dataDimension
    let noise = rng.normals(d)
    switch covariance {
    case .diagonal:
      for i in 0..<d { out[offset + i] = meanValues[k * d + i] + exp(logStdValues[k * d + i]) * noise[i] }
    case .full:
      // Sigma_k^{1/2} = U_k diag(sqrt(s_k)) U_k^T; U_k diag(sqrt(s)) n has the same law
      for i in 0..<d {
        var s = meanValues[k * d + i]
        for j in 0..<d { s += eigenvectors[k * d * d + i * d + j] * eigenvalues[k * d + j].squareRoot() * noise[j] }
        out[offset + i] = s
      }
    }
  }
}
