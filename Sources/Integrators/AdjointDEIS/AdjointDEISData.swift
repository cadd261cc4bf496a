import DiffusionCore
import Foundation

/// AdjointDEIS in the data-prediction form (docs/math.md#adjoint-data-form): the adjoint of `y = x / sigma` in
/// `gamma = e^lambda`, whose integrand `V = sigma^2 (dx0-hat/dx)^T a_x` vanishes like alpha^2 at the noise end, so the
/// step is finite at alpha_T = 0 and not stiff where the eps form is. With `h = lambda_s - lambda_t < 0` and
/// `Vt_i = e^{lambda_i} V_i = sigma_i (a_x - sigma_i J^T a_x)`:
///
///   a_x(s) = [sigma_t a_x(t) + (1 - e^h) Vt_t + (e^h - 1 - h e^h) D] / sigma_s,
///   D = (Vt_t - e^{lambda_t - lambda_p} Vt_p) / (lambda_t - lambda_p)   (2M: the line through the previous point p; 0 for k = 1),
///
/// a_z and a_theta alike with `Wt = -sigma (d eps/dz)^T a_x` (theta: d eps/dtheta) and no linear part. ODE only.
/// Cost and memory as AdjointDEIS-k: one VJP per step, the k-deep history of Vt, Wt, Ut.
public struct AdjointDEISData: Sendable {
  /// The eps-form rule used on the high-SNR half (its order is this solver's k).
  public var rule: any MultistepRule
  public var wantParameters: Bool
  var order: Int { rule.order }

  public init(rule: any MultistepRule, wantParameters: Bool = true) {
    self.rule = rule
    self.wantParameters = wantParameters
  }

  public func solve<M: NoisePredictor>(
    model: M, grid: TimeGrid, states: AdjointStates, z: Conditioning, samplingGrid: TimeGrid? = nil, aX0: [Double]
  ) throws -> AdjointSolution {
    let d = model.dataDimension, m = model.conditionDimension
    // The previous point's (index, Vt, Wt, Ut); Wt's restarts with every new z bucket.
    var previous: (i: Int, v: [Double], w: [Double]?, u: [Double])? = nil
    var previousBucket: Int? = nil
    var eps = EpsFormStep(rule: rule)
    return try sweepAdjoint(model: model, grid: grid, states: states, z: z, samplingGrid: samplingGrid, aX0: aX0,
                            wantParameters: wantParameters) { step, ax, az, atheta in
      let (t, s, bucket, vjp) = (step.t, step.s, step.bucket, step.vjp)
      if grid.lambdas[s] >= 0 {  // the high-SNR half: the eps form (docs/math.md#adjoint-data-form)
        eps.step(ax: &ax, az: &az, atheta: &atheta, vjp: vjp, grid: grid, from: t, to: s, bucket: bucket)
        return
      }
      let sigmaT = grid.sigmas[t]
      let v = (0..<d).map { sigmaT * (ax[$0] - sigmaT * vjp.x[$0]) }
      let w = vjp.z.map { -sigmaT * $0 }, u = vjp.theta.map { -sigmaT * $0 }
      let h = grid.lambdas[s] - grid.lambdas[t]
      let (w0, w1) = (-Foundation.expm1(h), Self.secondWeight(h))
      // The slope term, through the previous point (docs/math.md#adjoint-data-form).
      func slope(_ now: [Double], _ before: [Double]?, _ p: Int) -> [Double]? {
        guard order >= 2, let before else { return nil }
        let dl = grid.lambdas[t] - grid.lambdas[p], r = exp(grid.lambdas[t] - grid.lambdas[p])
        return (0..<now.count).map { (now[$0] - r * before[$0]) / dl }
      }
      let p = previous?.i ?? 0
      let dv = slope(v, previous?.v, p)
      let dw = slope(w, previousBucket == bucket ? previous?.w : nil, p)
      let du = slope(u, previous?.u, p)
      let sigmaS = grid.sigmas[s]
      for j in 0..<d { ax[j] = (sigmaT * ax[j] + w0 * v[j] + w1 * (dv?[j] ?? 0)) / sigmaS }
      for j in 0..<m { az[j] += w0 * w[j] + w1 * (dw?[j] ?? 0) }
      for j in 0..<atheta.count { atheta[j] += w0 * u[j] + w1 * (du?[j] ?? 0) }
      previous = (t, v, w, u)
      previousBucket = bucket
    }
  }

  /// `int_h^0 u e^u du = e^h - 1 - h e^h` (-1 at h = -inf, the step to pure noise), by its series `sum_n (1 - n) h^n / n!`
  /// where the closed form cancels.
  static func secondWeight(_ h: Double) -> Double {
    if h == -.infinity { return -1 }
    if abs(h) > 0.5 { return Foundation.expm1(h) - h * exp(h) }
    var term = h, sum = 0.0, n = 1.0
    while true {
      n += 1
      term *= h / n
      let add = (1 - n) * term
      sum += add
      if abs(add) <= 1e-17 * abs(sum) { break }
    }
    return sum
  }
}
