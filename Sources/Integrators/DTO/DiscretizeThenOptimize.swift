import DiffusionCore
import Foundation

/// Discretize-then-optimize: the exact gradient of a sampler's discrete output, by reverse mode through its steps
/// (docs/math.md#dto). Step n (counted from T downwards, `eps_n = eps(x_n, z_n, tau_n)`) is the sampler's exponential
/// step written on the raw outputs, `x_{n+1} = a_n x_n + sum_j v_{n,j} eps_{n-j} + q_n xi_n` (j < k, the rule's
/// order; `MultistepRule.valueCoefficients`), so one VJP per step carries the cotangent back:
/// `dL/d eps_n = sum_j v_{n+j,j} dL/dx_{n+j+1}`, `dL/dx_n = a_n dL/dx_{n+1} + J_n^T dL/d eps_n`.
///
/// Memory and cost by `checkpoint` (docs/math.md#checkpointing), N steps: `.all` holds the N states x_0..x_{N-1}
/// (N eps, N VJPs); `.every(k)` holds every k-th state with the eps history its step needs and recomputes each
/// segment when the reverse pass reaches it (O(k + N/k) states, N - ceil(N/k) more eps); `.binomial(slots: S)` holds
/// at most S states and follows Griewank's optimal schedule (`BinomialSchedule`): 1 + p(N, S) eps in all, N VJPs.
/// The gradient is the same bit for bit under every policy: the same states, the same VJPs in the same order.
///
/// `statistics` (docs/math.md#checkpointing): `stored_states`, the most d-vectors held at once for the reverse pass
/// (docs/math.md#sweep-back's convention), a kept state counting 1 + the eps outputs it holds for its next step (at most
/// k - 1 for a k-step rule; none under `.all`, where no state is re-advanced); `checkpoint_states`, the same count in
/// states x_n (what `stored_states` counted before binomial checkpointing); the state being advanced, the cotangents
/// and x_T are working memory, not counted. `forwards`, the eps calls in all (sampling + gradient);
/// `checkpoint_every` or `checkpoint_slots`.
public struct DiscretizeThenOptimize: Sendable {
  public var sampler: SamplerKind
  public var checkpoint: CheckpointPolicy
  public var wantParameters: Bool

  public init(sampler: SamplerKind, checkpoint: CheckpointPolicy = .all, wantParameters: Bool = true) throws {
    try checkpoint.validate()
    self.sampler = sampler
    self.checkpoint = checkpoint
    self.wantParameters = wantParameters
  }

  /// Step n's coefficients: `x_{n+1} = a x_n + sum_j v_j eps_{n-j} + q xi_n`.
  struct Coefficients { let a: Double; let v: [Double]; let q: Double }

  func coefficients(grid: TimeGrid, step n: Int) -> Coefficients {
    let s = grid.steps - n, t = s - 1
    // From alpha_s = 0 (flow matching at T = 1): x_t = (sigma_t/sigma_s) x_s + alpha_t x0-hat_s (docs/math.md#noise-end)
    if grid.alphas[s] == 0 { return Coefficients(a: grid.sigmas[t] / grid.sigmas[s], v: [grid.alphas[t]], q: 0) }
    let rule = sampler.rule
    let e = ExponentialStep(grid: grid, from: s, to: t, history: rule.order)
    let sigma = grid.sigmas[t]
    let available = rule.available(e, held: n + 1)
    let v = rule.valueCoefficients(e, available: available, scale: sampler.isSDE ? -2 * sigma : -sigma)
    return Coefficients(a: grid.alphas[t] / grid.alphas[s], v: v, q: sampler.isSDE ? sigma * sqrt(Foundation.expm1(2 * e.h)) : 0)
  }

  /// x_n with the outputs eps_{n-1}, ... (newest first) that step n uses besides its own: 1 + history.count d-vectors.
  struct StepState { var x: [Double]; var history: [[Double]] }

  /// Runs the sampler from x_T, then the reverse pass from `dL/dx_0`.
  public func gradient<M: NoisePredictor>(
    model: M, grid: TimeGrid, xT: [Double], z: Conditioning, noise: [[Double]] = [], loss: some GuidanceLoss
  ) throws -> GradientResult {
    let d = model.dataDimension, m = model.conditionDimension, n = grid.steps
    try Check.count(xT, d, "x_T")
    try Check.finite(xT, "x_T")
    try z.validate(dimension: m, steps: n)
    try checkpoint.validate(steps: n)
    try Sampler.checkPureNoise(grid, sampler)
    if sampler.isSDE {
      guard noise.count == n else { throw InvalidInput("noise", "the SDE sampler needs \(n) noise draws, got \(noise.count)") }
    }
    let depth = sampler.rule.order
    let steps = (0..<n).map { coefficients(grid: grid, step: $0) }

    // Step n: one eps call, x_n -> x_{n+1}; keeps the outputs step n + 1 uses.
    func advance(_ s: inout StepState, _ step: Int) throws {
      var history = History(depth: depth)
      for e in s.history.reversed() { history.push(e) }
      let zStep = z.z(step: step)
      history.push(try grid.alphas[n - step] == 0 ? model.noiseEndPrediction(s.x, z: zStep, batch: 1)
                   : model.eps(s.x, z: zStep, t: grid.times[n - step], batch: 1))
      ExponentialStep.applyValues(&s.x, linear: steps[step].a, coefficients: steps[step].v, history: history,
                                  noise: steps[step].q, xi: sampler.isSDE ? noise[step] : [])
      let next = step + 1 < n ? steps[step + 1].v.count - 1 : 0
      s.history = Array(history.outputs.prefix(next))
    }

    // The reverse pass, one step at a time from n = N-1 down. `g[j]` = dL/dx_{n+1+j} (newest first).
    var g = History(depth: depth)
    var gz = [[Double]](repeating: [Double](repeating: 0, count: m), count: z.count)
    var gtheta = [Double](repeating: 0, count: wantParameters ? model.parameterCount : 0)
    var vjps = 0
    func reverseStep(_ x: [Double], _ step: Int) throws {
      // dL/d eps_n = sum_j v_{n+j, j} dL/dx_{n+j+1}   (docs/math.md#dto, 7.1)
      var cotangent = [Double](repeating: 0, count: d)
      for i in 0..<d {
        var r = steps[step].v[0] * g[0][i]
        for j in 1..<max(depth, 1) where step + j < n && j < steps[step + j].v.count && j < g.count { r += steps[step + j].v[j] * g[j][i] }
        cotangent[i] = r
      }
      let vjp = try grid.alphas[n - step] == 0
        ? model.noiseEndVJP(x, z: z.z(step: step), batch: 1, cotangent: cotangent, wantParameters: wantParameters)
        : model.vjp(x, z: z.z(step: step), t: grid.times[n - step], batch: 1, cotangent: cotangent, wantParameters: wantParameters)
      vjps += 1
      let bucket = z.count == 1 ? 0 : step
      for j in 0..<m { gz[bucket][j] += vjp.z[j] }
      for j in 0..<gtheta.count { gtheta[j] += vjp.theta[j] }
      // dL/dx_n = a_n dL/dx_{n+1} + J_n^T (dL/d eps_n)
      let a = steps[step].a, g0 = g[0]
      g.push((0..<d).map { a * g0[$0] + vjp.x[$0] })
    }

    var x0: [Double] = []
    var samplingEps = 0, recomputedEps = 0
    var statistics: [String: Int] = [:]
    switch checkpoint {
    case let .binomial(slots):
      // Griewank's schedule; its first advances are the sampling sweep x_0 -> x_{N-1}, and x_N costs one more.
      var reached = 0
      let reversal = try BinomialSchedule.reverse(
        steps: n, slots: slots, start: StepState(x: xT, history: []), size: { 1 + $0.history.count },
        advance: { s, step in
          try advance(&s, step)
          if step + 1 > reached { reached = step + 1; samplingEps += 1 } else { recomputedEps += 1 }
        },
        reverseStep: { s, step in
          if step == n - 1 {
            var last = s
            try advance(&last, step)
            samplingEps += 1
            x0 = last.x
            g.push(loss.gradient(x0))
          }
          try reverseStep(s.x, step)
        })
      statistics = ["stored_states": reversal.peakSize, "checkpoint_states": reversal.peakSlots, "checkpoint_slots": slots]
    case .all, .every:
      let k: Int
      if case let .every(every) = checkpoint { k = every } else { k = 1 }
      // Forward pass: keep (x_n, the eps history step n needs) at every k-th step (x_n alone when k = 1: no segment
      // is ever re-run).
      var checkpoints: [Int: StepState] = [:]
      var x = StepState(x: xT, history: [])
      for step in 0..<n {
        if step % k == 0 { checkpoints[step] = k == 1 ? StepState(x: x.x, history: []) : x }
        try advance(&x, step)
        samplingEps += 1
      }
      x0 = x.x
      g.push(loss.gradient(x0))
      var maxStored = checkpoints.count
      // d-vectors held by the checkpoints, kept as a running count (summing them per segment made k = 1 quadratic in N)
      var checkpointVectors = checkpoints.values.reduce(0) { $0 + 1 + $1.history.count }
      var maxVectors = checkpointVectors
      // Reverse pass, one segment of k steps at a time, last segment first.
      var segmentStart = ((n - 1) / k) * k
      while segmentStart >= 0 {
        let segmentEnd = min(segmentStart + k, n)
        // Recompute the states of this segment from its checkpoint (only the first is stored when k = 1).
        var states: [[Double]] = []
        var s = checkpoints[segmentStart]!  // invariant: a checkpoint starts every segment
        for step in segmentStart..<segmentEnd {
          states.append(s.x)
          if step + 1 < segmentEnd {
            try advance(&s, step)
            recomputedEps += 1
          }
        }
        maxStored = max(maxStored, checkpoints.count + states.count - 1)  // states[0] is the checkpoint itself
        maxVectors = max(maxVectors, checkpointVectors + states.count - 1)
        for step in stride(from: segmentEnd - 1, through: segmentStart, by: -1) {
          try reverseStep(states[step - segmentStart], step)
        }
        if let released = checkpoints.removeValue(forKey: segmentStart) { checkpointVectors -= 1 + released.history.count }
        segmentStart -= k
      }
      statistics = ["stored_states": maxVectors, "checkpoint_states": maxStored, "checkpoint_every": k]
    }
    statistics["forwards"] = samplingEps + recomputedEps
    return GradientResult(
      x0: x0, loss: loss.value(x0), gradXT: g[0], gradZ: gz, gradTheta: gtheta,
      sampling: EvaluationCount(eps: samplingEps), adjoint: EvaluationCount(eps: recomputedEps, vjp: vjps),
      statistics: statistics)
  }
}
