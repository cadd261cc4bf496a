import DiffusionCore
import Foundation

/// A conditional Gaussian data distribution `N(mu + W z, diag(s^2))` in d dimensions, m-dimensional z, whose exact
/// noise prediction is `eps = sigma (x - alpha m)/(alpha^2 s^2 + sigma^2)` elementwise with `m = mu + W z`.
/// theta = {mu (d), W (d x m, row-major), log s (d)}. VJPs by hand (checked by finite differences in the tests).
struct TestGaussian: NoisePredictor {
  let schedule: NoiseSchedule
  let dataDimension: Int
  let conditionDimension: Int
  var mu: [Double]
  var w: [Double]
  var logS: [Double]

  var parameterBlocks: [ParameterBlock] {
    [ParameterBlock(name: "mu", shape: [dataDimension]), ParameterBlock(name: "W", shape: [dataDimension, conditionDimension]),
     ParameterBlock(name: "logS", shape: [dataDimension])]
  }
  var parameters: [Double] { mu + w + logS }

  func replacingParameters(_ theta: [Double]) throws -> TestGaussian {
    let d = dataDimension, m = conditionDimension
    try Check.count(theta, 2 * d + d * m, "theta")
    var copy = self
    copy.mu = Array(theta[0..<d])
    copy.w = Array(theta[d..<(d + d * m)])
    copy.logS = Array(theta[(d + d * m)...])
    return copy
  }

  /// m = mu + W z for one sample.
  func mean(_ z: ArraySlice<Double>) -> [Double] {
    let d = dataDimension, m = conditionDimension, z0 = z.startIndex
    var result = mu
    for j in 0..<d {
      for k in 0..<m { result[j] += w[j * m + k] * z[z0 + k] }
    }
    return result
  }

  func eps(_ x: [Double], z: [Double], t: Double, batch: Int) throws -> [Double] {
    try validateInputs(x, z: z, t: t, batch: batch)
    let d = dataDimension, m = conditionDimension
    let a = schedule.alpha(t), s = schedule.sigma(t)
    var e = [Double](repeating: 0, count: batch * d)
    for b in 0..<batch {
      let mb = mean(z[(b * m)..<((b + 1) * m)])
      for j in 0..<d {
        let sj = exp(logS[j]), den = a * a * sj * sj + s * s
        e[b * d + j] = s * (x[b * d + j] - a * mb[j]) / den
      }
    }
    return e
  }

  func vjp(_ x: [Double], z: [Double], t: Double, batch: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP {
    try validateInputs(x, z: z, t: t, batch: batch, cotangent: v)
    let d = dataDimension, m = conditionDimension
    let a = schedule.alpha(t), s = schedule.sigma(t)
    var e = [Double](repeating: 0, count: batch * d), gx = e
    var gz = [Double](repeating: 0, count: batch * m)
    var gmu = [Double](repeating: 0, count: d), gw = [Double](repeating: 0, count: d * m), gls = gmu
    for b in 0..<batch {
      let zb = z[(b * m)..<((b + 1) * m)]
      let mb = mean(zb)
      for j in 0..<d {
        let sj = exp(logS[j]), den = a * a * sj * sj + s * s
        let r = x[b * d + j] - a * mb[j], vj = v[b * d + j]
        e[b * d + j] = s * r / den
        gx[b * d + j] = vj * s / den  // d eps_j/dx_j
        let gm = -a * vj * s / den  // d eps_j/dm_j
        for k in 0..<m { gz[b * m + k] += w[j * m + k] * gm }
        gmu[j] += gm
        for k in 0..<m { gw[j * m + k] += gm * zb[zb.startIndex + k] }
        gls[j] += vj * s * r * (-1 / (den * den)) * 2 * a * a * sj * sj  // d den/d log s = 2 alpha^2 s^2
      }
    }
    return NoiseVJP(eps: e, x: gx, z: gz, theta: wantParameters ? gmu + gw + gls : [])
  }

  /// The exact probability-flow map (any VP schedule): `x_t = alpha_t m + sqrt(D_t) u`, `D_t = alpha_t^2 s^2 + sigma_t^2`,
  /// with u constant along the flow, so `x_0 = alpha_0 m + sqrt(D_0/D_T) (x_T - alpha_T m)`.
  func exactX0(xT: [Double], z: [Double], T: Double, tEps: Double) -> [Double] {
    let m = mean(z[...])
    let a0 = schedule.alpha(tEps), aT = schedule.alpha(T), s0 = schedule.sigma(tEps), sT = schedule.sigma(T)
    return (0..<dataDimension).map { j in
      let s2 = exp(2 * logS[j])
      let r = sqrt((a0 * a0 * s2 + s0 * s0) / (aT * aT * s2 + sT * sT))
      return a0 * m[j] + r * (xT[j] - aT * m[j])
    }
  }

  /// The exact gradient of `L = 0.5 |x_0 - target|^2` through `exactX0`: (dL/dx_T, dL/dz, dL/dtheta).
  func exactGradient(xT: [Double], z: [Double], T: Double, tEps: Double, target: [Double])
    -> (xT: [Double], z: [Double], theta: [Double])
  {
    let d = dataDimension, mDim = conditionDimension
    let m = mean(z[...]), x0 = exactX0(xT: xT, z: z, T: T, tEps: tEps)
    let a0 = schedule.alpha(tEps), aT = schedule.alpha(T), s0 = schedule.sigma(tEps), sT = schedule.sigma(T)
    var gxT = [Double](repeating: 0, count: d), gm = gxT, gls = gxT
    for j in 0..<d {
      let s2 = exp(2 * logS[j])
      let d0 = a0 * a0 * s2 + s0 * s0, dT = aT * aT * s2 + sT * sT
      let r = sqrt(d0 / dT), g = x0[j] - target[j]
      gxT[j] = r * g
      gm[j] = (a0 - r * aT) * g
      // d log r / d log s = s^2 (alpha_0^2/D_0 - alpha_T^2/D_T)
      gls[j] = g * r * s2 * (a0 * a0 / d0 - aT * aT / dT) * (xT[j] - aT * m[j])
    }
    let gz = (0..<mDim).map { k in (0..<d).reduce(0.0) { $0 + w[$1 * mDim + k] * gm[$1] } }
    var gw = [Double](repeating: 0, count: d * mDim)
    for j in 0..<d { for k in 0..<mDim { gw[j * mDim + k] = gm[j] * z[k] } }
    return (gxT, gz, gm + gw + gls)
  }
}

/// A 1-d mixture of K Gaussians with a scalar z shifting the means: `p(x_0 | z) = sum_k pi_k N(mu_k + b_k z, s_k^2)`,
/// `pi = softmax(logits)`. Its exact noise prediction is nonlinear in x:
/// `eps = sigma sum_k r_k e_k`, `e_k = (x - alpha mu_k(z))/D_k`, `D_k = alpha^2 s_k^2 + sigma^2`,
/// `r_k = softmax_k(logit_k - log(D_k)/2 - (x - alpha mu_k)^2/(2 D_k))`.
/// theta = {mu (K), b (K), log s (K), logits (K)}.
struct TestMixture1D: NoisePredictor {
  let schedule: NoiseSchedule
  var mu: [Double]
  var b: [Double]
  var logS: [Double]
  var logits: [Double]

  var dataDimension: Int { 1 }
  var conditionDimension: Int { 1 }
  var components: Int { mu.count }
  var parameterBlocks: [ParameterBlock] {
    ["mu", "b", "logS", "logits"].map { ParameterBlock(name: $0, shape: [components]) }
  }
  var parameters: [Double] { mu + b + logS + logits }

  func replacingParameters(_ theta: [Double]) throws -> TestMixture1D {
    let k = components
    try Check.count(theta, 4 * k, "theta")
    var copy = self
    copy.mu = Array(theta[0..<k])
    copy.b = Array(theta[k..<(2 * k)])
    copy.logS = Array(theta[(2 * k)..<(3 * k)])
    copy.logits = Array(theta[(3 * k)...])
    return copy
  }

  /// Responsibilities r_k, e_k and D_k at one sample.
  func parts(x: Double, z: Double, alpha a: Double, sigma s: Double) -> (r: [Double], e: [Double], den: [Double]) {
    let k = components
    var den = [Double](repeating: 0, count: k), e = den, logit = den
    for i in 0..<k {
      let si = exp(logS[i])
      den[i] = a * a * si * si + s * s
      let diff = x - a * (mu[i] + b[i] * z)
      e[i] = diff / den[i]
      logit[i] = logits[i] - 0.5 * log(den[i]) - 0.5 * diff * diff / den[i]
    }
    let top = logit.max()!
    var r = logit.map { exp($0 - top) }
    let total = r.reduce(0, +)
    for i in 0..<k { r[i] /= total }
    return (r, e, den)
  }

  func eps(_ x: [Double], z: [Double], t: Double, batch: Int) throws -> [Double] {
    try validateInputs(x, z: z, t: t, batch: batch)
    let a = schedule.alpha(t), s = schedule.sigma(t)
    return (0..<batch).map { n in
      let p = parts(x: x[n], z: z[n], alpha: a, sigma: s)
      return s * zip(p.r, p.e).reduce(0) { $0 + $1.0 * $1.1 }
    }
  }

  func vjp(_ x: [Double], z: [Double], t: Double, batch: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP {
    try validateInputs(x, z: z, t: t, batch: batch, cotangent: v)
    let k = components
    let a = schedule.alpha(t), s = schedule.sigma(t)
    var e = [Double](repeating: 0, count: batch), gx = e, gz = e
    var gmu = [Double](repeating: 0, count: k), gb = gmu, gls = gmu, glogit = gmu
    for n in 0..<batch {
      let (r, en, den) = parts(x: x[n], z: z[n], alpha: a, sigma: s)
      let eBar = zip(r, en).reduce(0) { $0 + $1.0 * $1.1 }
      let vs = v[n] * s
      e[n] = s * eBar
      // d eps/dx = sigma (sum r_k/D_k - (sum r_k e_k^2 - eBar^2))
      var sumRD = 0.0, sumRE2 = 0.0
      for i in 0..<k { sumRD += r[i] / den[i]; sumRE2 += r[i] * en[i] * en[i] }
      gx[n] = vs * (sumRD - (sumRE2 - eBar * eBar))
      for i in 0..<k {
        // d eps/d mu_k = sigma (-alpha r_k/D_k + alpha r_k e_k (e_k - eBar))
        let dMu = vs * (-a * r[i] / den[i] + a * r[i] * en[i] * (en[i] - eBar))
        gz[n] += dMu * b[i]
        gmu[i] += dMu
        gb[i] += dMu * z[n]
        // d eps/d D_k = sigma (-r_k e_k/D_k + r_k (e_k - eBar) (e_k^2 - 1/D_k)/2); d D_k/d log s_k = 2 alpha^2 s_k^2
        let q = 0.5 * (en[i] * en[i] - 1 / den[i])
        let dDen = vs * (-r[i] * en[i] / den[i] + r[i] * (en[i] - eBar) * q)
        gls[i] += dDen * 2 * a * a * exp(2 * logS[i])
        glogit[i] += vs * r[i] * (en[i] - eBar)
      }
    }
    return NoiseVJP(eps: e, x: gx, z: gz, theta: wantParameters ? gmu + gb + gls + glogit : [])
  }
}
