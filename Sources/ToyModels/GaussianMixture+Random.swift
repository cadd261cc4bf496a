import CBLAS
import DiffusionCore
import Foundation

extension GaussianMixture {
  /// A seeded random mixture for studies: means `1.5 N(0, I)` per coordinate (separated but overlapping),
  /// logits and W entries `0.5 N(0, 1)`; diagonal form: std uniform in [0.3, 1.0];
  /// full form: `Sigma_k = Q_k diag(s_k) Q_k^T`, Q_k a random orthogonal matrix (QR of a Gaussian matrix),
  /// eigenvalues s uniform in [0.1, 1]. Every draw comes from `SeededGenerator(seed:)`.
  public static func random(d: Int, K: Int, m: Int, covariance: Covariance, schedule: NoiseSchedule,
                            seed: UInt64) throws -> GaussianMixture {
    try Check.positive(d, "d")
    try Check.positive(K, "K")
    guard m >= 0 else { throw InvalidInput("m", "must be a non-negative integer, got \(m)") }
    var rng = SeededGenerator(seed: seed)
    let means = (0..<K).map { _ in rng.normals(d).map { 1.5 * $0 } }
    let logits = rng.normals(K).map { 0.5 * $0 }
    let W = (0..<K).map { _ in rng.normals(m).map { 0.5 * $0 } }
    switch covariance {
    case .diagonal:
      let logStd = (0..<K).map { _ in (0..<d).map { _ in log(0.3 + 0.7 * rng.uniform()) } }
      return try GaussianMixture(means: means, logits: logits, W: W, logStd: logStd, schedule: schedule)
    case .full:
      var cov: [[[Double]]] = []
      for _ in 0..<K {
        let q = try randomOrthogonal(d, &rng)
        let spectrum = (0..<d).map { _ in 0.1 + 0.9 * rng.uniform() }
        cov.append(symmetricProduct(q, spectrum, d))
      }
      return try GaussianMixture(means: means, logits: logits, W: W, cov: cov, schedule: schedule)
    }
  }

  /// The Q factor of the QR factorization of a d x d standard-normal matrix (row-major).
  static func randomOrthogonal(_ d: Int, _ rng: inout SeededGenerator) throws -> [Double] {
    var a = rng.normals(d * d)
    var tau = [Double](repeating: 0, count: d)
    let n = Int32(d)
    // Single-threaded BLAS under LAPACK: the same Q for any thread count (SerialBLAS).
    let info = SerialBLAS.run {
      var info = LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, n, n, &a, n, &tau)
      if info == 0 { info = LAPACKE_dorgqr(LAPACK_ROW_MAJOR, n, n, n, &a, n, &tau) }
      return info
    }
    guard info == 0 else { throw InvalidInput("covariance", "the random QR factorization failed (info = \(info))") }
    return a
  }

  /// `Q diag(s) Q^T` as d rows, symmetrized exactly.
  static func symmetricProduct(_ q: [Double], _ s: [Double], _ d: Int) -> [[Double]] {
    var scaled = q
    for i in 0..<d { for j in 0..<d { scaled[i * d + j] *= s[j] } }
    var product = [Double](repeating: 0, count: d * d)
    let n = Int32(d)
    SerialBLAS.run { cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1, scaled, n, q, n, 0, &product, n) }
    return (0..<d).map { i in (0..<d).map { j in 0.5 * (product[i * d + j] + product[j * d + i]) } }
  }
}
