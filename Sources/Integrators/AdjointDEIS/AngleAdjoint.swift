import DiffusionCore
import Foundation

/// Which quantity an AdjointDEIS step freezes (docs/math.md#angle-form).
public enum AdjointForm: String, CaseIterable, Sendable {
  /// The paper's: `alpha_lambda^2 a_x^T d eps/dx` frozen, `e^{-lambda}` integrated exactly (every number as before).
  /// (Not named `paper`: that is a 2M weight's qualifier.)
  case standard
  /// The network output's VJP `a_x^T d out/dx` frozen, the prediction type's state-proportional part and every
  /// schedule factor integrated exactly: a step's weight is its length in the angle `phi = atan(sigma/alpha)`.
  case angle

  public static func named(_ name: String) throws -> AdjointForm {
    try parse(name, option: "adjoint-form", what: "adjoint form")
  }
}

/// What the network outputs, as the adjoint's linear part sees it: `eps = A(t) out + B(t) x` (docs/math.md#prediction-types).
/// A toy model predicts eps; a diffusers pipeline says which in its scheduler config.
public enum NetworkOutput: String, CaseIterable, Sendable {
  case epsilon
  case sample
  case vPrediction = "v_prediction"

  /// (A, B) of `eps = A out + B x` at (alpha, sigma) (docs/math.md (1.3)).
  @inlinable public func coefficients(alpha: Double, sigma: Double) -> (a: Double, b: Double) {
    switch self {
    case .epsilon: return (1, 0)
    case .sample: return (-alpha / sigma, 1 / sigma)
    case .vPrediction: return (alpha, sigma)
    }
  }

  /// E, the integrating factor of the linear part `(sigma^2 - sigma B) x` of dx/dlambda (docs/math.md (4.12)):
  /// alpha (epsilon), sigma (sample), 1 (v_prediction).
  @inlinable public func integratingFactor(alpha: Double, sigma: Double) -> Double {
    switch self {
    case .epsilon: return alpha
    case .sample: return sigma
    case .vPrediction: return 1
    }
  }

  /// The sign s with `E sigma A = s alpha sigma` (docs/math.md (4.13)).
  @inlinable public var sign: Double { self == .sample ? -1 : 1 }

  /// `int_{lambda_s}^{lambda_t} sigma A dlambda` in closed form (docs/math.md (4.15)): asinh(e^{-lambda}) (epsilon),
  /// -asinh(e^{lambda}) (sample), -phi (v_prediction) are antiderivatives.
  @inlinable public func zWeight(lambdaS ls: Double, lambdaT lt: Double, phiS: Double, phiT: Double) -> Double {
    switch self {
    case .epsilon: return asinh(exp(-ls)) - asinh(exp(-lt))
    case .sample: return -(asinh(exp(lt)) - asinh(exp(ls)))
    case .vPrediction: return phiS - phiT
    }
  }

  /// sigma A at lambda (the a_z integrand's weight), for quadrature.
  @inlinable func sigmaA(_ lambda: Double) -> Double {
    let alpha = GaussianLinearPart.sigma(-lambda), sigma = GaussianLinearPart.sigma(lambda)
    switch self {
    case .epsilon: return sigma
    case .sample: return -alpha
    case .vPrediction: return alpha * sigma
    }
  }
}

/// AdjointDEIS in the angle form (docs/math.md#angle-form): the probability-flow ODE written for the network's raw
/// output, `dx/dlambda = (sigma^2 - sigma B) x - sigma A out(x)`, its linear part solved exactly (integrating factor E)
/// and the VJP of the output, `G = a_x^T d out/dx`, frozen (k = 1) or extrapolated linearly in phi (2M) over a step:
///
///   `a_x(s) = (E_t/E_s) a_x(t) - (s_sign/E_s) [dphi G_t + dphi^2/2 (G_t - G_prev)/(phi_t - phi_prev)]`,
///   `a_z(s) = a_z(t) - [Omega_0 Gz_t + Omega_1 (Gz_t - Gz_prev)/(phi_t - phi_prev)]`,  theta alike,
///
/// with `dphi = phi_s - phi_t`, `Omega_0 = int sigma A dlambda`, `Omega_1 = int sigma A (phi - phi_t) dlambda` over the
/// step. G comes from the eps VJP the model returns: `G = (a_x^T d eps/dx - B a_x)/A`. ODE only; one VJP per step.
/// On the paper's problems it is another first-/second-order scheme (different numbers); its point is a step that
/// stays bounded where alpha changes by orders of magnitude (the end of squaredcos_cap_v2).
public struct AngleAdjoint: Sendable {
  /// 1 or 2 (2M).
  public var order: Int
  public var output: NetworkOutput
  public var wantParameters: Bool
  public var quadrature = GaussLegendre()

  public init(order: Int, output: NetworkOutput, wantParameters: Bool = true) throws {
    guard order == 1 || order == 2 else { throw InvalidInput("adjoint-form", "the angle form has orders 1 and 2 (2M), got \(order)") }
    self.order = order
    self.output = output
    self.wantParameters = wantParameters
  }

  /// Solves from `a_x(t_eps) = aX0` on `grid` (ascending), as `AdjointDEIS.solve` does.
  public func solve<M: NoisePredictor>(
    model: M, grid: TimeGrid, states: AdjointStates, z: Conditioning, samplingGrid: TimeGrid? = nil, aX0: [Double]
  ) throws -> AdjointSolution {
    let d = model.dataDimension, m = model.conditionDimension
    var previous: (phi: Double, g: [Double], gz: [Double], gtheta: [Double], bucket: Int)? = nil
    let phis = zip(grid.alphas, grid.sigmas).map { atan2($0.1, $0.0) }
    return try sweepAdjoint(model: model, grid: grid, states: states, z: z, samplingGrid: samplingGrid, aX0: aX0,
                            wantParameters: wantParameters) { step, ax, az, atheta in
      let (t, s, bucket, vjp) = (step.t, step.s, step.bucket, step.vjp)
      let (alphaT, sigmaT, alphaS, sigmaS) = (grid.alphas[t], grid.sigmas[t], grid.alphas[s], grid.sigmas[s])
      let (phiT, phiS) = (phis[t], phis[s])
      let (a, b) = output.coefficients(alpha: alphaT, sigma: sigmaT)
      // G = a_x^T d out/dx from the eps VJP, Gz and Gtheta likewise  (docs/math.md (4.14))
      var g = vjp.x
      if b != 0 { for k in 0..<d { g[k] -= b * ax[k] } }
      if a != 1 { for k in 0..<d { g[k] /= a } }
      let gz = a == 1 ? vjp.z : vjp.z.map { $0 / a }
      let gtheta = a == 1 ? vjp.theta : vjp.theta.map { $0 / a }

      let dphi = phiS - phiT
      let eT = output.integratingFactor(alpha: alphaT, sigma: sigmaT), eS = output.integratingFactor(alpha: alphaS, sigma: sigmaS)
      let slope = order == 2 ? previous.map { 1 / (phiT - $0.phi) } : nil
      // a_x  (docs/math.md (4.16))
      let c0 = output.sign / eS * dphi, c1 = output.sign / eS * 0.5 * dphi * dphi
      for k in 0..<d {
        var value = eT / eS * ax[k] - c0 * g[k]
        if let slope, let p = previous { value -= c1 * slope * (g[k] - p.g[k]) }
        ax[k] = value
      }
      // a_z, a_theta  (docs/math.md (4.17)); a new z bucket restarts the extrapolation
      let (ls, lt) = (grid.lambdas[s], grid.lambdas[t])
      let o0 = output.zWeight(lambdaS: ls, lambdaT: lt, phiS: phiS, phiT: phiT)
      var o1 = 0.0
      if slope != nil {
        for (u, w) in quadrature.rule(from: ls, to: lt) { o1 += w * output.sigmaA(u) * (atan(exp(-u)) - phiT) }
      }
      let zSlope = previous?.bucket == bucket ? slope : nil
      for r in 0..<m {
        var value = o0 * gz[r]
        if let zSlope, let p = previous { value += o1 * zSlope * (gz[r] - p.gz[r]) }
        az[r] -= value
      }
      for r in 0..<atheta.count {
        var value = o0 * gtheta[r]
        if let slope, let p = previous { value += o1 * slope * (gtheta[r] - p.gtheta[r]) }
        atheta[r] -= value
      }
      previous = (phiT, g, gz, gtheta, bucket)
    }
  }
}
