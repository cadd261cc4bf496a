import DiffusionCore
import Foundation

/// What the Gaussian-linear sampler recorded: states on its grid (index j ascending in t: `states[grid.steps]` is x_T,
/// `states[0]` is x_0) and the model evaluations.
public struct GaussianLinearPath: Sendable {
  public let grid: TimeGrid
  public var states: [[Double]]
  public var evaluations: EvaluationCount
  public var x0: [Double] { states[0] }
}

/// The sampler that matches the adjoint with a Gaussian linear part (docs/gaussian-linear-part.md#sampler): a
/// DPM-Solver-type exponential step for the probability-flow ODE `dy/dlambda = -e^{-lambda} eps(alpha y)`,
/// `y = x / alpha`, with `eps = J_G (x - alpha mu) + r` split so that the linear part is solved exactly in Sigma's
/// eigenbasis and only the residual r is frozen (k = 1) or extrapolated (2M). With `y~ = Q^T (y - mu)`, a step
/// from s down to t (h = lambda_t - lambda_s > 0) is
///
///   `y~_t = e^{-(G_k(lambda_t) - G_k(lambda_s))} y~_s - v1_k r~_s [- v2_k (r~_s - r~_prev) / (lambda_s - lambda_prev)]`,
///   `v1_k = int_{lambda_s}^{lambda_t} e^{-(G_k(lambda_t) - G_k(u))} e^{-u} du`, v2 the same with `(u - lambda_s)`.
///
/// Exact on Gaussian data (r = 0) for any N. The statistics (mu, Sigma) are constants of the sampler.
public struct GaussianLinearSampler: Sendable {
  public var order: Int
  public var linearPart: GaussianLinearPart
  public var quadrature = GaussLegendre()

  public init(order: Int, linearPart: GaussianLinearPart) throws {
    guard order == 1 || order == 2 else { throw InvalidInput("sampler", "the Gaussian-linear sampler has orders 1 and 2 (2M), got \(order)") }
    self.order = order
    self.linearPart = linearPart
  }

  /// The step's weights for the distinct variances: propagator, v1, v2.
  func weights(from ls: Double, to lt: Double, second: Bool, variances: [Double]) -> (p: [Double], v1: [Double], v2: [Double]) {
    let n = variances.count
    let gT = variances.map { GaussianLinearPart.G(lt, variance: $0) }
    var p = [Double](repeating: 0, count: n), v1 = p, v2 = [Double](repeating: 0, count: second ? n : 0)
    for k in 0..<n { p[k] = exp(GaussianLinearPart.G(ls, variance: variances[k]) - gT[k]) }
    for (u, weight) in quadrature.rule(from: ls, to: lt) {
      let e = weight * exp(-u)
      for k in 0..<n {
        let f = e * exp(GaussianLinearPart.G(u, variance: variances[k]) - gT[k])
        v1[k] += f
        if second { v2[k] += f * (u - ls) }
      }
    }
    return (p, v1, v2)
  }

  /// Runs from x_T at `grid.times.last` down to `grid.times[0]`, one eps evaluation per step.
  public func sample<M: NoisePredictor>(model: M, grid: TimeGrid, xT: [Double], z: Conditioning) throws -> GaussianLinearPath {
    let d = model.dataDimension, n = grid.steps
    guard linearPart.dimension == d else {
      throw InvalidInput("linear-part", "the data statistics have dimension \(linearPart.dimension), the model \(d)")
    }
    try Check.count(xT, d, "x_T")
    try Check.finite(xT, "x_T")
    try z.validate(dimension: model.conditionDimension, steps: n)
    let mu = linearPart.mean
    let (variances, period) = linearPart.distinctVariances
    var states = [[Double]](repeating: [], count: n + 1)
    states[n] = xT
    var previousResidual: [Double]? = nil
    for step in 0..<n {
      let s = n - step, t = s - 1
      let (alphaS, sigmaS, alphaT) = (grid.alphas[s], grid.sigmas[s], grid.alphas[t])
      let x = states[s]
      let eps = try model.eps(x, z: z.z(step: step), t: grid.times[s], batch: 1)
      // r~ = Q^T (eps - J_G (x - alpha mu)), y~ = Q^T (x / alpha - mu)
      let centred = (0..<d).map { x[$0] - alphaS * mu[$0] }
      let centredEigen = linearPart.toEigen(centred)
      var residual = linearPart.toEigen(eps)
      for k in 0..<d {
        residual[k] -= sigmaS / (alphaS * alphaS * linearPart.variances[k] + sigmaS * sigmaS) * centredEigen[k]
      }
      let second = order == 2 && previousResidual != nil
      let (p, v1, v2) = weights(from: grid.lambdas[s], to: grid.lambdas[t], second: second, variances: variances)
      let slope = second ? 1 / (grid.lambdas[s] - grid.lambdas[s + 1]) : 0
      var next = [Double](repeating: 0, count: d)
      for k in 0..<d {
        let j = k % period
        next[k] = p[j] * centredEigen[k] / alphaS - v1[j] * residual[k]
        if second, let r = previousResidual { next[k] -= v2[j] * slope * (residual[k] - r[k]) }
      }
      let back = linearPart.fromEigen(next)
      states[t] = (0..<d).map { alphaT * (mu[$0] + back[$0]) }
      try Check.finite(states[t], "x at t = \(grid.times[t])")
      previousResidual = residual
    }
    return GaussianLinearPath(grid: grid, states: states, evaluations: EvaluationCount(eps: n))
  }
}
