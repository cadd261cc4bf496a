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
  /// Network calls: N forward (sampling) and N VJPs (the reverse pass).
  public var forwardCalls: Int
  public var vjpCalls: Int
}

extension DiffusersLoop {
  /// Discretize-then-optimize through diffusers' loop (docs/diffusers-loop.md#reverse-mode): the forward pass keeps
  /// every state x_i and x_0 prediction X_i; the reverse pass carries `g_i = dL/dx_i` back with one network VJP per
  /// step: `dL/dm_i = sum_j w_{i+j}[j] g_{i+j+1}`, `dL/dX_i = clamp'(X_i)^T aD dL/dm_i`, `dL/dE_i = aE dL/dm_i`, the
  /// network's cotangent `dL/do_i = co dL/dX_i + eo dL/dE_i`, and
  /// `g_i = A_i g_{i+1} + aX dL/dm_i + cx dL/dX_i + ex dL/dE_i + J_x^T dL/do_i`.
  /// Cost: N forward calls + N VJPs. Memory: 2N states of B x d numbers.
  public func gradient<M: NoisePredictor>(model: M, xT: [Double], z: [Double], batch: Int, loss: some GuidanceLoss,
                                          wantParameters: Bool = false) throws -> DiffusersLoopGradient {
    try validate(model: model, xT: xT, z: z, batch: batch)
    let n = steps.count, count = xT.count
    var states: [[Double]] = [], predictions: [[Double]] = []
    var x = xT, history: [[Double]] = []
    for step in steps {
      states.append(x)
      let o = try model.eps(x, z: z, t: time(step.timestep), batch: batch)
      let (X, m) = output(step, x: x, o: o, batch: batch)
      predictions.append(X)
      history.insert(m, at: 0)
      if history.count > 3 { history.removeLast() }
      x = advance(x, step, history: history)
    }
    let x0 = x
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
      let gX = step.aD != 0 ? clamp.vjp(predictions[i], batch: batch, cotangent: gm.map { step.aD * $0 }) : []
      var cotangent = [Double](repeating: 0, count: count)
      for k in 0..<count {
        var c = step.aE != 0 ? step.eo * step.aE * gm[k] : 0
        if step.aD != 0 { c += step.co * gX[k] }
        cotangent[k] = c
      }
      let r = try model.vjp(states[i], z: z, t: time(step.timestep), batch: batch, cotangent: cotangent, wantParameters: wantParameters)
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
    return DiffusersLoopGradient(x0: x0, loss: loss.value(x0), gradXT: g[0], gradZ: gz, gradTheta: gtheta, forwardCalls: n, vjpCalls: n)
  }
}
