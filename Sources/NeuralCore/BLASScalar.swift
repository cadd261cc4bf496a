import CBLAS
import Foundation

/// A floating-point type the network computes in: Float or Double, with the BLAS routines and
/// elementary functions the layers need dispatched to the matching single or double precision call.
public protocol BLASScalar: BinaryFloatingPoint, SIMDScalar, Sendable, Codable, CustomStringConvertible {
  /// Row-major `C = alpha op(A) op(B) + beta C` (cblas_sgemm / cblas_dgemm); op(A) is m x k, op(B) is k x n.
  static func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
    _ a: UnsafePointer<Self>, lda: Int, _ b: UnsafePointer<Self>, ldb: Int,
    beta: Self, _ c: UnsafeMutablePointer<Self>, ldc: Int)
  static func exponential(_ x: Self) -> Self
  /// `p[i] <- e^{p[i]}` for `count` numbers: vectorized for Float (`exponentialsInPlace`), `exponential` one by
  /// one for Double (whose values the golden fixtures pin to 1e-10).
  static func exponentials(_ p: UnsafeMutablePointer<Self>, count: Int)
  /// The precision's name as used on the command line: "float32" or "float64".
  static var dtypeName: String { get }
}

extension Float: BLASScalar {
  @inlinable public static func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
    beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    cblas_sgemm(
      CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
      blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
  }
  @inlinable public static func exponential(_ x: Float) -> Float { Foundation.exp(x) }
  @inlinable public static func exponentials(_ p: UnsafeMutablePointer<Float>, count: Int) { exponentialsInPlace(p, count: count) }
  public static var dtypeName: String { "float32" }
}

extension Double: BLASScalar {
  @inlinable public static func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
    _ a: UnsafePointer<Double>, lda: Int, _ b: UnsafePointer<Double>, ldb: Int,
    beta: Double, _ c: UnsafeMutablePointer<Double>, ldc: Int
  ) {
    cblas_dgemm(
      CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
      blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
  }
  @inlinable public static func exponential(_ x: Double) -> Double { Foundation.exp(x) }
  @inlinable public static func exponentials(_ p: UnsafeMutablePointer<Double>, count: Int) {
    for i in 0..<count { p[i] = Foundation.exp(p[i]) }
  }
  public static var dtypeName: String { "float64" }
}

/// The number of threads OpenBLAS uses for the matrix products, and the network's other passes (0 or less
/// leaves the defaults).
public func setBLASThreads(_ n: Int) {
  if n > 0 {
    openblas_set_num_threads(Int32(n))
    ParallelRanges.threads = n
  }
}
