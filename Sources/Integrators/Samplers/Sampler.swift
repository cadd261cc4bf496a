import DiffusionCore
import Foundation

/// The forward samplers (docs/math.md#exponential-step): exponential integrators from T down to t_eps.
public enum SamplerKind: String, CaseIterable, Sendable {
  /// DPM-Solver-1 (= DDIM) for the probability-flow ODE.
  case dpmSolver1 = "dpm-solver-1"
  /// DPM-Solver-2M (multistep, eps form) for the probability-flow ODE.
  case dpmSolver2M = "dpm-solver-2m"
  /// The SDE exponential step (paper eq. 3.6).
  case sde = "sde"

  public var isSDE: Bool { self == .sde }
  public var dynamics: Dynamics { isSDE ? .sde : .ode }

  public static func named(_ name: String, option: String = "sampler") throws -> SamplerKind {
    try parse(name, option: option, what: "sampler")
  }
}

/// What a sampler recorded: the states on its grid, the eps it evaluated, and (SDE) the noise it used.
/// Index j is the grid index (ascending t): `states[grid.steps]` is x_T, `states[0]` is x_0.
public struct Trajectory: Sendable {
  public let grid: TimeGrid
  public let kind: SamplerKind
  public var states: [[Double]]
  /// `eps[j] = eps(states[j], z, t_j)` for j = 1...N (entry 0 is empty: the output is never evaluated).
  public var eps: [[Double]]
  /// `noise[i]` is xi of step i, the step from the i-th grid time counted from T downwards (SDE only).
  public var noise: [[Double]]
  public var evaluations: EvaluationCount

  public var x0: [Double] { states[0] }
}

/// Coefficients of one exponential-integrator step from s = t_{j+1} down to t = t_j, `h = lambda_t - lambda_s > 0`.
@usableFromInline struct StepCoefficients {
  let ratio: Double  // alpha_t / alpha_s
  let sigmaT: Double
  let expm1h: Double  // e^h - 1
  let h: Double

  @usableFromInline init(grid: TimeGrid, from s: Int, to t: Int) {
    ratio = grid.alphas[t] / grid.alphas[s]
    sigmaT = grid.sigmas[t]
    h = grid.lambdas[t] - grid.lambdas[s]
    expm1h = Foundation.expm1(h)
  }

  /// `sigma_t sqrt(e^{2h} - 1)`, the standard deviation of the SDE step's noise.
  var noiseScale: Double { sigmaT * sqrt(Foundation.expm1(2 * h)) }
}

public struct Sampler: Sendable {
  public let kind: SamplerKind
  public init(kind: SamplerKind) { self.kind = kind }

  /// Runs the sampler from x_T at `grid.times.last` down to `grid.times[0]`.
  /// `noise` (SDE only) holds one standard-normal draw of d numbers per step (see `NoiseSource`).
  public func sample<M: NoisePredictor>(
    model: M, grid: TimeGrid, xT: [Double], z: Conditioning, noise: [[Double]] = []
  ) throws -> Trajectory {
    let d = model.dataDimension, n = grid.steps
    try Check.count(xT, d, "x_T")
    try Check.finite(xT, "x_T")
    try z.validate(dimension: model.conditionDimension, steps: n)
    if kind.isSDE {
      guard noise.count == n else { throw InvalidInput("noise", "the SDE sampler needs \(n) noise draws (one per step), got \(noise.count)") }
      for (i, xi) in noise.enumerated() { try Check.count(xi, d, "noise[\(i)]"); try Check.finite(xi, "noise[\(i)]") }
    }
    var states = [[Double]](repeating: [], count: n + 1)
    var eps = [[Double]](repeating: [], count: n + 1)
    states[n] = xT
    for step in 0..<n {
      let s = n - step, t = s - 1
      eps[s] = try model.eps(states[s], z: z.z(step: step), t: grid.times[s], batch: 1)
      let c = StepCoefficients(grid: grid, from: s, to: t)
      switch kind {
      case .dpmSolver1:
        states[t] = Self.dpmSolver1(states[s], eps: eps[s], c)
      case .dpmSolver2M:
        if step == 0 {
          states[t] = Self.dpmSolver1(states[s], eps: eps[s], c)
        } else {
          let r = (grid.lambdas[s] - grid.lambdas[s + 1]) / c.h
          states[t] = Self.dpmSolver2M(states[s], eps: eps[s], previousEps: eps[s + 1], r: r, c)
        }
      case .sde:
        states[t] = Self.sdeStep(states[s], eps: eps[s], xi: noise[step], c)
      }
    }
    return Trajectory(grid: grid, kind: kind, states: states, eps: eps, noise: kind.isSDE ? noise : [],
                      evaluations: EvaluationCount(eps: n))
  }

  // MARK: - One step each (docs/math.md#dpm-solver-1, #dpm-solver-2m, #sde-step)

  /// DPM-Solver-1: `x_t = (alpha_t/alpha_s) x_s - sigma_t (e^h - 1) eps_s`.
  @usableFromInline static func dpmSolver1(_ x: [Double], eps: [Double], _ c: StepCoefficients) -> [Double] {
    let b = c.sigmaT * c.expm1h
    return (0..<x.count).map { c.ratio * x[$0] - b * eps[$0] }
  }

  /// DPM-Solver-2M: `x_t = (alpha_t/alpha_s) x_s - sigma_t (e^h - 1) eps_s - sigma_t (e^h - 1) (eps_s - eps_s') / (2 r)`.
  @usableFromInline static func dpmSolver2M(_ x: [Double], eps: [Double], previousEps: [Double], r: Double, _ c: StepCoefficients) -> [Double] {
    let b = c.sigmaT * c.expm1h, d = b / (2 * r)
    return (0..<x.count).map { c.ratio * x[$0] - b * eps[$0] - d * (eps[$0] - previousEps[$0]) }
  }

  /// SDE step (paper eq. 3.6): `x_t = (alpha_t/alpha_s) x_s - 2 sigma_t (e^h - 1) eps_s + sigma_t sqrt(e^{2h} - 1) xi_s`.
  @usableFromInline static func sdeStep(_ x: [Double], eps: [Double], xi: [Double], _ c: StepCoefficients) -> [Double] {
    let b = 2 * c.sigmaT * c.expm1h, q = c.noiseScale
    return (0..<x.count).map { c.ratio * x[$0] - b * eps[$0] + q * xi[$0] }
  }

  /// Cycle-SDE (paper eq. 3.7): the noise of every step of a recorded SDE path,
  /// `xi_s = (x_t - (alpha_t/alpha_s) x_s + 2 sigma_t (e^h - 1) eps_s) / (sigma_t sqrt(e^{2h} - 1))`.
  public static func recoverNoise(_ path: Trajectory) -> [[Double]] {
    let n = path.grid.steps
    return (0..<n).map { step in
      let s = n - step, t = s - 1
      let c = StepCoefficients(grid: path.grid, from: s, to: t)
      let b = 2 * c.sigmaT * c.expm1h, q = c.noiseScale
      return (0..<path.states[s].count).map { (path.states[t][$0] - c.ratio * path.states[s][$0] + b * path.eps[s][$0]) / q }
    }
  }
}
