import CBLAS
import DiffusionCore
import Foundation

/// Raw views of one evaluation's inputs and outputs (B samples, flat row-major), valid inside `evaluate`.
struct MixtureIO {
  let batch: Int
  let alpha: Double
  let sigma: Double
  let x: UnsafePointer<Double>        // B x d
  let v: UnsafePointer<Double>?       // B x d, nil for eps only
  let logPi: UnsafeMutablePointer<Double>  // B x K, log pi_k(z_b); the kernel overwrites it with gl = dL/dl
  let eps: UnsafeMutablePointer<Double>    // B x d
  let gradX: UnsafeMutablePointer<Double>? // B x d
  let gradMeans: UnsafeMutablePointer<Double>?   // K x d, summed over the batch
  let gradLogStd: UnsafeMutablePointer<Double>?  // K x d, diagonal form only
}

extension GaussianMixture {
  public func eps(_ x: [Double], z: [Double], t: Double, batch: Int) throws -> [Double] {
    try validateInputs(x, z: z, t: t, batch: batch)
    return try evaluate(x, z: z, t: t, batch: batch, cotangent: nil, wantParameters: false).eps
  }

  public func vjp(_ x: [Double], z: [Double], t: Double, batch: Int, cotangent v: [Double],
                  wantParameters: Bool) throws -> NoiseVJP {
    try validateInputs(x, z: z, t: t, batch: batch, cotangent: v)
    return try evaluate(x, z: z, t: t, batch: batch, cotangent: v, wantParameters: wantParameters)
  }

  /// `(alpha_t, sigma_t)`, throwing when t lies outside the schedule's domain.
  func coefficients(_ t: Double) throws -> (Double, Double) {
    let alpha = schedule.alpha(t), sigma = schedule.sigma(t)
    // flow matching reaches alpha = 0 at t = 1, where eps = x / sigma is still finite (docs/math.md#noise-end)
    let inside = schedule.isVariancePreserving ? alpha > 0 : alpha >= 0 && sigma > 0
    guard alpha.isFinite, sigma.isFinite, inside else {
      throw InvalidInput("t", "\(t) is outside the domain of the \(schedule.name) schedule (alpha = \(alpha), sigma = \(sigma))")
    }
    return (alpha, sigma)
  }

  /// eps and, with a cotangent, the VJPs. The mixture-weight part is shared by both forms:
  /// `a = logits + W z`, `log pi = a - logsumexp(a)`; with `gl = dL/d(log pi + log N)`,
  /// `dL/da = gl - pi sum_k gl_k`, `dL/dlogits = sum_b dL/da`, `dL/dW = (dL/da)^T Z`, `dL/dz = (dL/da) W`.
  func evaluate(_ x: [Double], z: [Double], t: Double, batch B: Int, cotangent v: [Double]?,
                wantParameters: Bool) throws -> NoiseVJP {
    let (alpha, sigma) = try coefficients(t)
    // Single-threaded BLAS: the same numbers for any thread count (SerialBLAS).
    return SerialBLAS.run { evaluate(x, z: z, alpha: alpha, sigma: sigma, batch: B, cotangent: v, wantParameters: wantParameters) }
  }

  private func evaluate(_ x: [Double], z: [Double], alpha: Double, sigma: Double, batch B: Int, cotangent v: [Double]?,
                        wantParameters: Bool) -> NoiseVJP {
    let K = componentCount, d = dataDimension, m = conditionDimension
    let wantInputs = v != nil, wantTheta = wantInputs && wantParameters
    var eps = [Double](repeating: 0, count: B * d)
    var gradX = [Double](repeating: 0, count: wantInputs ? B * d : 0)
    var gradZ = [Double](repeating: 0, count: wantInputs ? B * m : 0)
    var theta = [Double](repeating: 0, count: wantTheta ? parameterCount : 0)
    var logPi = [Double](repeating: 0, count: B * K)
    var pi = [Double](repeating: 0, count: B * K)
    logMixtureWeights(z, batch: B, logPi: &logPi)
    for i in 0..<(B * K) { pi[i] = exp(logPi[i]) }

    x.withUnsafeBufferPointer { xp in
      (v ?? []).withUnsafeBufferPointer { vp in
        eps.withUnsafeMutableBufferPointer { ep in
          gradX.withUnsafeMutableBufferPointer { gxp in
            theta.withUnsafeMutableBufferPointer { tp in
              logPi.withUnsafeMutableBufferPointer { lp in
                let logStdOffset = K * d + K + K * m
                let io = MixtureIO(
                  batch: B, alpha: alpha, sigma: sigma, x: xp.baseAddress!,  // invariant: B * d >= 1
                  v: wantInputs ? vp.baseAddress : nil, logPi: lp.baseAddress!, eps: ep.baseAddress!,
                  gradX: wantInputs ? gxp.baseAddress : nil,
                  gradMeans: wantTheta ? tp.baseAddress : nil,
                  gradLogStd: wantTheta && covariance == .diagonal ? tp.baseAddress! + logStdOffset : nil)
                switch covariance {
                case .diagonal: diagonalKernel(io)
                case .full: fullCovarianceKernel(io)
                }
              }
            }
          }
        }
      }
    }
    guard wantInputs else { return NoiseVJP(eps: eps, x: [], z: [], theta: []) }

    // logPi now holds gl; turn it into dL/da = gl - pi sum_k gl_k.
    var gradA = logPi
    for b in 0..<B {
      var total = 0.0
      for k in 0..<K { total += gradA[b * K + k] }
      for k in 0..<K { gradA[b * K + k] -= pi[b * K + k] * total }
    }
    if wantTheta {
      for b in 0..<B { for k in 0..<K { theta[K * d + k] += gradA[b * K + k] } }
    }
    if m > 0 {
      // dL/dz = (dL/da) W  (B x K times K x m); dL/dW = (dL/da)^T Z  (K x B times B x m).
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(B), Int32(m), Int32(K), 1, gradA, Int32(K),
                  weightValues, Int32(m), 0, &gradZ, Int32(m))
      if wantTheta {
        theta.withUnsafeMutableBufferPointer { tp in
          cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(K), Int32(m), Int32(B), 1, gradA, Int32(K),
                      z, Int32(m), 0, tp.baseAddress! + K * d + K, Int32(m))
        }
      }
    }
    return NoiseVJP(eps: eps, x: gradX, z: gradZ, theta: theta)
  }

  /// `log pi_k(z_b) = a_k - logsumexp(a)` with `a = logits + W z_b`, for each sample (B x K).
  func logMixtureWeights(_ z: [Double], batch B: Int, logPi: inout [Double]) {
    let K = componentCount, m = conditionDimension
    for b in 0..<B { for k in 0..<K { logPi[b * K + k] = logitValues[k] } }
    if m > 0 {
      SerialBLAS.run {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(B), Int32(K), Int32(m), 1, z, Int32(m),
                    weightValues, Int32(m), 1, &logPi, Int32(K))
      }
    }
    logPi.withUnsafeMutableBufferPointer { p in
      for b in 0..<B { logSoftmax(p.baseAddress! + b * K, K) }
    }
  }
}

/// In place: `l_k <- l_k - logsumexp(l)` (stable: the maximum is subtracted first).
@inline(__always) func logSoftmax(_ l: UnsafeMutablePointer<Double>, _ n: Int) {
  var top = -Double.infinity
  for k in 0..<n { top = max(top, l[k]) }
  var total = 0.0
  for k in 0..<n { total += exp(l[k] - top) }
  let lse = top + log(total)
  for k in 0..<n { l[k] -= lse }
}
