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

/// AdjointDEIS-k: exponential integrators for the adjoint diffusion ODE/SDE (docs/math.md#adjoint-in-lambda),
/// propagating a_x, a_z and a_theta together from t_eps up to T, one VJP per step, each with the same
/// `ExponentialStep` and multistep rule (AdjointDEIS-1, -2M, -3M: docs/math.md#adjointdeis-1, #adjointdeis-2m,
/// #adjointdeis-3m).
public struct AdjointDEIS: Sendable {
  public var rule: any MultistepRule
  public var dynamics: Dynamics
  public var wantParameters: Bool

  public init(rule: any MultistepRule, dynamics: Dynamics = .ode, wantParameters: Bool = true) {
    self.rule = rule
    self.dynamics = dynamics
    self.wantParameters = wantParameters
  }

  /// AdjointDEIS-1 (order 1) or -2M (order 2, with `weight`).
  public init(order: Int, weight: MultistepWeight = .paper, dynamics: Dynamics = .ode, wantParameters: Bool = true) throws {
    guard order == 1 || order == 2 else { throw InvalidInput("solver", "AdjointDEIS order must be 1 or 2, got \(order)") }
    self.init(rule: order == 1 ? FirstOrderRule() : SecondOrderMultistep(weight: weight), dynamics: dynamics, wantParameters: wantParameters)
  }

  /// Solves from `a_x(t_eps) = aX0` on `grid` (ascending; its first time is t_eps, its last T).
  /// For a z schedule, `samplingGrid` maps each adjoint step to the sampling step whose z it sees
  /// (the one holding the step's midpoint), and a_z gets one row per sampling step.
  public func solve<M: NoisePredictor>(
    model: M, grid: TimeGrid, states: AdjointStates, z: Conditioning, samplingGrid: TimeGrid? = nil, aX0: [Double]
  ) throws -> AdjointSolution {
    var eps = EpsFormStep(rule: rule, factor: dynamics.factor)
    return try sweepAdjoint(model: model, grid: grid, states: states, z: z, samplingGrid: samplingGrid, aX0: aX0,
                            wantParameters: wantParameters) { step, ax, az, atheta in
      if grid.alphas[step.s] == 0 {  // the last step, to pure noise: data-prediction form (docs/math.md#noise-end)
        try noiseEndStep(ax: &ax, az: &az, atheta: &atheta, vjp: step.vjp, grid: grid, from: step.t, to: step.s)
      } else {
        eps.step(ax: &ax, az: &az, atheta: &atheta, vjp: step.vjp, grid: grid, from: step.t, to: step.s, bucket: step.bucket)
      }
    }
  }
}

/// AdjointDEIS's step in the eps form (docs/math.md#adjointdeis-2m), with the k-deep histories of its integrands
/// V, W, U (newest first; W's restarts with every new z bucket). `factor` is k = 1 for the ODE, 2 for the SDE
/// (docs/math.md#adjoint-sde).
struct EpsFormStep {
  let rule: any MultistepRule
  let factor: Double
  var hv: History, hw: History, hu: History
  var previousBucket: Int? = nil

  init(rule: any MultistepRule, factor: Double = 1) {
    self.rule = rule
    self.factor = factor
    (hv, hw, hu) = (History(depth: rule.order), History(depth: rule.order), History(depth: rule.order))
  }

  mutating func step(ax: inout [Double], az: inout [Double], atheta: inout [Double], vjp: NoiseVJP, grid: TimeGrid,
                     from t: Int, to s: Int, bucket: Int) {
    let (alphaT, alphaS, sigmaS) = (grid.alphas[t], grid.alphas[s], grid.sigmas[s])
    // V_i = alpha_t^2 a_x^T J, W_i = alpha_t a_x^T d eps/dz, U_i = alpha_t a_x^T d eps/dtheta  (docs/math.md#adjoint-in-lambda)
    hv.push(vjp.x.map { alphaT * alphaT * $0 })
    hu.push(vjp.theta.map { alphaT * $0 })
    if previousBucket != bucket { hw.removeAll() }
    hw.push(vjp.z.map { alphaT * $0 })
    previousBucket = bucket
    let step = ExponentialStep(grid: grid, from: t, to: s, history: rule.order)
    let w = rule.relativeWeights(step, available: rule.available(step, held: hv.count))
    // a_x(s) = (alpha_t/alpha_s) a_x(t) + k (sigma_s/alpha_s^2)(e^h - 1) [V_i + sum_j w_j (differences of V)]
    let cx = factor * sigmaS / (alphaS * alphaS) * step.expm1h
    ExponentialStep.applyFactored(&ax, linear: alphaT / alphaS, scale: cx, weights: w, history: hv)
    // a_z(s) = a_z(t) + k (sigma_s/alpha_s)(e^h - 1) [W_i + ...]; a_theta alike with U.
    let cz = factor * sigmaS / alphaS * step.expm1h
    let wz = rule.relativeWeights(step, available: rule.available(step, held: hw.count))
    ExponentialStep.applyFactored(&az, linear: 1, scale: cz, weights: wz, history: hw)
    if !atheta.isEmpty { ExponentialStep.applyFactored(&atheta, linear: 1, scale: cz, weights: w, history: hu) }
  }
}
