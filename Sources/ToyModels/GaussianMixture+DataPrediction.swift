import DiffusionCore
import Foundation

/// The mixture's data prediction and velocity on every schedule (docs/math.md#beyond-vp):
/// `x0-hat = (x - sigma eps) / alpha` for alpha > 0, `x0-hat = sum_k pi_k(z) mu_k` at alpha = 0 (the posterior is the
/// prior there), and `v = alpha' x0-hat + sigma' eps`, with their VJPs in x, z and theta.
extension GaussianMixture {
  /// `sum_k pi_k(z_b) mu_k` for each of the B rows of z (docs/math.md#noise-end).
  public func noiseEndPrediction(z: [Double], batch B: Int) throws -> [Double] {
    try Check.count(z, B * conditionDimension, "z")
    try Check.finite(z, "z")
    let (K, d) = (componentCount, dataDimension)
    var logPi = [Double](repeating: 0, count: B * K)
    logMixtureWeights(z, batch: B, logPi: &logPi)
    var out = [Double](repeating: 0, count: B * d)
    for b in 0..<B { for k in 0..<K { let p = exp(logPi[b * K + k]); for i in 0..<d { out[b * d + i] += p * meanValues[k * d + i] } } }
    return out
  }

  /// With `dL/dmu_k = pi_k v`, `dL/da_k = pi_k (v . mu_k - v . x0-hat)` (a = logits + W z): logits, W and z as in
  /// docs/math.md#mixture-vjps; log_std has no part (zero) and neither has x.
  public func noiseEndVJP(z: [Double], batch B: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP {
    let prediction = try noiseEndPrediction(z: z, batch: B)
    let (K, d, m) = (componentCount, dataDimension, conditionDimension)
    try Check.count(v, B * d, "cotangent")
    try Check.finite(v, "cotangent")
    var logPi = [Double](repeating: 0, count: B * K)
    logMixtureWeights(z, batch: B, logPi: &logPi)
    var gz = [Double](repeating: 0, count: B * m)
    var theta = [Double](repeating: 0, count: wantParameters ? parameterCount : 0)
    for b in 0..<B {
      var vm = 0.0
      for i in 0..<d { vm += v[b * d + i] * prediction[b * d + i] }
      for k in 0..<K {
        let p = exp(logPi[b * K + k])
        var vmu = 0.0
        for i in 0..<d { vmu += v[b * d + i] * meanValues[k * d + i] }
        let ga = p * (vmu - vm)
        for j in 0..<m { gz[b * m + j] += ga * weightValues[k * m + j] }
        guard wantParameters else { continue }
        for i in 0..<d { theta[k * d + i] += p * v[b * d + i] }
        theta[K * d + k] += ga
        for j in 0..<m { theta[K * d + K + k * m + j] += ga * z[b * m + j] }
      }
    }
    return NoiseVJP(eps: prediction, x: [Double](repeating: 0, count: B * d), z: gz, theta: theta)
  }

  /// `x0-hat(x, z, t)` for B samples.
  public func dataPrediction(_ x: [Double], z: [Double], t: Double, batch B: Int) throws -> [Double] {
    let (alpha, sigma) = try coefficients(t)
    if alpha == 0 { return try noiseEndPrediction(z: z, batch: B) }
    let e = try eps(x, z: z, t: t, batch: B)
    return (0..<x.count).map { (x[$0] - sigma * e[$0]) / alpha }
  }

  /// x0-hat and its VJPs (in the returned value's `eps` field): `v^T dx0/dx = (v - sigma v^T J) / alpha`, z and theta
  /// `-(sigma / alpha)` times eps's.
  public func dataVJP(_ x: [Double], z: [Double], t: Double, batch B: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP {
    let (alpha, sigma) = try coefficients(t)
    if alpha == 0 {
      try validateInputs(x, z: z, t: t, batch: B, cotangent: v)
      return try noiseEndVJP(z: z, batch: B, cotangent: v, wantParameters: wantParameters)
    }
    let r = try vjp(x, z: z, t: t, batch: B, cotangent: v, wantParameters: wantParameters)
    let k = -sigma / alpha
    return NoiseVJP(eps: (0..<x.count).map { (x[$0] - sigma * r.eps[$0]) / alpha },
                    x: (0..<x.count).map { (v[$0] - sigma * r.x[$0]) / alpha }, z: r.z.map { k * $0 }, theta: r.theta.map { k * $0 })
  }

  /// The velocity `dx/dt = alpha' x0-hat + sigma' eps` of the probability-flow ODE (docs/math.md#beyond-vp).
  public func velocity(_ x: [Double], z: [Double], t: Double, batch B: Int) throws -> [Double] {
    let (da, ds) = (schedule.dAlphaDt(t), schedule.dSigmaDt(t))
    let x0 = try dataPrediction(x, z: z, t: t, batch: B), e = try eps(x, z: z, t: t, batch: B)
    return (0..<x.count).map { da * x0[$0] + ds * e[$0] }
  }

  /// The velocity's VJPs: `alpha'` times x0-hat's plus `sigma'` times eps's (the `eps` field holds v).
  public func velocityVJP(_ x: [Double], z: [Double], t: Double, batch B: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP {
    let (da, ds) = (schedule.dAlphaDt(t), schedule.dSigmaDt(t))
    let a = try dataVJP(x, z: z, t: t, batch: B, cotangent: v, wantParameters: wantParameters)
    let e = try vjp(x, z: z, t: t, batch: B, cotangent: v, wantParameters: wantParameters)
    let e0 = try eps(x, z: z, t: t, batch: B)
    func mix(_ p: [Double], _ q: [Double]) -> [Double] { zip(p, q).map { da * $0 + ds * $1 } }
    return NoiseVJP(eps: mix(a.eps, e0), x: mix(a.x, e.x), z: mix(a.z, e.z), theta: mix(a.theta, e.theta))
  }
}
