/// The mean and covariance of the data distribution p_0 (given z), with the covariance's eigendecomposition
/// `Sigma = Q diag(s^2) Q^T`: what an integrator needs to build the Gaussian linear part
/// `J_G(t) = sigma_t (alpha_t^2 Sigma + sigma_t^2 I)^{-1}` (docs/gaussian-linear-part.md#the-split).
public struct DataStatistics: Sendable, Equatable {
  /// mu (d numbers).
  public let mean: [Double]
  /// Sigma's eigenvalues s_k^2 (d numbers, each >= 0).
  public let eigenvalues: [Double]
  /// Q, row-major with the eigenvectors as columns (`eigenvectors[i * d + k] = Q_ik`); empty when Sigma is a
  /// multiple of the identity (then Q = I and no basis change is needed). For a block-diagonal Sigma (independent
  /// problems side by side, `blockDiagonal`), Q's diagonal blocks one after another, each `blockSize` squared.
  public let eigenvectors: [Double]
  /// The size of Q's diagonal blocks: d for one dense Q.
  public let blockSize: Int

  public var dimension: Int { mean.count }
  public var isIsotropic: Bool { eigenvectors.isEmpty }

  /// Statistics with a given eigendecomposition. Throws (naming `field`) on wrong sizes, non-finite numbers or a
  /// negative eigenvalue.
  public init(mean: [Double], eigenvalues: [Double], eigenvectors: [Double], field: String) throws {
    let d = mean.count
    guard d > 0 else { throw InvalidInput(field, "the data dimension must be positive") }
    try Check.finite(mean, "\(field) mean")
    try Check.count(eigenvalues, d, "\(field) eigenvalues")
    try Check.finite(eigenvalues, "\(field) eigenvalues")
    if let i = eigenvalues.firstIndex(where: { $0 < 0 }) {
      throw InvalidInput(field, "the covariance is not positive semi-definite (eigenvalue \(i) is \(eigenvalues[i]))")
    }
    if !eigenvectors.isEmpty {
      try Check.count(eigenvectors, d * d, "\(field) eigenvectors")
      try Check.finite(eigenvectors, "\(field) eigenvectors")
    }
    self.mean = mean
    self.eigenvalues = eigenvalues
    self.eigenvectors = eigenvectors
    self.blockSize = d
  }

  private init(mean: [Double], eigenvalues: [Double], eigenvectors: [Double], blockSize: Int) {
    self.mean = mean
    self.eigenvalues = eigenvalues
    self.eigenvectors = eigenvectors
    self.blockSize = blockSize
  }

  /// The statistics of P independent problems side by side, `x = (x_1, ..., x_P)`: the means one after another
  /// and Sigma block-diagonal with the parts' covariances (isotropic parts get an identity block when others have
  /// a basis). All parts must have the same dimension. Memory: P dense bases of b x b numbers, checked against the
  /// budget (`Budget.checkMemory`) before they are copied.
  public static func blockDiagonal(_ parts: [DataStatistics], available: Int = Budget.physicalMemory) throws -> DataStatistics {
    guard let first = parts.first else { throw InvalidInput("statistics", "no blocks") }
    let b = first.dimension
    guard parts.allSatisfy({ $0.dimension == b && $0.blockSize == b }) else {
      throw InvalidInput("statistics", "block-diagonal statistics need parts of one dimension (\(b)), each with one dense basis")
    }
    let mean = parts.flatMap(\.mean), eigenvalues = parts.flatMap(\.eigenvalues)
    if parts.allSatisfy(\.isIsotropic) {
      return DataStatistics(mean: mean, eigenvalues: eigenvalues, eigenvectors: [], blockSize: b)
    }
    try Budget.checkMemory(8 * Double(parts.count) * Double(b) * Double(b), "statistics",
                           what: "the covariance basis (\(b) x \(b)) copied for each of \(parts.count) images", available: available)
    let identity = (0..<(b * b)).map { $0 / b == $0 % b ? 1.0 : 0.0 }
    return DataStatistics(mean: mean, eigenvalues: eigenvalues, eigenvectors: parts.flatMap { $0.isIsotropic ? identity : $0.eigenvectors },
                          blockSize: b)
  }

  /// Isotropic statistics `N(mu, v I)`: the one number v is all the isotropic linear part needs.
  public init(mean: [Double], variance v: Double, field: String) throws {
    try Check.finite(v, "\(field) variance")
    guard v >= 0 else { throw InvalidInput(field, "the variance must be non-negative, got \(v)") }
    try self.init(mean: mean, eigenvalues: [Double](repeating: v, count: mean.count), eigenvectors: [], field: field)
  }

  /// `tr Sigma / d`, the variance of the isotropic linear part (docs/gaussian-linear-part.md#the-split).
  public var meanVariance: Double { eigenvalues.reduce(0, +) / Double(max(dimension, 1)) }

  /// The same mean with Sigma replaced by `(tr Sigma / d) I`.
  public func isotropic() throws -> DataStatistics {
    try DataStatistics(mean: mean, variance: meanVariance, field: "statistics")
  }
}

/// A model that knows the mean and covariance of its data distribution given z (in closed form or from a file).
public protocol DataStatisticsProvider {
  func dataStatistics(z: [Double]) throws -> DataStatistics
}
