import DiffusionCore
import Foundation

/// The explicit Runge-Kutta method of an AdjointDPM run (fixed steps, as torchdiffeq's `euler`, `midpoint`, `rk4`).
public enum AdjointDPMScheme: String, CaseIterable, Sendable {
  case euler, midpoint, rk4

  /// Stages = model VJPs (or eps calls, sampling) per step.
  public var stages: Int {
    switch self {
    case .euler: return 1
    case .midpoint: return 2
    case .rk4: return 4
    }
  }
}

/// Which fourth-order tableau `rk4` means: Kutta's classical 1/6, 1/3, 1/3, 1/6 rule, or his 3/8 rule, which is what
/// torchdiffeq's `rk4` runs (`rk4_alt_step_func`; docs/gaussian-linear-part.md#adjointdpm).
public enum RK4Tableau: String, Sendable {
  case classical
  case threeEighths = "3/8"
}

/// AdjointDPM (Pan et al., ICLR 2024) as a baseline (docs/gaussian-linear-part.md#adjointdpm): the probability-flow
/// ODE in `y = x / alpha` against `rho = sigma / alpha = e^{-lambda}` is `dy/drho = eps(alpha y, z, t(rho))`
/// (DDIM is its Euler step); its continuous adjoint, with `b = dL/dy = alpha a_x`, is
///
///   `db/drho = -alpha (d eps/dx)^T b`, `da_z/drho = -(d eps/dz)^T b`, `da_theta/drho = -(d eps/dtheta)^T b`,
///
/// integrated from rho(t_eps) up to rho(T) with a fixed-step explicit Runge-Kutta method on the grid's rho values,
/// together with y (the augmented system [y, b, a_z, a_theta], as torchdiffeq's `odeint_adjoint` integrates it).
/// Every stage costs one VJP (which also returns eps): 1, 2 or 4 per step. Where each step's y starts:
/// `recorded` (the authors' configuration: `odeint_adjoint` given the whole grid resets y to the forward pass's value
/// at every grid time), `backsolve` (y from x_0 only, never reset), or `exact`. `sample` is the forward pass of the
/// authors' configuration: the same Runge-Kutta method on the same grid (1, 2 or 4 eps per step, N + 1 states kept).
public struct AdjointDPM: Sendable {
  public enum StateSource: Sendable {
    /// The exact state x(t), e.g. the dense RK45 solution.
    case exact(@Sendable (Double) throws -> [Double])
    /// y re-integrated from x_0 with the same Runge-Kutta stages (backsolve), never reset.
    case backsolve(x0: [Double])
    /// y at every grid time (`ys[i]` at `grid.times[i]`, from `sample`): each step's y starts from it and is re-solved
    /// across the step only (torchdiffeq's `odeint_adjoint` with the whole grid as its output times).
    case recorded(ys: [[Double]])
  }

  /// The forward pass: y at every grid time (`ys[i]` at `grid.times[i]`), x_0 and the eps calls it cost.
  public struct Path: Sendable {
    public var ys: [[Double]]
    public var x0: [Double]
    public var evaluations: EvaluationCount
  }

  public var scheme: AdjointDPMScheme
  public var rk4: RK4Tableau
  public var wantParameters: Bool

  public init(scheme: AdjointDPMScheme, rk4: RK4Tableau = .classical, wantParameters: Bool = true) {
    self.scheme = scheme
    self.rk4 = rk4
    self.wantParameters = wantParameters
  }

  /// The Butcher tableau (a: stage coefficients, b: weights, c: nodes) of the scheme.
  var tableau: (a: [[Double]], b: [Double], c: [Double]) {
    switch scheme {
    case .euler: return ([[]], [1], [0])
    case .midpoint: return ([[], [0.5]], [0, 1], [0, 0.5])
    case .rk4:
      switch rk4 {
      case .classical: return ([[], [0.5], [0, 0.5], [0, 0, 1]], [1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6], [0, 0.5, 0.5, 1])
      case .threeEighths: return ([[], [1.0 / 3], [-1.0 / 3, 1], [1, -1, 1]], [0.125, 0.375, 0.375, 0.125], [0, 1.0 / 3, 2.0 / 3, 1])
      }
    }
  }

  public func solve<M: NoisePredictor>(
    model: M, schedule: NoiseSchedule, grid: TimeGrid, states: StateSource, z: Conditioning, samplingGrid: TimeGrid? = nil,
    aX0: [Double]
  ) throws -> AdjointSolution {
    let d = model.dataDimension, m = model.conditionDimension, p = wantParameters ? model.parameterCount : 0
    try validateAdjointInputs(aX0: aX0, dimension: d, z: z, conditionDimension: m, samplingGrid: samplingGrid)
    if case let .backsolve(x0) = states { try Check.count(x0, d, "x0"); try Check.finite(x0, "x0") }
    if case let .recorded(ys) = states {
      guard ys.count == grid.steps + 1 else { throw InvalidInput("states", "expected \(grid.steps + 1) recorded states, got \(ys.count)") }
      for y in ys { try Check.count(y, d, "states"); try Check.finite(y, "states") }
    }
    let (a, bw, c) = tableau
    let S = a.count
    // Augmented state u = [y, b, a_z, a_theta]; its rho-derivative at one stage costs one VJP.
    var y: [Double] = {
      switch states {
      case let .backsolve(x0): return x0.map { $0 / grid.alphas[0] }
      case let .recorded(ys): return ys[0]
      case .exact: return []
      }
    }()
    var b = (0..<d).map { grid.alphas[0] * aX0[$0] }
    var az = [[Double]](repeating: [Double](repeating: 0, count: m), count: z.count)
    var atheta = [Double](repeating: 0, count: p)
    var evaluations = EvaluationCount()
    for i in 0..<grid.steps {
      let bucket = samplingGrid.map { $0.samplingStep(containing: 0.5 * (grid.times[i] + grid.times[i + 1])) } ?? 0
      let zRow = z.z(step: bucket)
      let (rho0, rho1) = (exp(-grid.lambdas[i]), exp(-grid.lambdas[i + 1]))
      let H = rho1 - rho0
      if case let .recorded(ys) = states { y = ys[i] }  // odeint_adjoint: y reset to the forward value at each grid time
      var ky: [[Double]] = [], kb: [[Double]] = [], kz: [[Double]] = [], kt: [[Double]] = []
      for stage in 0..<S {
        let rho = rho0 + c[stage] * H
        let t = stage == 0 ? grid.times[i] : (c[stage] == 1 ? grid.times[i + 1] : schedule.t(lambda: -log(rho)))
        let alpha = schedule.alpha(t)
        var yStage = y, bStage = b
        for (j, coefficient) in a[stage].enumerated() where coefficient != 0 {
          for q in 0..<d { bStage[q] += H * coefficient * kb[j][q] }
          if !y.isEmpty { for q in 0..<d { yStage[q] += H * coefficient * ky[j][q] } }
        }
        let x: [Double]
        switch states {
        case let .exact(state): x = try state(t)
        case .backsolve, .recorded: x = yStage.map { alpha * $0 }
        }
        let vjp = try model.vjp(x, z: zRow, t: t, batch: 1, cotangent: bStage, wantParameters: wantParameters)
        // d eps/dy = alpha d eps/dx
        evaluations.vjp += 1
        ky.append(vjp.eps)
        kb.append(vjp.x.map { -alpha * $0 })
        kz.append(vjp.z.map { -$0 })
        kt.append(vjp.theta.map { -$0 })
      }
      for stage in 0..<S where bw[stage] != 0 {
        let w = H * bw[stage]
        for q in 0..<d { b[q] += w * kb[stage][q] }
        if !y.isEmpty { for q in 0..<d { y[q] += w * ky[stage][q] } }
        for q in 0..<m { az[bucket][q] += w * kz[stage][q] }
        for q in 0..<p { atheta[q] += w * kt[stage][q] }
      }
    }
    let ax = b.map { $0 / grid.alphas[grid.steps] }
    try Check.finite(ax, "dL/dx_T")
    return AdjointSolution(ax: ax, az: az, atheta: atheta, evaluations: evaluations)
  }

  /// The forward pass of the authors' configuration: `dy/drho = eps(alpha y, z, t(rho))` from T down to t_eps with
  /// the same Runge-Kutta method, one step per grid interval (torchdiffeq's fixed-grid solvers given the grid as their
  /// output times). Cost: `stages` eps per step. Memory: the N + 1 states y_i, kept for `StateSource.recorded`.
  public func sample<M: NoisePredictor>(
    model: M, schedule: NoiseSchedule, grid: TimeGrid, xT: [Double], z: Conditioning, samplingGrid: TimeGrid? = nil
  ) throws -> Path {
    let d = model.dataDimension, n = grid.steps
    try Check.count(xT, d, "x_T")
    try Check.finite(xT, "x_T")
    try validateAdjointInputs(aX0: [Double](repeating: 0, count: d), dimension: d, z: z, conditionDimension: model.conditionDimension,
                              samplingGrid: samplingGrid)
    let (a, bw, c) = tableau
    var y = xT.map { $0 / grid.alphas[n] }
    var ys = [[Double]](repeating: [], count: n + 1)
    ys[n] = y
    var evaluations = EvaluationCount()
    for i in stride(from: n, to: 0, by: -1) {
      let bucket = samplingGrid.map { $0.samplingStep(containing: 0.5 * (grid.times[i] + grid.times[i - 1])) } ?? 0
      let zRow = z.z(step: bucket)
      let (rho0, rho1) = (exp(-grid.lambdas[i]), exp(-grid.lambdas[i - 1]))
      let H = rho1 - rho0
      var k: [[Double]] = []
      for stage in 0..<a.count {
        let t = stage == 0 ? grid.times[i] : (c[stage] == 1 ? grid.times[i - 1] : schedule.t(lambda: -log(rho0 + c[stage] * H)))
        var yStage = y
        for (j, coefficient) in a[stage].enumerated() where coefficient != 0 {
          for q in 0..<d { yStage[q] += H * coefficient * k[j][q] }
        }
        let alpha = schedule.alpha(t)
        k.append(try model.eps(yStage.map { alpha * $0 }, z: zRow, t: t, batch: 1))
        evaluations.eps += 1
      }
      for stage in 0..<a.count where bw[stage] != 0 {
        let w = H * bw[stage]
        for q in 0..<d { y[q] += w * k[stage][q] }
      }
      ys[i - 1] = y
    }
    let x0 = ys[0].map { grid.alphas[0] * $0 }
    try Check.finite(x0, "x_0")
    return Path(ys: ys, x0: x0, evaluations: evaluations)
  }
}
