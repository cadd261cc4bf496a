import DiffusionCore
import Foundation

/// Discretize-then-optimize: the exact gradient of a sampler's discrete output, by reverse mode through its steps
/// (docs/math.md#dto). Every step is `x_{n+1} = a_n x_n - B_n eps_n + C_n eps_{n-1} + q_n xi_n`
/// (n counts steps from T downwards, `eps_n = eps(x_n, z_n, tau_n)`), so one VJP per step carries the cotangent back.
///
/// `checkpointEvery = nil` stores every state (memory O(N)); a value k keeps every k-th state and recomputes each
/// segment forward when the reverse pass reaches it (memory O(k + N/k), O(sqrt N) for k ~ sqrt N, N more eps calls).
public struct DiscretizeThenOptimize: Sendable {
  public var sampler: SamplerKind
  public var checkpointEvery: Int?
  public var wantParameters: Bool

  public init(sampler: SamplerKind, checkpointEvery: Int? = nil, wantParameters: Bool = true) throws {
    if let k = checkpointEvery, k < 1 { throw InvalidInput("checkpoint", "must be at least 1, got \(k)") }
    self.sampler = sampler
    self.checkpointEvery = checkpointEvery
    self.wantParameters = wantParameters
  }

  /// Step n's coefficients: `x_{n+1} = a x_n - B eps_n + C eps_{n-1} + q xi_n`.
  struct Coefficients { let a, b, c, q: Double }

  func coefficients(grid: TimeGrid, step n: Int) -> Coefficients {
    let s = grid.steps - n, t = s - 1
    let step = StepCoefficients(grid: grid, from: s, to: t)
    let base = step.sigmaT * step.expm1h
    switch sampler {
    case .dpmSolver1:
      return Coefficients(a: step.ratio, b: base, c: 0, q: 0)
    case .dpmSolver2M:
      if n == 0 { return Coefficients(a: step.ratio, b: base, c: 0, q: 0) }
      let r = (grid.lambdas[s] - grid.lambdas[s + 1]) / step.h
      return Coefficients(a: step.ratio, b: base * (1 + 1 / (2 * r)), c: base / (2 * r), q: 0)
    case .sde:
      return Coefficients(a: step.ratio, b: 2 * base, c: 0, q: step.noiseScale)
    }
  }

  /// Runs the sampler from x_T, then the reverse pass from `dL/dx_0`.
  public func gradient<M: NoisePredictor>(
    model: M, grid: TimeGrid, xT: [Double], z: Conditioning, noise: [[Double]] = [], loss: some GuidanceLoss
  ) throws -> GradientResult {
    let d = model.dataDimension, m = model.conditionDimension, n = grid.steps
    try Check.count(xT, d, "x_T")
    try Check.finite(xT, "x_T")
    try z.validate(dimension: m, steps: n)
    if sampler.isSDE {
      guard noise.count == n else { throw InvalidInput("noise", "the SDE sampler needs \(n) noise draws, got \(noise.count)") }
    }
    let k = checkpointEvery ?? 1
    var evaluations = EvaluationCount()

    // Forward pass: keep (x_n, eps_{n-1}) at every k-th step (every step without checkpointing).
    var checkpoints: [Int: (x: [Double], previousEps: [Double])] = [:]
    var x = xT, previousEps = [Double](repeating: 0, count: d)
    for step in 0..<n {
      if step % k == 0 { checkpoints[step] = (x, previousEps) }
      let eps = try model.eps(x, z: z.z(step: step), t: grid.times[n - step], batch: 1)
      evaluations.eps += 1
      x = advance(x, eps: eps, previousEps: previousEps, grid: grid, step: step, noise: noise)
      previousEps = eps
    }
    let x0 = x
    let samplingEvaluations = evaluations
    evaluations = EvaluationCount()

    // Reverse pass, one segment of k steps at a time, last segment first.
    var g = loss.gradient(x0)  // dL/dx_{n+1}
    var gNext = [Double](repeating: 0, count: d)  // dL/dx_{n+2}, for the C term of step n+1
    var gz = [[Double]](repeating: [Double](repeating: 0, count: m), count: z.count)
    var gtheta = [Double](repeating: 0, count: wantParameters ? model.parameterCount : 0)
    var segmentStart = ((n - 1) / k) * k
    var maxStored = checkpoints.count
    while segmentStart >= 0 {
      let segmentEnd = min(segmentStart + k, n)
      // Recompute the states of this segment from its checkpoint (only the first is stored when k = 1).
      var states: [[Double]] = []
      var (xs, pe) = checkpoints[segmentStart]!  // invariant: a checkpoint starts every segment
      for step in segmentStart..<segmentEnd {
        states.append(xs)
        if step + 1 < segmentEnd {
          let eps = try model.eps(xs, z: z.z(step: step), t: grid.times[n - step], batch: 1)
          evaluations.eps += 1
          xs = advance(xs, eps: eps, previousEps: pe, grid: grid, step: step, noise: noise)
          pe = eps
        }
      }
      maxStored = max(maxStored, checkpoints.count + states.count - 1)  // states[0] is the checkpoint itself
      for step in stride(from: segmentEnd - 1, through: segmentStart, by: -1) {
        let c = coefficients(grid: grid, step: step)
        // dL/d eps_n = -B_n g_{n+1} + C_{n+1} g_{n+2}
        let cNext = step + 1 < n ? coefficients(grid: grid, step: step + 1).c : 0
        let cotangent = (0..<d).map { -c.b * g[$0] + cNext * gNext[$0] }
        let vjp = try model.vjp(states[step - segmentStart], z: z.z(step: step), t: grid.times[n - step], batch: 1,
                                cotangent: cotangent, wantParameters: wantParameters)
        evaluations.vjp += 1
        let bucket = z.count == 1 ? 0 : step
        for j in 0..<m { gz[bucket][j] += vjp.z[j] }
        for j in 0..<gtheta.count { gtheta[j] += vjp.theta[j] }
        // dL/dx_n = a_n g_{n+1} + J_n^T (dL/d eps_n)
        let gn = (0..<d).map { c.a * g[$0] + vjp.x[$0] }
        gNext = g
        g = gn
      }
      checkpoints[segmentStart] = nil
      segmentStart -= k
    }
    return GradientResult(
      x0: x0, loss: loss.value(x0), gradXT: g, gradZ: gz, gradTheta: gtheta,
      sampling: samplingEvaluations, adjoint: evaluations,
      statistics: ["stored_states": maxStored, "checkpoint_every": k])
  }

  private func advance(_ x: [Double], eps: [Double], previousEps: [Double], grid: TimeGrid, step: Int, noise: [[Double]]) -> [Double] {
    let c = coefficients(grid: grid, step: step)
    let xi = sampler.isSDE ? noise[step] : []
    return (0..<x.count).map { i in
      var v = c.a * x[i] - c.b * eps[i] + c.c * previousEps[i]
      if c.q != 0 { v += c.q * xi[i] }
      return v
    }
  }
}
