import DiffusionCore

/// Reversible Heun (Kidger et al. 2021) on the reformulated ODE `dy/dgamma = k` (docs/reversible-solvers.md#reversible-heun),
/// data parameterization by default (k = D). The carried state is (x, xh, F) with y = x / w, yh = xh / w and
/// F = k(xh) cached; on step n from grid index a to b, h = gamma_b - gamma_a:
///
///   yh' = 2 y - yh + h F,   F' = k(xh'),   y' = y + (h/2)(F + F'),
///
/// inverted exactly by `yh = 2 y' - yh' - h F'`, `F = k(xh)`, `y = y' - (h/2)(F + F')`. The sample is x at t_eps.
///
/// Cost: one network forward at the start and one per step; a reversed step (`inverseVJP`) one forward and one VJP,
/// plus one VJP at the start. Memory: the three carried vectors.
public struct ReversibleHeun: ReversibleSampler {
  public let parameterization: Parameterization

  public init(parameterization: Parameterization = .data) {
    self.parameterization = parameterization
  }

  public var label: String { "reversible-heun[\(parameterization.rawValue)]" }
  public var stateWidth: Int { 3 }
  public var stabilityOption: String { "solver" }

  public func start<M: NoisePredictor>(xT: [Double], grid: TimeGrid, schedule: NoiseSchedule, model: M, z: Conditioning,
                                       count: inout EvaluationCount) throws -> ReversibleState {
    let f = try parameterization.node(grid, grid.steps).k(xT, model: model, z: z.z(step: 0), count: &count)
    return ReversibleState(parts: [xT, xT, f])
  }

  public func output(_ s: ReversibleState) -> [Double] { s.parts[0] }
  public func outputCotangent(_ gx0: [Double]) -> ReversibleState {
    ReversibleState(parts: [gx0, Lin.zeros(gx0.count), Lin.zeros(gx0.count)])
  }

  /// One VJP (through F_T = k(x_T)).
  public func startCotangent<M: NoisePredictor>(_ c: ReversibleState, xT: [Double], grid: TimeGrid, schedule: NoiseSchedule,
                                                model: M, z: Conditioning, wantParameters: Bool, gz: inout [Double],
                                                gtheta: inout [Double], count: inout EvaluationCount) throws -> [Double] {
    let (_, gk) = try parameterization.node(grid, grid.steps).kVJP(
      xT, cotangent: c.parts[2], model: model, z: z.z(step: 0), wantParameters: wantParameters, gz: &gz, gtheta: &gtheta, count: &count)
    return (0..<xT.count).map { c.parts[0][$0] + c.parts[1][$0] + gk[$0] }
  }

  private func geometry(_ n: Int, _ grid: TimeGrid) -> (a: Parameterization.Node, b: Parameterization.Node, h: Double) {
    let a = parameterization.node(grid, grid.steps - n), b = parameterization.node(grid, grid.steps - n - 1)
    return (a, b, b.gamma - a.gamma)
  }

  /// xh' = w_b (2 x / w_a - xh / w_a + h F).
  private func nextHat(_ s: ReversibleState, _ a: Parameterization.Node, _ b: Parameterization.Node, _ h: Double) -> [Double] {
    let r = b.weight / a.weight
    return Lin.combine(2 * r, s.parts[0], -r, s.parts[1], b.weight * h, s.parts[2])
  }

  // docs/reversible-solvers.md#reversible-heun
  public func step<M: NoisePredictor>(_ s: ReversibleState, n: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M,
                                      z: Conditioning, count: inout EvaluationCount) throws -> ReversibleState {
    let (a, b, h) = geometry(n, grid)
    let xh1 = nextHat(s, a, b, h)
    let f1 = try b.k(xh1, model: model, z: z.z(step: n), count: &count)
    let x1 = Lin.combine(b.weight / a.weight, s.parts[0], b.weight * h / 2, s.parts[2], b.weight * h / 2, f1)
    return ReversibleState(parts: [x1, xh1, f1])
  }

  /// (xh, x) from (x', xh', F') and F = k(xh): the inverse without its network call.
  private func previousHat(_ s: ReversibleState, _ a: Parameterization.Node, _ b: Parameterization.Node, _ h: Double) -> [Double] {
    let r = a.weight / b.weight
    return Lin.combine(2 * r, s.parts[0], -r, s.parts[1], -a.weight * h, s.parts[2])
  }

  private func previousX(_ s: ReversibleState, f: [Double], _ a: Parameterization.Node, _ b: Parameterization.Node, _ h: Double) -> [Double] {
    Lin.combine(a.weight / b.weight, s.parts[0], -a.weight * h / 2, f, -a.weight * h / 2, s.parts[2])
  }

  // docs/reversible-solvers.md#reversible-heun (the inverse)
  public func inverse<M: NoisePredictor>(_ s: ReversibleState, n: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M,
                                         z: Conditioning, count: inout EvaluationCount) throws -> ReversibleState {
    let (a, b, h) = geometry(n, grid)
    let xh = previousHat(s, a, b, h)
    // F = k(xh) was evaluated by the step before (or by `start`), with that step's z.
    let f = try a.k(xh, model: model, z: z.z(step: max(n - 1, 0)), count: &count)
    return ReversibleState(parts: [previousX(s, f: f, a, b, h), xh, f])
  }

  /// The pull-back through step n given its output's xh' (docs/reversible-solvers.md#reversible-heun): one VJP.
  private func pullback<M: NoisePredictor>(xh1: [Double], n: Int, grid: TimeGrid, model: M, z: Conditioning,
                                           cotangent c: ReversibleState, wantParameters: Bool, gz: inout [Double],
                                           gtheta: inout [Double], count: inout EvaluationCount) throws -> ReversibleState {
    let (a, b, h) = geometry(n, grid)
    let r = b.weight / a.weight, half = b.weight * h / 2
    let g1 = c.parts[0], gh1 = c.parts[1], gf1 = c.parts[2]
    let (_, gk) = try b.kVJP(xh1, cotangent: Lin.combine(1, gf1, half, g1), model: model, z: z.z(step: n),
                             wantParameters: wantParameters, gz: &gz, gtheta: &gtheta, count: &count)
    let ghTotal = Lin.add(gh1, gk)  // dL/dxh' through xh' and F' = k(xh')
    return ReversibleState(parts: [
      Lin.combine(2 * r, ghTotal, r, g1),
      ghTotal.map { -r * $0 },
      Lin.combine(b.weight * h, ghTotal, half, g1),
    ])
  }

  /// No forward (xh' is recomputed from the input) and one VJP.
  public func stepVJP<M: NoisePredictor>(_ s: ReversibleState, n: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M,
                                         z: Conditioning, cotangent: ReversibleState, wantParameters: Bool, gz: inout [Double],
                                         gtheta: inout [Double], count: inout EvaluationCount) throws -> ReversibleState {
    let (a, b, h) = geometry(n, grid)
    return try pullback(xh1: nextHat(s, a, b, h), n: n, grid: grid, model: model, z: z, cotangent: cotangent,
                        wantParameters: wantParameters, gz: &gz, gtheta: &gtheta, count: &count)
  }

  /// One forward (the inverse's F = k(xh)) and one VJP (at the given xh').
  public func inverseVJP<M: NoisePredictor>(
    _ s: ReversibleState, n: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M, z: Conditioning,
    cotangent: ReversibleState, wantParameters: Bool, gz: inout [Double], gtheta: inout [Double], count: inout EvaluationCount
  ) throws -> (state: ReversibleState, cotangent: ReversibleState) {
    let previous = try inverse(s, n: n, grid: grid, schedule: schedule, model: model, z: z, count: &count)
    let g = try pullback(xh1: s.parts[1], n: n, grid: grid, model: model, z: z, cotangent: cotangent,
                         wantParameters: wantParameters, gz: &gz, gtheta: &gtheta, count: &count)
    return (previous, g)
  }
}
