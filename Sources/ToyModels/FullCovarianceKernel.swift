import CBLAS
import Foundation

extension GaussianMixture {
  /// The full-covariance form, in each component's eigenbasis `Sigma_k = U_k diag(s_k) U_k^T`:
  /// `C_k(t) = U_k diag(e_k) U_k^T` with `e_k = alpha^2 s_k + sigma^2` (no factorization per t).
  /// `y_k = U_k^T (x - alpha mu_k)`, `w_k = y_k / e_k`, `u_k = C_k^{-1}(x - alpha mu_k) = U_k w_k`,
  /// `l_k = log pi_k - (1/2) sum log e_k - (1/2) y_k . w_k`, `r = softmax(l)`, `eps = sigma sum_k r_k u_k`.
  /// Reverse mode with cotangent v: `s_k = sigma (U_k^T v) . w_k`, `gl_k = r_k (s_k - sum_j r_j s_j)`,
  /// `q_k = C_k^{-1} v = U_k ((U_k^T v) / e_k)`, `dL/d(x - alpha mu_k) = sigma r_k q_k - gl_k u_k`.
  /// Each U_k is used by two BLAS calls back to back (while it is in cache): `[x - alpha mu_k; v] U_k`,
  /// then `[w_k; (U_k^T v) / e_k] U_k^T = [u_k; q_k]`; everything after is elementwise.
  func fullCovarianceKernel(_ io: MixtureIO) {
    let K = componentCount, d = dataDimension, B = io.batch, Bd = B * d
    let alpha = io.alpha, sigma = io.sigma
    let wantVJP = io.v != nil
    let rows = wantVJP ? 2 * B : B, block = rows * d  // [samples; cotangents]
    let capacity = K * d + K + 2 * block + K * block + 2 * B * K
    let scratch = UnsafeMutablePointer<Double>.allocate(capacity: capacity)
    defer { scratch.deallocate() }
    let inverseE = scratch, halfLogDet = inverseE + K * d
    let input = halfLogDet + K, projected = input + block  // rows x d each
    let back = projected + block                           // K x rows x d: [u_k; q_k]
    let l = back + K * block, s = l + B * K                // B x K each

    let alpha2 = alpha * alpha, sigma2 = sigma * sigma
    for k in 0..<K {
      var logDet = LogProduct()
      for i in 0..<d {
        let e = alpha2 * eigenvalues[k * d + i] + sigma2
        inverseE[k * d + i] = 1 / e
        logDet.multiply(e)
      }
      halfLogDet[k] = 0.5 * logDet.value
    }
    if let v = io.v { (input + Bd).update(from: v, count: Bd) }

    eigenvectors.withUnsafeBufferPointer { allU in
      meanValues.withUnsafeBufferPointer { means in
        for k in 0..<K {
          let U = allU.baseAddress! + k * d * d, mu = means.baseAddress! + k * d  // invariant: d >= 1
          let e = inverseE + k * d
          for b in 0..<B { for i in 0..<d { input[b * d + i] = io.x[b * d + i] - alpha * mu[i] } }
          Self.rowsTimes(input, rows: rows, U, d, transposed: false, into: projected)
          for b in 0..<B {
            // Elementwise loops vectorize; the dot products go to BLAS (a Swift sum is one serial add chain).
            let w = projected + b * d
            for i in 0..<d { w[i] *= e[i] }
            if wantVJP {
              let vt = projected + Bd + b * d
              s[b * K + k] = sigma * cblas_ddot(Int32(d), vt, 1, w, 1)
              for i in 0..<d { vt[i] *= e[i] }
            }
          }
          let uk = back + k * block
          Self.rowsTimes(projected, rows: rows, U, d, transposed: true, into: uk)
          for b in 0..<B {
            // y_k . w_k = (x - alpha mu_k) . u_k
            let quadratic = cblas_ddot(Int32(d), input + b * d, 1, uk + b * d, 1)
            l[b * K + k] = io.logPi[b * K + k] - halfLogDet[k] - 0.5 * quadratic
          }
        }
      }
    }

    for b in 0..<B {
      logSoftmax(l + b * K, K)
      var meanS = 0.0
      for k in 0..<K {
        l[b * K + k] = exp(l[b * K + k])  // r_bk
        meanS += l[b * K + k] * s[b * K + k]
      }
      let eps = io.eps + b * d
      for k in 0..<K {
        let r = l[b * K + k], u = back + k * block + b * d
        for i in 0..<d { eps[i] += sigma * r * u[i] }
        guard wantVJP, let gradXAll = io.gradX else { continue }
        let gl = r * (s[b * K + k] - meanS), q = u + Bd, gradX = gradXAll + b * d
        io.logPi[b * K + k] = gl
        for i in 0..<d {
          let gradDifference = sigma * r * q[i] - gl * u[i]
          gradX[i] += gradDifference
          if let gradMeans = io.gradMeans { gradMeans[k * d + i] -= alpha * gradDifference }
        }
      }
    }
  }

  /// Up to this many rows, `rowsTimes` makes one gemv per row (measured faster than gemm at d = 256).
  static let gemvRowLimit = 4

  /// `out = A U` (or `A U^T` when transposed) for `rows x d` A and d x d U, all row-major.
  static func rowsTimes(_ A: UnsafePointer<Double>, rows: Int, _ U: UnsafePointer<Double>, _ d: Int,
                        transposed: Bool, into out: UnsafeMutablePointer<Double>) {
    let n = Int32(d)
    if rows <= gemvRowLimit {
      // Row by row, out_r = U^T a_r (or U a_r): for few rows, gemm's packing of U costs more than it saves.
      for r in 0..<rows {
        cblas_dgemv(CblasRowMajor, transposed ? CblasNoTrans : CblasTrans, n, n, 1, U, n, A + r * d, 1, 0, out + r * d, 1)
      }
    } else {
      cblas_dgemm(CblasRowMajor, CblasNoTrans, transposed ? CblasTrans : CblasNoTrans, Int32(rows), n, n, 1,
                  A, n, U, n, 0, out, n)
    }
  }
}
