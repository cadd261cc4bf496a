import Foundation
import DiffusionCore

/// A Gaussian-mixture diffusion model with closed-form noise prediction (docs/math.md#gaussian-mixture):
/// `p_0(x | z) = sum_k pi_k(z) N(mu_k, Sigma_k)`, `pi(z) = softmax(logits + W z)`,
/// `p_t(x | z) = sum_k pi_k(z) N(alpha_t mu_k, alpha_t^2 Sigma_k + sigma_t^2 I)`, `eps = -sigma_t grad_x log p_t`.
///
/// Two forms: `.diagonal` (theta = means, logits, W, log_std; `Sigma_k = diag(exp(2 log_std_k))`) and `.full`
/// (theta = means, logits, W; `Sigma_k` fixed, eigendecomposed once at init).
public struct GaussianMixture: NoisePredictor, Equatable {
  public enum Covariance: String, Sendable, Equatable {
    case diagonal
    case full
  }

  public let schedule: NoiseSchedule
  public let covariance: Covariance
  /// K, the number of components.
  public let componentCount: Int
  public let dataDimension: Int
  public let conditionDimension: Int

  // Flat row-major storage.
  let meanValues: [Double]      // K x d
  let logitValues: [Double]     // K
  let weightValues: [Double]    // K x m (W)
  let logStdValues: [Double]    // K x d, diagonal form only
  let varianceValues: [Double]  // K x d, diagonal form only: exp(2 log_std)
  let covValues: [Double]       // K x d x d, full form only
  let eigenvalues: [Double]     // K x d, full form only: Sigma_k = U_k diag(s_k) U_k^T
  let eigenvectors: [Double]    // K x d x d, full form only: U_k row-major, eigenvectors as columns

  /// The diagonal form. `W` is K rows of m numbers, or `[]` when m = 0.
  public init(means: [[Double]], logits: [Double], W: [[Double]], logStd: [[Double]], schedule: NoiseSchedule) throws {
    let (K, d) = try Self.matrixShape(means, "model.means")
    let m = try Self.conditioningShape(W, K: K)
    try Check.count(logits, K, "model.logits")
    try Check.finite(logits, "model.logits")
    let logStdFlat = try Self.flatten(logStd, rows: K, columns: d, "model.log_std")
    self.init(schedule: schedule, covariance: .diagonal, K: K, d: d, m: m,
              means: means.flatMap { $0 }, logits: logits, W: W.flatMap { $0 },
              logStd: logStdFlat, cov: [], eigenvalues: [], eigenvectors: [])
  }

  /// The full-covariance form. `cov` is K symmetric positive-definite d x d matrices, held fixed (not in theta).
  public init(means: [[Double]], logits: [Double], W: [[Double]], cov: [[[Double]]], schedule: NoiseSchedule) throws {
    let (K, d) = try Self.matrixShape(means, "model.means")
    let m = try Self.conditioningShape(W, K: K)
    try Check.count(logits, K, "model.logits")
    try Check.finite(logits, "model.logits")
    guard cov.count == K else { throw InvalidInput("model.cov", "expected \(K) matrices (one per component), got \(cov.count)") }
    var covFlat: [Double] = []
    covFlat.reserveCapacity(K * d * d)
    for k in 0..<K {
      covFlat += try Self.flatten(cov[k], rows: d, columns: d, "model.cov", label: "matrix \(k): ")
    }
    let (values, vectors) = try Self.eigendecompose(covFlat, K: K, d: d)
    self.init(schedule: schedule, covariance: .full, K: K, d: d, m: m,
              means: means.flatMap { $0 }, logits: logits, W: W.flatMap { $0 },
              logStd: [], cov: covFlat, eigenvalues: values, eigenvectors: vectors)
  }

  init(schedule: NoiseSchedule, covariance: Covariance, K: Int, d: Int, m: Int, means: [Double], logits: [Double],
       W: [Double], logStd: [Double], cov: [Double], eigenvalues: [Double], eigenvectors: [Double]) {
    self.schedule = schedule
    self.covariance = covariance
    componentCount = K
    dataDimension = d
    conditionDimension = m
    meanValues = means
    logitValues = logits
    weightValues = W
    logStdValues = logStd
    varianceValues = logStd.map { exp(2 * $0) }
    covValues = cov
    self.eigenvalues = eigenvalues
    self.eigenvectors = eigenvectors
  }

  // MARK: - The model's values, as nested arrays

  public var means: [[Double]] { Self.rows(meanValues, componentCount, dataDimension) }
  public var logits: [Double] { logitValues }
  /// K rows of m numbers (each empty when m = 0).
  public var W: [[Double]] { Self.rows(weightValues, componentCount, conditionDimension) }
  /// K rows of d numbers; nil for the full-covariance form.
  public var logStd: [[Double]]? { covariance == .diagonal ? Self.rows(logStdValues, componentCount, dataDimension) : nil }
  /// K matrices d x d; nil for the diagonal form.
  public var cov: [[[Double]]]? {
    guard covariance == .full else { return nil }
    let d = dataDimension
    return (0..<componentCount).map { k in Self.rows(Array(covValues[(k * d * d)..<((k + 1) * d * d)]), d, d) }
  }

  /// The rows of a flat row-major `count x columns` matrix.
  static func rows(_ flat: [Double], _ count: Int, _ columns: Int) -> [[Double]] {
    (0..<count).map { k in Array(flat[(k * columns)..<((k + 1) * columns)]) }
  }

  // MARK: - theta

  public var parameterBlocks: [ParameterBlock] {
    let K = componentCount, d = dataDimension, m = conditionDimension
    var blocks = [
      ParameterBlock(name: "means", shape: [K, d]),
      ParameterBlock(name: "logits", shape: [K]),
      ParameterBlock(name: "W", shape: [K, m]),
    ]
    if covariance == .diagonal { blocks.append(ParameterBlock(name: "log_std", shape: [K, d])) }
    return blocks
  }

  public var parameters: [Double] { meanValues + logitValues + weightValues + logStdValues }

  public func replacingParameters(_ theta: [Double]) throws -> GaussianMixture {
    try Check.count(theta, parameterCount, "theta")
    try Check.finite(theta, "theta")
    let K = componentCount, d = dataDimension, m = conditionDimension
    let a = K * d, b = a + K, c = b + K * m
    return GaussianMixture(schedule: schedule, covariance: covariance, K: K, d: d, m: m,
                           means: Array(theta[0..<a]), logits: Array(theta[a..<b]), W: Array(theta[b..<c]),
                           logStd: Array(theta[c...]), cov: covValues, eigenvalues: eigenvalues,
                           eigenvectors: eigenvectors)
  }

  /// The same mixture under another noise schedule.
  public func replacingSchedule(_ schedule: NoiseSchedule) -> GaussianMixture {
    GaussianMixture(schedule: schedule, covariance: covariance, K: componentCount, d: dataDimension,
                    m: conditionDimension, means: meanValues, logits: logitValues, W: weightValues,
                    logStd: logStdValues, cov: covValues, eigenvalues: eigenvalues, eigenvectors: eigenvectors)
  }
}
