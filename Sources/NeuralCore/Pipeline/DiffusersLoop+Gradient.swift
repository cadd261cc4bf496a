import DiffusionCore

/// What `DiffusersLoop.gradient` returns: diffusers' final sample, the loss and its exact gradients.
public struct DiffusersLoopGradient: Sendable {
  public var x0: [Double]
  public var loss: Double
  /// dL/dx_T (B x d).
  public var gradXT: [Double]
  /// dL/dz (B x m; z is the same at every step, so the steps' contributions are summed).
  public var gradZ: [Double]
  /// dL/dtheta (empty unless asked for).
  public var gradTheta: [Double]
  /// Network calls: N forward (sampling), the forward calls recomputing checkpointed segments, N VJPs.
  public var forwardCalls: Int
  public var recomputedCalls: Int
  public var vjpCalls: Int
}

extension DiffusersLoop {
  /// Discretize-then-optimize through diffusers' loop (docs/diffusers-loop.md#reverse-mode): the forward pass keeps
  /// every state x_i and x_0 prediction X_i; the reverse pass carries `g_i = dL/dx_i` back with one network VJP per
  /// step: `dL/dm_i = sum_j w_{i+j}[j] g_{i+j+1}`, `dL/dX_i = clamp'(X_i)^T aD dL/dm_i`, `dL/dE_i = aE dL/dm_i`, the
  /// network's cotangent `dL/do_i = co dL/dX_i + eo dL/dE_i`, and
  /// `g_i = A_i g_{i+1} + aX dL/dm_i + cx dL/dX_i + ex dL/dE_i + J_x^T dL/do_i`.
  /// Cost: N forward calls + N VJPs. Memory: 2N states of B x d numbers; with `checkpointEvery = k`, the state and
  /// model-output history at every k-th step, each segment of k steps recomputed when the reverse pass reaches it
  /// (N more forward calls; memory about 3N/k + 2k states, O(sqrt N) for k ~ sqrt N).
  public func gradient<M: NoisePredictor>(model: M, xT: [Double], z: [Double], batch: Int, loss: some GuidanceLoss,
                                          wantParameters: Bool = false, checkpointEvery: Int? = nil) throws -> DiffusersLoopGradient {
    try validate(model: model, xT: xT, z: z, batch: batch)
    if let k = checkpointEvery, k < 1 { throw InvalidInput("checkpoint", "must be at least 1, got \(k)") }
    let n = steps.count, count = xT.count
    var forwardCalls = 0
    /// Runs steps `range` from x with the model-output history before it; keeps (x_i, X_i) when asked.
    func run(_ range: Range<Int>, from start: [Double], history before: [[Double]], keep: Bool,
             checkpoint: (Int, [Double], [[Double]]) -> Void = { _, _, _ in }) throws -> (x: [Double], kept: [([Double], [Double])]) {
      var x = start, history = before, kept: [([Double], [Double])] = []
      for i in range {
        checkpoint(i, x, history)
        let step = steps[i]
        let o = try network(model, x, z: z, step: step, batch: batch)
        forwardCalls += 1
        let (X, m) = output(step, x: x, o: o, batch: batch)
        if keep { kept.append((x, X)) }
        history.insert(m, at: 0)
        if history.count > 3 { history.removeLast() }
        x = advance(x, step, history: history, index: i)
      }
      return (x, kept)
    }
    var checkpoints: [Int: (x: [Double], history: [[Double]])] = [:]
    let start = initNoiseSigma == 1 ? xT : xT.map { initNoiseSigma * $0 }
    let (x0, all) = try run(0..<n, from: start, history: [], keep: checkpointEvery == nil) { i, x, history in
      if let k = checkpointEvery, i % k == 0 { checkpoints[i] = (x, history) }
    }
    let samplingCalls = forwardCalls
    var segment: (start: Int, kept: [([Double], [Double])]) = (0, all)
    /// (x_i, X_i): stored, or recomputed with the segment holding step i.
    func stored(_ i: Int) throws -> ([Double], [Double]) {
      guard let k = checkpointEvery else { return all[i] }
      if segment.kept.isEmpty || i < segment.start {
        let start = (i / k) * k
        let c = checkpoints[start]!  // invariant: a checkpoint starts every segment
        segment = (start, try run(start..<min(start + k, n), from: c.x, history: c.history, keep: true).kept)
        checkpoints[start] = nil
      }
      return segment.kept[i - segment.start]
    }
    // g[j] = dL/dx_{i+1+j} while step i is reversed (newest first)
    var g: [[Double]] = [loss.gradient(x0)]
    var gz = [Double](repeating: 0, count: z.count)
    var gtheta = [Double](repeating: 0, count: wantParameters ? model.parameterCount : 0)
    for i in stride(from: n - 1, through: 0, by: -1) {
      let step = steps[i]
      var gm = [Double](repeating: 0, count: count)
      for j in 0..<min(3, g.count) where i + j < n && j < steps[i + j].w.count {
        let wj = steps[i + j].w[j]
        for k in 0..<count { gm[k] += wj * g[j][k] }
      }
      let (state, prediction) = try stored(i)
      let gX = step.aD != 0 ? clamp.vjp(prediction, batch: batch, cotangent: gm.map { step.aD * $0 }) : []
      var cotangent = [Double](repeating: 0, count: count)
      for k in 0..<count {
        var c = step.aE != 0 ? step.eo * step.aE * gm[k] : 0
        if step.aD != 0 { c += step.co * gX[k] }
        cotangent[k] = c
      }
      let r = try networkVJP(model, state, z: z, step: step, batch: batch, cotangent: cotangent, wantParameters: wantParameters)
      for k in 0..<z.count { gz[k] += r.z[k] }
      for k in 0..<gtheta.count { gtheta[k] += r.theta[k] }
      var gx = [Double](repeating: 0, count: count)
      for k in 0..<count {
        var v = step.A * g[0][k] + step.aX * gm[k] + r.x[k]
        if step.aD != 0 { v += step.cx * gX[k] }
        if step.aE != 0 { v += step.ex * step.aE * gm[k] }
        gx[k] = v
      }
      g.insert(gx, at: 0)
      if g.count > 3 { g.removeLast() }
    }
    return DiffusersLoopGradient(x0: x0, loss: loss.value(x0), gradXT: initNoiseSigma == 1 ? g[0] : g[0].map { initNoiseSigma * $0 }, gradZ: gz, gradTheta: gtheta,
                                 forwardCalls: samplingCalls, recomputedCalls: forwardCalls - samplingCalls, vjpCalls: n)
  }
}
