import DiffusionCore

/// The Lawson (exponential Runge-Kutta) increment of one explicit tableau on the reformulated ODE `dy/dgamma = k`
/// (docs/reversible-solvers.md#lawson), from grid index a to grid index b (either direction), h = gamma_b - gamma_a:
///
///   y_0 = x / w_a,  Z_i = y_0 + h sum_{j<i} A_ij k_j,  x_i = w(gamma_a + c_i h) Z_i,  k_i = k(x_i, t_i),
///   psi = h sum_i b_i k_i,    so that one plain step is x_b = (w_b / w_a) x + w_b psi.
///
/// Cost: s network forwards (`forward`); its VJP with the stage states recomputed costs s - 1 forwards and s VJPs
/// (`valueAndVJP`, which also returns psi: the last stage's eps comes from its VJP). Memory: the s stage states and
/// their k within the call.
public struct LawsonStep: Sendable {
  public let tableau: ButcherTableau
  public let parameterization: Parameterization

  public init(tableau: ButcherTableau, parameterization: Parameterization) {
    self.tableau = tableau
    self.parameterization = parameterization
  }

  /// The stage states, nodes and (some of) the stage values k of one step.
  struct Stages {
    var states: [[Double]] = []
    var ks: [[Double]] = []
    var nodes: [Parameterization.Node] = []
    var h = 0.0
    var weight = 1.0  // w_a
  }

  /// The stage states; k is evaluated for every stage (`evaluateLast`) or for all but the last, which the states
  /// do not need. Stage i sits at the grid node when c_i is 0 or 1, else at gamma_a + c_i h.
  func stages<M: NoisePredictor>(_ x: [Double], from a: Int, to b: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M,
                                 z: [Double], evaluateLast: Bool, count: inout EvaluationCount) throws -> Stages {
    let s = tableau.stages, d = x.count
    let start = parameterization.node(grid, a), end = parameterization.node(grid, b)
    var r = Stages()
    r.h = end.gamma - start.gamma
    r.weight = start.weight
    for i in 0..<s {
      let ci = tableau.c[i]
      let node = ci == 0 ? start : ci == 1 ? end : parameterization.node(gamma: start.gamma + ci * r.h, schedule: schedule)
      var xi: [Double]
      if ci == 0 && tableau.a[i].allSatisfy({ $0 == 0 }) {
        xi = x
      } else {
        // x_i = w_i (y_0 + h sum_j A_ij k_j)
        xi = [Double](repeating: 0, count: d)
        for e in 0..<d {
          var zi = x[e] / start.weight
          for j in 0..<i where tableau.a[i][j] != 0 { zi += r.h * tableau.a[i][j] * r.ks[j][e] }
          xi[e] = node.weight * zi
        }
      }
      r.nodes.append(node)
      r.states.append(xi)
      if i < s - 1 || evaluateLast { r.ks.append(try node.k(xi, model: model, z: z, count: &count)) }
    }
    return r
  }

  /// psi = h sum_i b_i k_i.
  func psi(_ r: Stages) -> [Double] {
    var p = [Double](repeating: 0, count: r.states[0].count)
    for i in 0..<tableau.stages where tableau.b[i] != 0 {
      let hb = r.h * tableau.b[i]
      for e in 0..<p.count { p[e] += hb * r.ks[i][e] }
    }
    return p
  }

  /// psi from grid index a to b at x. s forwards.
  public func forward<M: NoisePredictor>(_ x: [Double], from a: Int, to b: Int, grid: TimeGrid, schedule: NoiseSchedule,
                                         model: M, z: [Double], count: inout EvaluationCount) throws -> [Double] {
    psi(try stages(x, from: a, to: b, grid: grid, schedule: schedule, model: model, z: z, evaluateLast: true, count: &count))
  }

  /// Pulls the cotangent u of psi back through the stages (docs/reversible-solvers.md#lawson-vjp), last stage first:
  /// `kbar_i = h b_i u + h sum_{j>i} A_ji Zbar_j`, `Zbar_i = w_i (dk_i/dx_i)^T kbar_i`, `xbar = sum_i Zbar_i / w_a`.
  /// Adds the z and theta cotangents into gz, gtheta. One VJP per stage; fills in the last stage's k when missing.
  func pullback<M: NoisePredictor>(_ r: inout Stages, cotangent u: [Double], model: M, z: [Double], wantParameters: Bool,
                                   gz: inout [Double], gtheta: inout [Double], count: inout EvaluationCount) throws -> [Double] {
    let s = tableau.stages, d = u.count
    var zbar = [[Double]?](repeating: nil, count: s)
    var gy0 = [Double](repeating: 0, count: d)
    for i in stride(from: s - 1, through: 0, by: -1) {
      var kbar = [Double](repeating: 0, count: d)
      var used = false
      if tableau.b[i] != 0 {
        used = true
        let hb = r.h * tableau.b[i]
        for e in 0..<d { kbar[e] += hb * u[e] }
      }
      for j in (i + 1)..<max(s, i + 1) where tableau.a[j][i] != 0 {
        guard let zj = zbar[j] else { continue }
        used = true
        let ha = r.h * tableau.a[j][i]
        for e in 0..<d { kbar[e] += ha * zj[e] }
      }
      guard used else {
        if r.ks.count == i { r.ks.append([Double](repeating: 0, count: d)) }  // b_i = 0: psi does not read it
        continue
      }
      let (k, gx) = try r.nodes[i].kVJP(r.states[i], cotangent: kbar, model: model, z: z, wantParameters: wantParameters,
                                        gz: &gz, gtheta: &gtheta, count: &count)
      if r.ks.count == i { r.ks.append(k) }
      let w = r.nodes[i].weight
      let zi = gx.map { w * $0 }
      zbar[i] = zi
      for e in 0..<d { gy0[e] += zi[e] }
    }
    return gy0.map { $0 / r.weight }
  }

  /// psi at x and the pull-back of its cotangent u to x (z and theta cotangents added into gz, gtheta).
  /// s - 1 forwards and s VJPs.
  public func valueAndVJP<M: NoisePredictor>(
    _ x: [Double], from a: Int, to b: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M, z: [Double],
    cotangent u: [Double], wantParameters: Bool, gz: inout [Double], gtheta: inout [Double], count: inout EvaluationCount
  ) throws -> (psi: [Double], x: [Double]) {
    var r = try stages(x, from: a, to: b, grid: grid, schedule: schedule, model: model, z: z, evaluateLast: false, count: &count)
    let gx = try pullback(&r, cotangent: u, model: model, z: z, wantParameters: wantParameters, gz: &gz, gtheta: &gtheta, count: &count)
    return (psi(r), gx)
  }
}
