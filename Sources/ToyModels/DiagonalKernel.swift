import CBLAS
import Foundation

extension GaussianMixture {
  /// The diagonal form, one sample at a time. With `c_ki = alpha^2 exp(2 log_std_ki) + sigma^2`,
  /// `u_k = (x - alpha mu_k) / c_k`, `l_k = log pi_k - (1/2) sum_i log c_ki - (1/2) (x - alpha mu_k) . u_k`,
  /// `r = softmax(l)`: `eps = sigma sum_k r_k u_k`.
  /// Reverse mode with cotangent v: `s_k = sigma v . u_k`, `gl_k = r_k (s_k - sum_j r_j s_j)`,
  /// `dL/d(x - alpha mu_k) = sigma r_k v / c_k - gl_k u_k` (summed over k: dL/dx; times -alpha: dL/dmu_k),
  /// `dL/dc_ki = -sigma r_k v_i u_ki / c_ki + gl_k (u_ki^2 - 1/c_ki) / 2`, `dc_ki/dlog_std_ki = 2 alpha^2 Sigma_ki`.
  func diagonalKernel(_ io: MixtureIO) {
    let K = componentCount, d = dataDimension, Kd = K * d
    let alpha = io.alpha, sigma = io.sigma
    let scratch = UnsafeMutablePointer<Double>.allocate(capacity: 4 * Kd + 3 * K + d)
    defer { scratch.deallocate() }
    let scaledMeans = scratch, inverseC = scratch + Kd, dCdLogStd = scratch + 2 * Kd, u = scratch + 3 * Kd
    let halfLogDet = scratch + 4 * Kd, l = halfLogDet + K, s = l + K, difference = s + K

    // Per call: alpha mu_k, 1 / c_k, (1/2) log det C_k and 2 alpha^2 Sigma_k.
    let alpha2 = alpha * alpha, sigma2 = sigma * sigma
    varianceValues.withUnsafeBufferPointer { variance in
      meanValues.withUnsafeBufferPointer { means in
        for j in 0..<Kd {
          scaledMeans[j] = alpha * means[j]
          inverseC[j] = 1 / (alpha2 * variance[j] + sigma2)
          dCdLogStd[j] = 2 * alpha2 * variance[j]
        }
        for k in 0..<K {
          var logDet = LogProduct()
          for i in 0..<d { logDet.multiply(alpha2 * variance[k * d + i] + sigma2) }
          halfLogDet[k] = 0.5 * logDet.value
        }
      }
    }

    for b in 0..<io.batch {
      let x = io.x + b * d, eps = io.eps + b * d, logPi = io.logPi + b * K
      for k in 0..<K {
        // Elementwise loops vectorize; the reductions go to BLAS (a plain Swift sum is one serial add chain).
        for i in 0..<d { difference[i] = x[i] - scaledMeans[k * d + i] }
        let uk = u + k * d, c = inverseC + k * d
        for i in 0..<d { uk[i] = difference[i] * c[i] }
        l[k] = logPi[k] - halfLogDet[k] - 0.5 * cblas_ddot(Int32(d), difference, 1, uk, 1)
      }
      logSoftmax(l, K)  // l_k <- log r_k
      for k in 0..<K { l[k] = exp(l[k]) }  // r_k
      for k in 0..<K {
        let weight = sigma * l[k]
        for i in 0..<d { eps[i] += weight * u[k * d + i] }
      }

      guard let vAll = io.v, let gradXAll = io.gradX else { continue }
      let v = vAll + b * d, gradX = gradXAll + b * d
      var meanS = 0.0
      for k in 0..<K {
        s[k] = sigma * cblas_ddot(Int32(d), v, 1, u + k * d, 1)
        meanS += l[k] * s[k]
      }
      for k in 0..<K {
        let r = l[k], gl = r * (s[k] - meanS), weight = sigma * r
        logPi[k] = gl
        let uk = u + k * d, c = inverseC + k * d
        for i in 0..<d { difference[i] = weight * v[i] * c[i] - gl * uk[i] }  // dL/d(x - alpha mu_k)
        for i in 0..<d { gradX[i] += difference[i] }
        if let gradMeans = io.gradMeans {
          let g = gradMeans + k * d
          for i in 0..<d { g[i] -= alpha * difference[i] }
        }
        if let gradLogStd = io.gradLogStd {
          let g = gradLogStd + k * d, dC = dCdLogStd + k * d
          for i in 0..<d { g[i] += (-weight * v[i] * uk[i] * c[i] + 0.5 * gl * (uk[i] * uk[i] - c[i])) * dC[i] }
        }
      }
    }
  }
}
