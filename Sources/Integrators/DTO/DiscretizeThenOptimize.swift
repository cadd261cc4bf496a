import DiffusionCore
import Foundation

/// Discretize-then-optimize: the exact gradient of a sampler's discrete output, by reverse mode through its steps
/// (docs/math.md#dto). Step n (counted from T downwards, `eps_n = eps(x_n, z_n, tau_n)`) is the sampler's exponential
/// step written on the raw outputs, `x_{n+1} = a_n x_n + sum_j v_{n,j} eps_{n-j} + q_n xi_n` (j < k, the rule's
/// order; `MultistepRule.valueCoefficients`), so one VJP per step carries the cotangent back:
/// `dL/d eps_n = sum_j v_{n+j,j} dL/dx_{n+j+1}`, `dL/dx_n = a_n dL/dx_{n+1} + J_n^T dL/d eps_n`.
///
/// `checkpointEvery = nil` stores every state (memory O(N)); a value k keeps every k-th state (with the eps history
/// it needs) and recomputes each segment forward when the reverse pass reaches it (memory O(k + N/k), O(sqrt N) for
/// k ~ sqrt N; docs/math.md#checkpointing), N more eps calls.
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

  /// Step n's coefficients: `x_{n+1} = a x_n + sum_j v_j eps_{n-j} + q xi_n`.
  struct Coefficients { let a: Double; let v: [Double]; let q: Double }

  func coefficients(grid: TimeGrid, step n: Int) -> Coefficients {
    let s = grid.steps - n, t = s - 1
    let rule = sampler.rule
    let e = ExponentialStep(grid: grid, from: s, to: t, history: rule.order)
    let sigma = grid.sigmas[t]
    let available = rule.available(e, held: n + 1)
    let v = rule.valueCoefficients(e, available: available, scale: sampler.isSDE ? -2 * sigma : -sigma)
    return Coefficients(a: grid.alphas[t] / grid.alphas[s], v: v, q: sampler.isSDE ? sigma * sqrt(Foundation.expm1(2 * e.h)) : 0)
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
    let depth = sampler.rule.order
    let steps = (0..<n).map { coefficients(grid: grid, step: $0) }
    var evaluations = EvaluationCount()

    // Forward pass: keep (x_n, the eps history before step n) at every k-th step (every step without checkpointing).
    var checkpoints: [Int: (x: [Double], history: History)] = [:]
    var x = xT, history = History(depth: depth)
    for step in 0..<n {
      if step % k == 0 { checkpoints[step] = (x, history) }
      history.push(try model.eps(x, z: z.z(step: step), t: grid.times[n - step], batch: 1))
      evaluations.eps += 1
      advance(&x, steps[step], history: history, noise: noise, step: step)
    }
    let x0 = x
    let samplingEvaluations = evaluations
    evaluations = EvaluationCount()

    // Reverse pass, one segment of k steps at a time, last segment first. `g[j]` = dL/dx_{n+1+j} (newest first).
    var g = History(depth: depth)
    g.push(loss.gradient(x0))
    var gz = [[Double]](repeating: [Double](repeating: 0, count: m), count: z.count)
    var gtheta = [Double](repeating: 0, count: wantParameters ? model.parameterCount : 0)
    var segmentStart = ((n - 1) / k) * k
    var maxStored = checkpoints.count
    while segmentStart >= 0 {
      let segmentEnd = min(segmentStart + k, n)
      // Recompute the states of this segment from its checkpoint (only the first is stored when k = 1).
      var states: [[Double]] = []
      var (xs, hs) = checkpoints[segmentStart]!  // invariant: a checkpoint starts every segment
      for step in segmentStart..<segmentEnd {
        states.append(xs)
        if step + 1 < segmentEnd {
          hs.push(try model.eps(xs, z: z.z(step: step), t: grid.times[n - step], batch: 1))
          evaluations.eps += 1
          advance(&xs, steps[step], history: hs, noise: noise, step: step)
        }
      }
      maxStored = max(maxStored, checkpoints.count + states.count - 1)  // states[0] is the checkpoint itself
      for step in stride(from: segmentEnd - 1, through: segmentStart, by: -1) {
        // dL/d eps_n = sum_j v_{n+j, j} dL/dx_{n+j+1}
        var cotangent = [Double](repeating: 0, count: d)
        for i in 0..<d {
          var r = steps[step].v[0] * g[0][i]
          for j in 1..<max(depth, 1) where step + j < n && j < steps[step + j].v.count && j < g.count { r += steps[step + j].v[j] * g[j][i] }
          cotangent[i] = r
        }
        let vjp = try model.vjp(states[step - segmentStart], z: z.z(step: step), t: grid.times[n - step], batch: 1,
                                cotangent: cotangent, wantParameters: wantParameters)
        evaluations.vjp += 1
        let bucket = z.count == 1 ? 0 : step
        for j in 0..<m { gz[bucket][j] += vjp.z[j] }
        for j in 0..<gtheta.count { gtheta[j] += vjp.theta[j] }
        // dL/dx_n = a_n dL/dx_{n+1} + J_n^T (dL/d eps_n)
        let a = steps[step].a, g0 = g[0]
        g.push((0..<d).map { a * g0[$0] + vjp.x[$0] })
      }
      checkpoints[segmentStart] = nil
      segmentStart -= k
    }
    return GradientResult(
      x0: x0, loss: loss.value(x0), gradXT: g[0], gradZ: gz, gradTheta: gtheta,
      sampling: samplingEvaluations, adjoint: evaluations,
      statistics: ["stored_states": maxStored, "checkpoint_every": k])
  }

  private func advance(_ x: inout [Double], _ c: Coefficients, history: History, noise: [[Double]], step: Int) {
    ExponentialStep.applyValues(&x, linear: c.a, coefficients: c.v, history: history, noise: c.q, xi: sampler.isSDE ? noise[step] : [])
  }
}
