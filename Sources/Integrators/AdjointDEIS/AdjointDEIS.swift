import DiffusionCore
import Foundation

/// The 2M solver's weight on the difference `V_i - V_{i-1}` (docs/math.md#multistep-weights).
public enum MultistepWeight: String, CaseIterable, Sendable {
  /// The paper's Algorithm 1: `1 / (2 rho_i)`, from `(e^h - h - 1)/h ~ (e^h - 1)/2`.
  case paper
  /// The exact Taylor weight `(e^h - h - 1) / ((e^h - 1) h_{i-1})`, i.e. `h^2 phi_2(h)` over `h phi_1(h)`.
  case phi2
}

/// Which adjoint equations: the probability-flow ODE's (docs/math.md#adjoint-in-lambda) or the diffusion SDE's (docs/math.md#adjoint-sde, integrals doubled).
public enum Dynamics: String, CaseIterable, Sendable {
  case ode, sde
  var factor: Double { self == .ode ? 1 : 2 }
}

/// The adjoint at T: `a_x(T) = dL/dx_T`, `a_z` (one row per z bucket), `a_theta`.
public struct AdjointSolution: Sendable {
  public var ax: [Double]
  public var az: [[Double]]
  public var atheta: [Double]
  public var evaluations: EvaluationCount
}

/// AdjointDEIS-k (k = 1, 2M): exponential integrators for the adjoint diffusion ODE/SDE,
/// propagating a_x, a_z and a_theta together from t_eps up to T, one VJP per step.
public struct AdjointDEIS: Sendable {
  public var order: Int
  public var weight: MultistepWeight
  public var dynamics: Dynamics
  public var wantParameters: Bool

  public init(order: Int, weight: MultistepWeight = .paper, dynamics: Dynamics = .ode, wantParameters: Bool = true) throws {
    guard order == 1 || order == 2 else { throw InvalidInput("solver", "AdjointDEIS order must be 1 or 2, got \(order)") }
    self.order = order
    self.weight = weight
    self.dynamics = dynamics
    self.wantParameters = wantParameters
  }

  /// Solves from `a_x(t_eps) = aX0` on `grid` (ascending; its first time is t_eps, its last T).
  /// For a z schedule, `samplingGrid` maps each adjoint step to the sampling step whose z it sees
  /// (the one holding the step's midpoint), and a_z gets one row per sampling step.
  public func solve<M: NoisePredictor>(
    model: M, grid: TimeGrid, states: AdjointStates, z: Conditioning, samplingGrid: TimeGrid? = nil, aX0: [Double]
  ) throws -> AdjointSolution {
    let d = model.dataDimension, m = model.conditionDimension
    try Check.count(aX0, d, "a_x(t_eps)")
    try Check.finite(aX0, "a_x(t_eps)")
    if case .perStep = z {
      guard let samplingGrid else { throw InvalidInput("z", "a z schedule needs the sampling grid") }
      try z.validate(dimension: m, steps: samplingGrid.steps)
    } else {
      try z.validate(dimension: m, steps: nil)
    }
    var walker = try StateWalker(source: states, grid: grid, dimension: d)
    let k = dynamics.factor
    var ax = aX0
    var az = [[Double]](repeating: [Double](repeating: 0, count: m), count: z.count)
    var atheta = [Double](repeating: 0, count: wantParameters ? model.parameterCount : 0)
    var previous: (v: [Double], w: [Double], u: [Double], bucket: Int)? = nil
    var evaluations = EvaluationCount()

    for i in 0..<grid.steps {
      let (t, s) = (i, i + 1)
      let bucket = samplingGrid.map { $0.samplingStep(containing: 0.5 * (grid.times[t] + grid.times[s])) } ?? 0
      let x = try walker.state(t)
      let vjp = try model.vjp(x, z: z.z(step: bucket), t: grid.times[t], batch: 1, cotangent: ax, wantParameters: wantParameters)
      evaluations.vjp += 1
      walker.advance(from: t, eps: vjp.eps)

      let h = grid.lambdas[s] - grid.lambdas[t]
      let (alphaT, alphaS, sigmaS) = (grid.alphas[t], grid.alphas[s], grid.sigmas[s])
      // V_i = alpha_t^2 a_x^T J, W_i = alpha_t a_x^T d eps/dz, U_i = alpha_t a_x^T d eps/dtheta  (docs/math.md#adjoint-in-lambda)
      let v = vjp.x.map { alphaT * alphaT * $0 }
      let w = vjp.z.map { alphaT * $0 }
      let u = vjp.theta.map { alphaT * $0 }
      // D_i = V_i + c (V_i - V_{i-1}); c = 0 for AdjointDEIS-1 and the 2M solver's first step.
      var c = 0.0
      if order == 2, previous != nil {
        let hPrevious = grid.lambdas[t] - grid.lambdas[t - 1]
        c = weight == .paper ? h / (2 * hPrevious) : Phi.expm1MinusH(h) / (Phi.expm1h(h) * hPrevious)
      }
      let e = Phi.expm1h(h)
      // a_x(s) = (alpha_t/alpha_s) a_x(t) + k (sigma_s/alpha_s^2)(e^h - 1) D_i          (docs/math.md#adjointdeis-2m; k = 2 for the SDE)
      let cx = k * sigmaS / (alphaS * alphaS) * e
      let vPrevious = previous?.v ?? v
      for j in 0..<d { ax[j] = (alphaT / alphaS) * ax[j] + cx * (v[j] + c * (v[j] - vPrevious[j])) }
      // a_z(s) = a_z(t) + k (sigma_s/alpha_s)(e^h - 1) E_i; theta alike. A new z bucket restarts the difference.
      let cz = k * sigmaS / alphaS * e
      let cw = previous?.bucket == bucket ? c : 0
      let wPrevious = previous?.w ?? w
      for j in 0..<m { az[bucket][j] += cz * (w[j] + cw * (w[j] - wPrevious[j])) }
      let uPrevious = previous?.u ?? u
      for j in 0..<atheta.count { atheta[j] += cz * (u[j] + c * (u[j] - uPrevious[j])) }
      previous = (v, w, u, bucket)
    }
    return AdjointSolution(ax: ax, az: az, atheta: atheta, evaluations: evaluations)
  }
}
