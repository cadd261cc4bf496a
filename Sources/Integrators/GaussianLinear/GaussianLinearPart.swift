import DiffusionCore
import Foundation

/// Which linear part the exponential integrator solves exactly (docs/gaussian-linear-part.md#the-split).
public enum LinearPartKind: String, CaseIterable, Sendable {
  /// None: the paper's solvers, untouched.
  case none
  /// `Sigma ~ (tr Sigma / d) I`: one number, no basis change.
  case isotropic
  /// The full data covariance, solved in its eigenbasis.
  case gaussian

  public static func named(_ name: String) throws -> LinearPartKind {
    try parse(name, option: "linear-part", what: "linear part")
  }
}

/// The Jacobian of the data's Gaussian approximation, `J_G(t) = sigma_t (alpha_t^2 Sigma + sigma_t^2 I)^{-1}`,
/// in Sigma's eigenbasis, with the closed-form functions of lambda that an exponential integrator needs
/// (docs/gaussian-linear-part.md#the-split):
/// `c_k(lambda) = 1 / (1 + s_k^2 e^{2 lambda}) = e^{-lambda} alpha [J_G]_kk` and its antiderivative
/// `G_k(lambda) = lambda - (1/2) log(1 + s_k^2 e^{2 lambda})`.
public struct GaussianLinearPart: Sendable {
  /// s_k^2, Sigma's eigenvalues (all equal in the isotropic form).
  public let variances: [Double]
  /// Q row-major, eigenvectors as columns; empty for the isotropic form (Q = I). For block-diagonal statistics,
  /// Q's diagonal blocks one after another (`DataStatistics.blockDiagonal`).
  public let basis: [Double]
  /// The size of Q's diagonal blocks (the dimension for one dense Q).
  public let blockSize: Int
  /// mu, for the sampler's inhomogeneous term.
  public let mean: [Double]
  /// `tr Sigma / d`: the variance of the scalar growth used for a_z and a_theta (docs/gaussian-linear-part.md#a-z).
  public let meanVariance: Double

  public var dimension: Int { variances.count }
  public var isIsotropic: Bool { basis.isEmpty }
  /// The variances the step weights are computed for, and where direction k finds its own: one when all are equal,
  /// the first block's when every block has the same (independent problems of one model side by side), else all.
  public var distinctVariances: (values: [Double], period: Int) {
    if variances.allSatisfy({ $0 == variances[0] }) { return ([variances[0]], 1) }
    let b = blockSize, first = Array(variances[0..<b])
    if stride(from: b, to: dimension, by: b).allSatisfy({ Array(variances[$0..<($0 + b)]) == first }) { return (first, b) }
    return (variances, dimension)
  }

  /// The linear part of `kind` (isotropic or gaussian) from the data statistics.
  public init(statistics: DataStatistics, kind: LinearPartKind) throws {
    switch kind {
    case .none: throw InvalidInput("linear-part", "'none' has no linear part to build")  // the caller uses the paper's solvers
    case .isotropic:
      // tr Sigma / d of each block (one block: of the whole Sigma)
      let b = statistics.blockSize
      variances = stride(from: 0, to: statistics.dimension, by: b).flatMap { o in
        [Double](repeating: statistics.eigenvalues[o..<(o + b)].reduce(0, +) / Double(b), count: b)
      }
      basis = []
    case .gaussian:
      variances = statistics.eigenvalues
      basis = statistics.eigenvectors
    }
    mean = statistics.mean
    meanVariance = statistics.meanVariance
    blockSize = statistics.blockSize
  }

  // MARK: - Functions of lambda

  /// `G(lambda) = lambda - (1/2) log(1 + s^2 e^{2 lambda})`, an antiderivative of `c`.
  @inlinable public static func G(_ lambda: Double, variance s2: Double) -> Double {
    lambda - 0.5 * log1p(s2 * exp(2 * lambda))
  }

  /// `c(lambda) = 1 / (1 + s^2 e^{2 lambda})`.
  @inlinable public static func c(_ lambda: Double, variance s2: Double) -> Double {
    1 / (1 + s2 * exp(2 * lambda))
  }

  /// `sigma(lambda) = (1 + e^{2 lambda})^{-1/2} = e^{-lambda} alpha(lambda)` for a VP schedule.
  @inlinable public static func sigma(_ lambda: Double) -> Double {
    lambda > 0 ? exp(-lambda) / sqrt(1 + exp(-2 * lambda)) : 1 / sqrt(1 + exp(2 * lambda))
  }

  // MARK: - The eigenbasis

  /// `Q^T v` (v itself for the isotropic form), block by block.
  public func toEigen(_ v: [Double]) -> [Double] {
    guard !isIsotropic else { return v }
    let d = blockSize
    var out = [Double](repeating: 0, count: dimension)
    for block in 0..<(dimension / d) {
      let o = block * d, q = block * d * d
      for i in 0..<d {
        let vi = v[o + i]
        if vi == 0 { continue }
        for k in 0..<d { out[o + k] += basis[q + i * d + k] * vi }
      }
    }
    return out
  }

  /// `Q v~` (v~ itself for the isotropic form), block by block.
  public func fromEigen(_ v: [Double]) -> [Double] {
    guard !isIsotropic else { return v }
    let d = blockSize
    var out = [Double](repeating: 0, count: dimension)
    for block in 0..<(dimension / d) {
      let o = block * d, q = block * d * d
      for i in 0..<d {
        var total = 0.0
        for k in 0..<d { total += basis[q + i * d + k] * v[o + k] }
        out[o + i] = total
      }
    }
    return out
  }
}
