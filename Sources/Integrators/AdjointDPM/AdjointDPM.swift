import DiffusionCore
import Foundation

/// The explicit Runge-Kutta method of an AdjointDPM run (fixed steps, as torchdiffeq's `euler`, `midpoint`, `rk4`).
public enum AdjointDPMScheme: String, CaseIterable, Sendable {
  case euler, midpoint, rk4

  /// Stages = model VJPs per step.
  public var stages: Int {
    switch self {
    case .euler: return 1
    case .midpoint: return 2
    case .rk4: return 4
    }
  }
}

/// AdjointDPM (Pan et al., NeurIPS 2023) as a baseline (docs/gaussian-linear-part.md#adjointdpm): the probability-flow
/// ODE in `y = x / alpha` against `rho = sigma / alpha = e^{-lambda}` is `dy/drho = eps(alpha y, z, t(rho))`
/// (DDIM is its Euler step); its continuous adjoint, with `b = dL/dy = alpha a_x`, is
///
///   `db/drho = -alpha (d eps/dx)^T b`, `da_z/drho = -(d eps/dz)^T b`, `da_theta/drho = -(d eps/dtheta)^T b`,
///
/// integrated from rho(t_eps) up to rho(T) with a fixed-step explicit Runge-Kutta method on the grid's rho values.
/// Every stage costs one VJP (which also returns eps): 1, 2 or 4 per step. The state y is re-integrated alongside
/// (backsolve, as torchdiffeq's `odeint_adjoint` does) or taken exact.
public struct AdjointDPM: Sendable {
  public enum StateSource: Sendable {
    /// The exact state x(t), e.g. the dense RK45 solution.
    case exact(@Sendable (Double) throws -> [Double])
    /// y re-integrated from x_0 with the same Runge-Kutta stages (backsolve).
    case backsolve(x0: [Double])
  }

  public var scheme: AdjointDPMScheme
  public var wantParameters: Bool

  public init(scheme: AdjointDPMScheme, wantParameters: Bool = true) {
    self.scheme = scheme
    self.wantParameters = wantParameters
  }

  /// The Butcher tableau (a: stage coefficients, b: weights, c: nodes) of the scheme.
  var tableau: (a: [[Double]], b: [Double], c: [Double]) {
    switch scheme {
    case .euler: return ([[]], [1], [0])
    case .midpoint: return ([[], [0.5]], [0, 1], [0, 0.5])
    case .rk4: return ([[], [0.5], [0, 0.5], [0, 0, 1]], [1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6], [0, 0.5, 0.5, 1])
    }
  }

  public func solve<M: NoisePredictor>(
    model: M, schedule: NoiseSchedule, grid: TimeGrid, states: StateSource, z: Conditioning, samplingGrid: TimeGrid? = nil,
    aX0: [Double]
  ) throws -> AdjointSolution {
    let d = model.dataDimension, m = model.conditionDimension, p = wantParameters ? model.parameterCount : 0
    try validateAdjointInputs(aX0: aX0, dimension: d, z: z, conditionDimension: m, samplingGrid: samplingGrid)
    if case let .backsolve(x0) = states { try Check.count(x0, d, "x0"); try Check.finite(x0, "x0") }
    let (a, bw, c) = tableau
    let S = a.count
    // Augmented state u = [y, b, a_z, a_theta]; its rho-derivative at one stage costs one VJP.
    var y: [Double] = { if case let .backsolve(x0) = states { return x0.map { $0 / grid.alphas[0] } } else { return [] } }()
    var b = (0..<d).map { grid.alphas[0] * aX0[$0] }
    var az = [[Double]](repeating: [Double](repeating: 0, count: m), count: z.count)
    var atheta = [Double](repeating: 0, count: p)
    var evaluations = EvaluationCount()
    for i in 0..<grid.steps {
      let bucket = samplingGrid.map { $0.samplingStep(containing: 0.5 * (grid.times[i] + grid.times[i + 1])) } ?? 0
      let zRow = z.z(step: bucket)
      let (rho0, rho1) = (exp(-grid.lambdas[i]), exp(-grid.lambdas[i + 1]))
      let H = rho1 - rho0
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
        case .backsolve: x = yStage.map { alpha * $0 }
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
}
