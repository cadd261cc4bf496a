import DiffusionCore
import Foundation

/// The forward samplers (docs/math.md#exponential-step): exponential integrators from T down to t_eps.
/// A sampler is a multistep rule applied to the probability-flow ODE (or the SDE step); adding one is a case here
/// and a line in `rule`.
public enum SamplerKind: String, CaseIterable, Sendable {
  /// DPM-Solver-1 (= DDIM) for the probability-flow ODE.
  case dpmSolver1 = "dpm-solver-1"
  /// DPM-Solver-2M (multistep, eps form) for the probability-flow ODE.
  case dpmSolver2M = "dpm-solver-2m"
  /// DPM-Solver-3M (multistep, eps form) for the probability-flow ODE.
  case dpmSolver3M = "dpm-solver-3m"
  /// The SDE exponential step (paper eq. 3.6; docs/math.md#sde-step).
  case sde = "sde"

  public var isSDE: Bool { self == .sde }
  public var dynamics: Dynamics { isSDE ? .sde : .ode }

  /// How the step extrapolates eps from its history.
  public var rule: any MultistepRule {
    switch self {
    case .dpmSolver1, .sde: return FirstOrderRule()
    case .dpmSolver2M: return SecondOrderMultistep(weight: .paper)
    case .dpmSolver3M: return DPMSolver3M()
    }
  }

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

public struct Sampler: Sendable {
  public let kind: SamplerKind
  public init(kind: SamplerKind) { self.kind = kind }

  /// Runs the sampler from x_T at `grid.times.last` down to `grid.times[0]`, recording the path (memory O(N d)).
  /// `noise` (SDE only) holds one standard-normal draw of d numbers per step (see `NoiseSource`).
  public func sample<M: NoisePredictor>(
    model: M, grid: TimeGrid, xT: [Double], z: Conditioning, noise: [[Double]] = []
  ) throws -> Trajectory {
    try walk(model: model, grid: grid, xT: xT, z: z, noise: noise, record: true)
  }

  /// x_0 alone, the same numbers as `sample(...).x0`, holding only the current state and the rule's eps history
  /// (memory O(k d)): for the methods that re-solve their states instead of recording them.
  public func finalState<M: NoisePredictor>(
    model: M, grid: TimeGrid, xT: [Double], z: Conditioning, noise: [[Double]] = []
  ) throws -> (x0: [Double], evaluations: EvaluationCount) {
    let path = try walk(model: model, grid: grid, xT: xT, z: z, noise: noise, record: false)
    return (path.states[0], path.evaluations)
  }

  /// The sampling loop; without `record`, the returned trajectory holds x_0 alone and no eps.
  private func walk<M: NoisePredictor>(
    model: M, grid: TimeGrid, xT: [Double], z: Conditioning, noise: [[Double]], record: Bool
  ) throws -> Trajectory {
    let d = model.dataDimension, n = grid.steps
    try Check.count(xT, d, "x_T")
    try Check.finite(xT, "x_T")
    try z.validate(dimension: model.conditionDimension, steps: n)
    try Self.checkPureNoise(grid, kind)
    if kind.isSDE {
      guard noise.count == n else { throw InvalidInput("noise", "the SDE sampler needs \(n) noise draws (one per step), got \(noise.count)") }
      for (i, xi) in noise.enumerated() { try Check.count(xi, d, "noise[\(i)]"); try Check.finite(xi, "noise[\(i)]") }
    }
    var states = [[Double]](repeating: [], count: record ? n + 1 : 1)
    var eps = [[Double]](repeating: [], count: record ? n + 1 : 0)
    var x = xT
    let rule = kind.rule
    var history = History(depth: rule.order)
    for step in 0..<n {
      let s = n - step, t = s - 1
      if grid.alphas[s] == 0 {  // flow matching from T = 1: the data-prediction step (docs/math.md#noise-end)
        let e = try Self.noiseEndStep(&x, from: s, to: t, grid: grid, model: model, z: z.z(step: step))
        if record { (states[s], eps[s]) = (xT, e) }  // s = n: alpha = 0 only at T
        history.push(e)
        continue
      }
      let e = try model.eps(x, z: z.z(step: step), t: grid.times[s], batch: 1)
      if record { (states[s], eps[s]) = (x, e) }
      history.push(e)
      Self.step(&x, from: s, to: t, grid: grid, kind: kind, history: history, xi: kind.isSDE ? noise[step] : [])
    }
    states[0] = x
    return Trajectory(grid: grid, kind: kind, states: states, eps: eps, noise: kind.isSDE && record ? noise : [],
                      evaluations: EvaluationCount(eps: n))
  }

  /// One step of `kind` from grid index `a` to `b` (down for sampling, up for re-solved states and DDIM inversion):
  /// `x_b = (alpha_b/alpha_a) x_a - sigma_b [rule's weights on eps_a and its history]` (docs/math.md#dpm-solver-1,
  /// #dpm-solver-2m, #dpm-solver-3m); the SDE step doubles the eps term and adds `sigma_b sqrt(e^{2h} - 1) xi`
  /// (paper eq. 3.6; docs/math.md#sde-step).
  @inlinable public static func step(_ x: inout [Double], from a: Int, to b: Int, grid: TimeGrid, kind: SamplerKind,
                                     history: History, xi: [Double] = []) {
    let rule = kind.rule
    let e = ExponentialStep(grid: grid, from: a, to: b, history: history.count)
    let sigma = grid.sigmas[b]
    let c = rule.coefficients(e, available: rule.available(e, held: history.count), scale: kind.isSDE ? -2 * sigma : -sigma)
    let q = kind.isSDE ? sigma * sqrt(Foundation.expm1(2 * e.h)) : 0
    ExponentialStep.applyDifferences(&x, linear: grid.alphas[b] / grid.alphas[a], coefficients: c, history: history, noise: q, xi: xi)
  }

  /// Cycle-SDE (paper eq. 3.7; docs/math.md#cycle-sde): the noise of every step of a recorded SDE path,
  /// `xi_s = (x_t - (alpha_t/alpha_s) x_s + 2 sigma_t (e^h - 1) eps_s) / (sigma_t sqrt(e^{2h} - 1))`.
  public static func recoverNoise(_ path: Trajectory) -> [[Double]] {
    let n = path.grid.steps
    let grid = path.grid
    return (0..<n).map { step in
      let s = n - step, t = s - 1
      let e = ExponentialStep(grid: grid, from: s, to: t, history: 1)
      let ratio = grid.alphas[t] / grid.alphas[s], sigma = grid.sigmas[t]
      let b = 2 * sigma * e.expm1h, q = sigma * sqrt(Foundation.expm1(2 * e.h))
      return (0..<path.states[s].count).map { (path.states[t][$0] - ratio * path.states[s][$0] + b * path.eps[s][$0]) / q }
    }
  }
}
