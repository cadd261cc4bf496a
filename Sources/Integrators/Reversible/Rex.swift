import DiffusionCore

/// Rex: the McCallum-Foster reversible coupling of a Lawson step (docs/reversible-solvers.md#rex). Two states
/// (x, xh), both x_T at the start; on step n from grid index a to b (r = w_b / w_a, zeta the coupling):
///
///   x'  = r (zeta x + (1 - zeta) xh) + w_b psi_{a->b}(xh),     xh' = r xh - w_b psi_{b->a}(x'),
///
/// inverted exactly by `xh = (w_a/w_b) xh' + w_a psi_{b->a}(x')`, `x = (w_a/w_b) x'/zeta + (1 - 1/zeta) xh
/// - (w_a/zeta) psi_{a->b}(xh)`. The sample is x at t_eps.
///
/// Cost per step with an s-stage tableau: 2s network forwards; a reversed step (`inverseVJP`) 2(s - 1) forwards and
/// 2s VJPs. Memory: the two carried states plus the s stages of one Lawson step.
public struct Rex: ReversibleSampler {
  public let lawson: LawsonStep
  /// zeta in (0, 1]: the inverse divides by zeta once per step, so rounding grows like zeta^-N
  /// (docs/reversible-solvers.md#coupling-stability).
  public let coupling: Double

  public var tableau: ButcherTableau { lawson.tableau }
  public var parameterization: Parameterization { lawson.parameterization }

  /// Throws `InvalidInput("coupling", ...)` unless 0 < coupling <= 1.
  public init(tableau: ButcherTableau = .rk4, parameterization: Parameterization = .data, coupling: Double = 0.999) throws {
    guard coupling.isFinite, coupling > 0, coupling <= 1 else {
      throw InvalidInput("coupling", "must lie in (0, 1], got \(coupling)")
    }
    self.lawson = LawsonStep(tableau: tableau, parameterization: parameterization)
    self.coupling = coupling
  }

  public var label: String { "rex-\(tableau.name)[\(parameterization.rawValue), zeta=\(coupling)]" }
  public var stateWidth: Int { 2 }
  public var stabilityOption: String { "coupling" }

  public func start<M: NoisePredictor>(xT: [Double], grid: TimeGrid, schedule: NoiseSchedule, model: M, z: Conditioning,
                                       count: inout EvaluationCount) throws -> ReversibleState {
    ReversibleState(parts: [xT, xT])
  }

  public func output(_ s: ReversibleState) -> [Double] { s.parts[0] }
  public func outputCotangent(_ gx0: [Double]) -> ReversibleState { ReversibleState(parts: [gx0, Lin.zeros(gx0.count)]) }

  public func startCotangent<M: NoisePredictor>(_ cotangent: ReversibleState, xT: [Double], grid: TimeGrid,
                                                schedule: NoiseSchedule, model: M, z: Conditioning, wantParameters: Bool,
                                                gz: inout [Double], gtheta: inout [Double], count: inout EvaluationCount) throws -> [Double] {
    Lin.add(cotangent.parts[0], cotangent.parts[1])
  }

  /// Grid indices of step n and the weights there.
  private func ends(_ n: Int, _ grid: TimeGrid) -> (a: Int, b: Int, wa: Double, wb: Double) {
    let a = grid.steps - n, b = a - 1
    let p = parameterization
    return (a, b, p.node(grid, a).weight, p.node(grid, b).weight)
  }

  // docs/reversible-solvers.md#rex
  public func step<M: NoisePredictor>(_ s: ReversibleState, n: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M,
                                      z: Conditioning, count: inout EvaluationCount) throws -> ReversibleState {
    let (a, b, wa, wb) = ends(n, grid), zn = z.z(step: n), r = wb / wa, zeta = coupling
    let x = s.parts[0], xh = s.parts[1]
    let p = try lawson.forward(xh, from: a, to: b, grid: grid, schedule: schedule, model: model, z: zn, count: &count)
    let x1 = Lin.combine(r * zeta, x, r * (1 - zeta), xh, wb, p)
    let q = try lawson.forward(x1, from: b, to: a, grid: grid, schedule: schedule, model: model, z: zn, count: &count)
    return ReversibleState(parts: [x1, Lin.combine(r, xh, -wb, q)])
  }

  // docs/reversible-solvers.md#rex (the inverse)
  public func inverse<M: NoisePredictor>(_ s: ReversibleState, n: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M,
                                         z: Conditioning, count: inout EvaluationCount) throws -> ReversibleState {
    let (a, b, wa, wb) = ends(n, grid), zn = z.z(step: n)
    let x1 = s.parts[0], xh1 = s.parts[1]
    let q = try lawson.forward(x1, from: b, to: a, grid: grid, schedule: schedule, model: model, z: zn, count: &count)
    let xh = Lin.combine(wa / wb, xh1, wa, q)
    let p = try lawson.forward(xh, from: a, to: b, grid: grid, schedule: schedule, model: model, z: zn, count: &count)
    return ReversibleState(parts: [previousX(x1, xh, p, wa: wa, wb: wb), xh])
  }

  /// x = (w_a/w_b) x'/zeta - (1 - zeta)/zeta xh - (w_a/zeta) psi_{a->b}(xh).
  private func previousX(_ x1: [Double], _ xh: [Double], _ p: [Double], wa: Double, wb: Double) -> [Double] {
    let zeta = coupling
    return Lin.combine(wa / (wb * zeta), x1, -(1 - zeta) / zeta, xh, -wa / zeta, p)
  }

  /// The cotangents of (x, xh) from those of (x', xh') (docs/reversible-solvers.md#rex-vjp), given the pull-backs
  /// through psi_{b->a} at x' (`gq`) and psi_{a->b} at xh (`gp`); `total` = g' + gq is dL/dx' through both paths.
  private func combineCotangents(_ c: ReversibleState, total: [Double], gp: [Double], r: Double) -> ReversibleState {
    let zeta = coupling
    let gx = total.map { r * zeta * $0 }
    let gxh = (0..<total.count).map { r * c.parts[1][$0] + r * (1 - zeta) * total[$0] + gp[$0] }
    return ReversibleState(parts: [gx, gxh])
  }

  /// 2s - 1 forwards (the stages of step n, recomputed from its input) and 2s VJPs.
  public func stepVJP<M: NoisePredictor>(_ s: ReversibleState, n: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M,
                                         z: Conditioning, cotangent c: ReversibleState, wantParameters: Bool, gz: inout [Double],
                                         gtheta: inout [Double], count: inout EvaluationCount) throws -> ReversibleState {
    let (a, b, wa, wb) = ends(n, grid), zn = z.z(step: n), r = wb / wa, zeta = coupling
    let x = s.parts[0], xh = s.parts[1]
    var pStages = try lawson.stages(xh, from: a, to: b, grid: grid, schedule: schedule, model: model, z: zn,
                                    evaluateLast: true, count: &count)
    let x1 = Lin.combine(r * zeta, x, r * (1 - zeta), xh, wb, lawson.psi(pStages))
    let (_, gq) = try lawson.valueAndVJP(x1, from: b, to: a, grid: grid, schedule: schedule, model: model, z: zn,
                                         cotangent: c.parts[1].map { -wb * $0 }, wantParameters: wantParameters,
                                         gz: &gz, gtheta: &gtheta, count: &count)
    let total = Lin.add(c.parts[0], gq)
    let gp = try lawson.pullback(&pStages, cotangent: total.map { wb * $0 }, model: model, z: zn,
                                 wantParameters: wantParameters, gz: &gz, gtheta: &gtheta, count: &count)
    return combineCotangents(c, total: total, gp: gp, r: r)
  }

  /// 2(s - 1) forwards and 2s VJPs: each psi of the inverse is evaluated by its own VJP pass.
  public func inverseVJP<M: NoisePredictor>(
    _ s: ReversibleState, n: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M, z: Conditioning,
    cotangent c: ReversibleState, wantParameters: Bool, gz: inout [Double], gtheta: inout [Double], count: inout EvaluationCount
  ) throws -> (state: ReversibleState, cotangent: ReversibleState) {
    let (a, b, wa, wb) = ends(n, grid), zn = z.z(step: n), r = wb / wa
    let x1 = s.parts[0], xh1 = s.parts[1]
    let (q, gq) = try lawson.valueAndVJP(x1, from: b, to: a, grid: grid, schedule: schedule, model: model, z: zn,
                                         cotangent: c.parts[1].map { -wb * $0 }, wantParameters: wantParameters,
                                         gz: &gz, gtheta: &gtheta, count: &count)
    let xh = Lin.combine(wa / wb, xh1, wa, q)
    let total = Lin.add(c.parts[0], gq)
    let (p, gp) = try lawson.valueAndVJP(xh, from: a, to: b, grid: grid, schedule: schedule, model: model, z: zn,
                                         cotangent: total.map { wb * $0 }, wantParameters: wantParameters,
                                         gz: &gz, gtheta: &gtheta, count: &count)
    let previous = ReversibleState(parts: [previousX(x1, xh, p, wa: wa, wb: wb), xh])
    return (previous, combineCotangents(c, total: total, gp: gp, r: r))
  }
}
