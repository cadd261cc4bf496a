import CBLAS
import Foundation

extension GaussianMixture {
  /// The full-covariance form, in each component's eigenbasis `Sigma_k = U_k diag(s_k) U_k^T`:
  /// `C_k(t) = U_k diag(e_k) U_k^T` with `e_k = alpha^2 s_k + sigma^2` (no factorization per t).
  /// `y_k = U_k^T (x - alpha mu_k)`, `w_k = y_k / e_k`, `u_k = C_k^{-1}(x - alpha mu_k) = U_k w_k`,
  /// `l_k = log pi_k - (1/2) sum log e_k - (1/2) y_k . w_k`, `r = softmax(l)`, `eps = sigma sum_k r_k U_k w_k`.
  /// Reverse mode with cotangent v: `s_k = sigma (U_k^T v) . w_k`, `gl_k = r_k (s_k - sum_j r_j s_j)`,
  /// `dL/d(x - alpha mu_k) = U_k (sigma r_k (U_k^T v) / e_k - gl_k w_k)`.
  /// All products with U_k are BLAS calls over the whole batch.
  func fullCovarianceKernel(_ io: MixtureIO) {
    let K = componentCount, d = dataDimension, B = io.batch, Bd = B * d
    let alpha = io.alpha, sigma = io.sigma
    let wantVJP = io.v != nil
    let capacity = K * d + K + Bd + (wantVJP ? 2 : 1) * K * Bd + 2 * B * K + 4 * Bd
    let scratch = UnsafeMutablePointer<Double>.allocate(capacity: capacity)
    defer { scratch.deallocate() }
    let inverseE = scratch, halfLogDet = inverseE + K * d, difference = halfLogDet + K
    let projected = difference + Bd                      // K x B x d: w_k for each sample
    let projectedV = projected + K * Bd                  // K x B x d: U_k^T v (VJP only)
    let l = projectedV + (wantVJP ? K * Bd : 0)          // B x K
    let s = l + B * K                                    // B x K
    let stacked = s + B * K                              // 2B x d: [sigma r_k w_k ; dL/dy_k]
    let product = stacked + 2 * Bd                       // 2B x d: stacked U_k^T

    let alpha2 = alpha * alpha, sigma2 = sigma * sigma
    for k in 0..<K {
      var logDet = 0.0
      for i in 0..<d {
        let e = alpha2 * eigenvalues[k * d + i] + sigma2
        inverseE[k * d + i] = 1 / e
        logDet += log(e)
      }
      halfLogDet[k] = 0.5 * logDet
    }

    eigenvectors.withUnsafeBufferPointer { allU in
      meanValues.withUnsafeBufferPointer { means in
        // Forward: y_k = U_k^T (x - alpha mu_k) for all samples, then w_k and l.
        for k in 0..<K {
          let U = allU.baseAddress! + k * d * d, mu = means.baseAddress! + k * d  // invariant: d >= 1
          for b in 0..<B { for i in 0..<d { difference[b * d + i] = io.x[b * d + i] - alpha * mu[i] } }
          let w = projected + k * Bd
          Self.rowsTimes(difference, rows: B, U, d, transposed: false, into: w)
          for b in 0..<B {
            var quadratic = 0.0
            for i in 0..<d {
              let y = w[b * d + i], scaled = y * inverseE[k * d + i]
              w[b * d + i] = scaled
              quadratic += y * scaled
            }
            l[b * K + k] = io.logPi[b * K + k] - halfLogDet[k] - 0.5 * quadratic
          }
          if let v = io.v { Self.rowsTimes(v, rows: B, U, d, transposed: false, into: projectedV + k * Bd) }
        }
        for b in 0..<B {
          logSoftmax(l + b * K, K)
          for k in 0..<K { l[b * K + k] = exp(l[b * K + k]) }  // r_bk
        }
        if wantVJP {
          for b in 0..<B {
            var meanS = 0.0
            for k in 0..<K {
              let w = projected + k * Bd + b * d, vt = projectedV + k * Bd + b * d
              var dot = 0.0
              for i in 0..<d { dot += vt[i] * w[i] }
              s[b * K + k] = sigma * dot
              meanS += l[b * K + k] * s[b * K + k]
            }
            for k in 0..<K { io.logPi[b * K + k] = l[b * K + k] * (s[b * K + k] - meanS) }  // gl_bk
          }
        }
        // Back to data space: eps += (sigma r_k w_k) U_k^T, dL/d(x - alpha mu_k) = (dL/dy_k) U_k^T.
        let rows = wantVJP ? 2 * B : B
        for k in 0..<K {
          let U = allU.baseAddress! + k * d * d
          for b in 0..<B {
            let r = l[b * K + k], w = projected + k * Bd + b * d
            let top = stacked + b * d
            for i in 0..<d { top[i] = sigma * r * w[i] }
            if wantVJP {
              let vt = projectedV + k * Bd + b * d, gl = io.logPi[b * K + k]
              let bottom = stacked + Bd + b * d
              for i in 0..<d { bottom[i] = sigma * r * vt[i] * inverseE[k * d + i] - gl * w[i] }
            }
          }
          Self.rowsTimes(stacked, rows: rows, U, d, transposed: true, into: product)
          for j in 0..<Bd { io.eps[j] += product[j] }
          if let gradX = io.gradX {
            for j in 0..<Bd { gradX[j] += product[Bd + j] }
          }
          if let gradMeans = io.gradMeans {
            for b in 0..<B { for i in 0..<d { gradMeans[k * d + i] -= alpha * product[Bd + b * d + i] } }
          }
        }
      }
    }
  }

  /// `out = A U` (or `A U^T` when transposed) for `rows x d` A and d x d U, all row-major.
  static func rowsTimes(_ A: UnsafePointer<Double>, rows: Int, _ U: UnsafePointer<Double>, _ d: Int,
                        transposed: Bool, into out: UnsafeMutablePointer<Double>) {
    let n = Int32(d)
    if rows == 1 {
      // out = U^T a (or U a).
      cblas_dgemv(CblasRowMajor, transposed ? CblasNoTrans : CblasTrans, n, n, 1, U, n, A, 1, 0, out, 1)
    } else {
      cblas_dgemm(CblasRowMajor, CblasNoTrans, transposed ? CblasTrans : CblasNoTrans, Int32(rows), n, n, 1,
                  A, n, U, n, 0, out, n)
    }
  }
}
