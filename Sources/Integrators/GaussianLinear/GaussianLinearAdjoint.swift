import DiffusionCore
import Foundation

/// The adjoint solvers with a Gaussian linear part (k = 1 and 2M; probability-flow ODE and SDE), one VJP per step
/// (docs/gaussian-linear-part.md#a-x). With `b = alpha a_x` and `b~ = Q^T b`, every step from lambda_t to lambda_s is
///
///   `b~_s = E (.) b~_t + w1 (.) N_t [+ w2 (.) (N_t - N_prev) / (lambda_t - lambda_prev)]`,
///   `N = Q^T (J^T b - J_G b)` (the residual's VJP: one model VJP, two products with Q),
///
/// and a_z (a_theta alike) takes the scalar-growth form of docs/gaussian-linear-part.md#a-z:
///
///   `a_z += o1 W^_t [+ o2 (W^_t - W^_prev) / (lambda_t - lambda_prev)]`, `W^ = zScale(lambda) alpha a_x^T d eps/dz`.
public struct GaussianLinearAdjoint: Sendable {
  public var order: Int
  public var dynamics: Dynamics
  public var wantParameters: Bool
  public var linearPart: GaussianLinearPart
  public var quadrature = GaussLegendre()
  public var zGrowth = ZGrowth.gaussianMean
  /// sigma as a function of lambda for a schedule that is not variance preserving (nil: the VP form;
  /// docs/math.md#beyond-vp): `sigma(t(lambda))`.
  public var sigmaOfLambda: (@Sendable (Double) -> Double)? = nil

  public init(order: Int, linearPart: GaussianLinearPart, dynamics: Dynamics = .ode, wantParameters: Bool = true) throws {
    guard (1...3).contains(order) else { throw InvalidInput("solver", "the Gaussian-linear adjoint has orders 1, 2 (2M) and 3 (3M), got \(order)") }
    self.order = order
    self.linearPart = linearPart
    self.dynamics = dynamics
    self.wantParameters = wantParameters
  }

  /// Solves from `a_x(t_eps) = aX0` on `grid` (ascending), as `AdjointDEIS.solve` does.
  public func solve<M: NoisePredictor>(
    model: M, grid: TimeGrid, states: AdjointStates, z: Conditioning, samplingGrid: TimeGrid? = nil, aX0: [Double]
  ) throws -> AdjointSolution {
    let d = model.dataDimension, m = model.conditionDimension
    guard linearPart.dimension == d else {
      throw InvalidInput("linear-part", "the data statistics have dimension \(linearPart.dimension), the model \(d)")
    }
    let kappa = dynamics.factor, s2 = linearPart.meanVariance
    let (variances, period) = linearPart.distinctVariances
    // The last q residuals N, a_z and a_theta integrands W^, U^ and their lambdas, newest first.
    var history: [(lambda: Double, n: [Double], w: [Double], u: [Double], bucket: Int)] = []
    return try sweepAdjoint(model: model, grid: grid, states: states, z: z, samplingGrid: samplingGrid, aX0: aX0,
                            wantParameters: wantParameters) { step, ax, az, atheta in
      let (t, s, bucket, vjp) = (step.t, step.s, step.bucket, step.vjp)
      let (lt, ls) = (grid.lambdas[t], grid.lambdas[s])
      let (alphaT, sigmaT, alphaS) = (grid.alphas[t], grid.sigmas[t], grid.alphas[s])

      // N = Q^T (J^T b - J_G b), J_G = Q diag(sigma / (alpha^2 s_k^2 + sigma^2)) Q^T  (docs/gaussian-linear-part.md#a-x)
      let bEigen = linearPart.toEigen(ax.map { alphaT * $0 })
      var n = linearPart.toEigen(vjp.x.map { alphaT * $0 })
      for k in 0..<d {
        let s2k = linearPart.variances[k]
        n[k] -= sigmaT / (alphaT * alphaT * s2k + sigmaT * sigmaT) * bEigen[k]
      }
      // a_z, a_theta: W^ = alpha_t a_x^T d eps/dz / psi(lambda_t)  (docs/gaussian-linear-part.md#a-z)
      let scale = alphaT / zGrowth.psi(lt, meanVariance: s2, kappa: kappa)
      history.insert((lt, n, vjp.z.map { scale * $0 }, vjp.theta.map { scale * $0 }, bucket), at: 0)
      if history.count > order { history.removeLast() }
      let q = history.count
      let weights = LinearStepWeights(variances: variances, meanVariance: s2, nodes: history.map(\.lambda), to: ls,
                                      kappa: kappa, quadrature: quadrature, zGrowth: zGrowth, sigma: sigmaOfLambda)

      var next = [Double](repeating: 0, count: d)
      for k in 0..<d {
        let c = k % period
        var value = weights.propagator[c] * bEigen[k]
        for j in 0..<q { value += weights.w[j][c] * history[j].n[k] }
        next[k] = value
      }
      ax = linearPart.fromEigen(next).map { $0 / alphaS }

      // a_z: only the nodes of the same z bucket (a new z restarts the polynomial; its lower degree reweights them)
      let sameBucket = history.prefix { $0.bucket == bucket }.count
      let zWeights = sameBucket == q ? weights.o
        : LinearStepWeights(variances: [], meanVariance: s2, nodes: history.prefix(sameBucket).map(\.lambda), to: ls,
                            kappa: kappa, quadrature: quadrature, zGrowth: zGrowth, sigma: sigmaOfLambda).o
      for j in 0..<sameBucket { for r in 0..<m { az[r] += zWeights[j] * history[j].w[r] } }
      for j in 0..<q { for r in 0..<atheta.count { atheta[r] += weights.o[j] * history[j].u[r] } }
    }
  }
}
