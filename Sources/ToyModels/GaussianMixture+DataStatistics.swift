import DiffusionCore
import Foundation

extension GaussianMixture: DataStatisticsProvider {
  /// The mixture's mean and covariance given z, in closed form with `pi = softmax(logits + W z)`:
  /// `mu = sum_k pi_k mu_k`, `Sigma = sum_k pi_k (C_k + mu_k mu_k^T) - mu mu^T` (docs/gaussian-linear-part.md#the-split).
  public func dataStatistics(z: [Double]) throws -> DataStatistics {
    let K = componentCount, d = dataDimension
    try Check.count(z, conditionDimension, "z")
    try Check.finite(z, "z")
    var logPi = [Double](repeating: 0, count: K)
    logMixtureWeights(z, batch: 1, logPi: &logPi)
    let pi = logPi.map { exp($0) }
    var mu = [Double](repeating: 0, count: d)
    for k in 0..<K { for i in 0..<d { mu[i] += pi[k] * meanValues[k * d + i] } }
    var sigma = [Double](repeating: 0, count: d * d)
    for k in 0..<K {
      for i in 0..<d {
        // centred form: pi_k (C_k + (mu_k - mu)(mu_k - mu)^T) sums to the same Sigma without cancellation
        let ci = meanValues[k * d + i] - mu[i]
        for j in 0..<d {
          let cj = meanValues[k * d + j] - mu[j]
          let c: Double
          switch covariance {
          case .diagonal: c = i == j ? varianceValues[k * d + i] : 0
          case .full: c = covValues[k * d * d + i * d + j]
          }
          sigma[i * d + j] += pi[k] * (c + ci * cj)
        }
      }
    }
    return try DataStatistics.fromCovariance(mean: mu, covariance: sigma, field: "model")
  }
}

extension DataStatistics {
  /// Statistics from a mean and a row-major d x d covariance: checks sizes, finiteness, symmetry and positive
  /// semi-definiteness (eigenvalues below `-1e-12 max|s|` are errors; round-off negatives above that become 0),
  /// then eigendecomposes once (LAPACKE_dsyevd). Errors name `field`.
  public static func fromCovariance(mean: [Double], covariance: [Double], field: String) throws -> DataStatistics {
    let d = mean.count
    guard d > 0 else { throw InvalidInput(field, "the data dimension must be positive") }
    guard d <= 4096 else { throw InvalidInput(field, "dimension \(d) is too large for a dense covariance") }
    try Check.finite(mean, "\(field) mean")
    guard covariance.count == d * d else {
      throw InvalidInput(field, "the covariance must be \(d) x \(d) (\(d * d) numbers), got \(covariance.count) numbers")
    }
    try Check.finite(covariance, "\(field) covariance")
    var scale = 0.0
    for v in covariance { scale = max(scale, abs(v)) }
    for i in 0..<d {
      for j in (i + 1)..<max(d, i + 1) where abs(covariance[i * d + j] - covariance[j * d + i]) > 1e-10 * max(scale, 1e-300) {
        throw InvalidInput(field, "the covariance is not symmetric (entry [\(i)][\(j)] = \(covariance[i * d + j]), [\(j)][\(i)] = \(covariance[j * d + i]))")
      }
    }
    let eigen = try SymmetricEigen(covariance, dimension: d, field: field)
    let top = eigen.values.map(abs).max() ?? 0
    if let i = eigen.values.firstIndex(where: { $0 < -1e-12 * max(top, 1e-300) }) {
      throw InvalidInput(field, "the covariance is not positive semi-definite (eigenvalue \(i) is \(eigen.values[i]))")
    }
    return try DataStatistics(mean: mean, eigenvalues: eigen.values.map { max($0, 0) }, eigenvectors: eigen.vectors, field: field)
  }
}
