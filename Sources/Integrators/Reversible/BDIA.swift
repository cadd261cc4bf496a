import DiffusionCore

/// BDIA-DDIM (Zhang et al. 2024; docs/reversible-solvers.md#bdia): the carried state is (x_{n-1}, x_n). With DDIM's
/// step `x_c = A_{a,c} x_a + B_{a,c} eps(x_a, t_a)` (A = alpha_c/alpha_a, B = sigma_c - A sigma_a), step n from grid
/// index a down to b replaces the plain DDIM step by
///
///   x_{n+1} = gamma x_{n-1} + (A_{a,b} - gamma A_{a,a+1}) x_n + (B_{a,b} - gamma B_{a,a+1}) eps(x_n, t_a),
///
/// i.e. DDIM down from x_n plus gamma times the mismatch between x_{n-1} and DDIM up from x_n; the first step is plain
/// DDIM. Inverse: `x_{n-1} = (x_{n+1} - c_n x_n - e_n eps(x_n)) / gamma`. The sample is x_N.
///
/// Cost: one network forward per step; a reversed step (`inverseVJP`) one VJP and no forward (the VJP's eps serves
/// the inverse). Memory: the two carried vectors. The inverse's parasitic root is -1/gamma: rounding grows like
/// gamma^-N (docs/reversible-solvers.md#bdia).
public struct BDIA: ReversibleSampler {
  public let gamma: Double

  /// Throws `InvalidInput("gamma", ...)` unless 0 < gamma <= 1.
  public init(gamma: Double = 1) throws {
    guard gamma.isFinite, gamma > 0, gamma <= 1 else { throw InvalidInput("gamma", "must lie in (0, 1], got \(gamma)") }
    self.gamma = gamma
  }

  public var label: String { "bdia[gamma=\(gamma)]" }
  public var stateWidth: Int { 2 }
  public var stabilityOption: String { "gamma" }

  public func start<M: NoisePredictor>(xT: [Double], grid: TimeGrid, schedule: NoiseSchedule, model: M, z: Conditioning,
                                       count: inout EvaluationCount) throws -> ReversibleState {
    ReversibleState(parts: [xT, xT])
  }

  public func output(_ s: ReversibleState) -> [Double] { s.parts[1] }
  public func outputCotangent(_ gx0: [Double]) -> ReversibleState { ReversibleState(parts: [Lin.zeros(gx0.count), gx0]) }

  public func startCotangent<M: NoisePredictor>(_ c: ReversibleState, xT: [Double], grid: TimeGrid, schedule: NoiseSchedule,
                                                model: M, z: Conditioning, wantParameters: Bool, gz: inout [Double],
                                                gtheta: inout [Double], count: inout EvaluationCount) throws -> [Double] {
    Lin.add(c.parts[0], c.parts[1])
  }

  /// DDIM's coefficients from grid index a to c.
  private func ddim(_ grid: TimeGrid, _ a: Int, _ c: Int) -> (A: Double, B: Double) {
    let A = grid.alphas[c] / grid.alphas[a]
    return (A, grid.sigmas[c] - A * grid.sigmas[a])
  }

  /// x_{n+1} = gamma_n x_{n-1} + c_n x_n + e_n eps(x_n): (gamma_n, c_n, e_n), gamma_0 = 0 (plain DDIM).
  private func coefficients(_ n: Int, _ grid: TimeGrid) -> (g: Double, c: Double, e: Double) {
    let a = grid.steps - n
    let down = ddim(grid, a, a - 1)
    guard n > 0 else { return (0, down.A, down.B) }
    let up = ddim(grid, a, a + 1)
    return (gamma, down.A - gamma * up.A, down.B - gamma * up.B)
  }

  // docs/reversible-solvers.md#bdia
  public func step<M: NoisePredictor>(_ s: ReversibleState, n: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M,
                                      z: Conditioning, count: inout EvaluationCount) throws -> ReversibleState {
    let (g, c, e) = coefficients(n, grid)
    let x = s.parts[1]
    let eps = try model.eps(x, z: z.z(step: n), t: grid.times[grid.steps - n], batch: 1)
    count.eps += 1
    let next = n == 0 ? Lin.combine(c, x, e, eps) : Lin.combine(g, s.parts[0], c, x, e, eps)
    return ReversibleState(parts: [x, next])
  }

  /// x_{n-1} from (x_n, x_{n+1}, eps(x_n)); step 0's input is (x_T, x_T).
  private func previous(_ s: ReversibleState, eps: [Double], n: Int, grid: TimeGrid) -> ReversibleState {
    guard n > 0 else { return ReversibleState(parts: [s.parts[0], s.parts[0]]) }
    let (g, c, e) = coefficients(n, grid)
    return ReversibleState(parts: [Lin.combine(1 / g, s.parts[1], -c / g, s.parts[0], -e / g, eps), s.parts[0]])
  }

  // docs/reversible-solvers.md#bdia (the inverse): one forward (none for step 0)
  public func inverse<M: NoisePredictor>(_ s: ReversibleState, n: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M,
                                         z: Conditioning, count: inout EvaluationCount) throws -> ReversibleState {
    guard n > 0 else { return previous(s, eps: [], n: 0, grid: grid) }
    let eps = try model.eps(s.parts[0], z: z.z(step: n), t: grid.times[grid.steps - n], batch: 1)
    count.eps += 1
    return previous(s, eps: eps, n: n, grid: grid)
  }

  /// One VJP at x_n (the input's second part before the step, the output's first part after it); returns eps(x_n).
  private func pullback<M: NoisePredictor>(at x: [Double], n: Int, grid: TimeGrid, model: M, z: Conditioning,
                                           cotangent c: ReversibleState, wantParameters: Bool, gz: inout [Double],
                                           gtheta: inout [Double], count: inout EvaluationCount) throws -> (eps: [Double], g: ReversibleState) {
    let (g, cn, e) = coefficients(n, grid)
    let g0 = c.parts[0], g1 = c.parts[1]
    let r = try model.vjp(x, z: z.z(step: n), t: grid.times[grid.steps - n], batch: 1, cotangent: g1.map { e * $0 },
                          wantParameters: wantParameters)
    count.vjp += 1
    for j in 0..<gz.count { gz[j] += r.z[j] }
    if wantParameters { for j in 0..<gtheta.count { gtheta[j] += r.theta[j] } }
    let gcur = (0..<x.count).map { g0[$0] + cn * g1[$0] + r.x[$0] }
    return (r.eps, ReversibleState(parts: [g1.map { g * $0 }, gcur]))
  }

  public func stepVJP<M: NoisePredictor>(_ s: ReversibleState, n: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M,
                                         z: Conditioning, cotangent: ReversibleState, wantParameters: Bool, gz: inout [Double],
                                         gtheta: inout [Double], count: inout EvaluationCount) throws -> ReversibleState {
    try pullback(at: s.parts[1], n: n, grid: grid, model: model, z: z, cotangent: cotangent, wantParameters: wantParameters,
                 gz: &gz, gtheta: &gtheta, count: &count).g
  }

  public func inverseVJP<M: NoisePredictor>(
    _ s: ReversibleState, n: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M, z: Conditioning,
    cotangent: ReversibleState, wantParameters: Bool, gz: inout [Double], gtheta: inout [Double], count: inout EvaluationCount
  ) throws -> (state: ReversibleState, cotangent: ReversibleState) {
    let (eps, g) = try pullback(at: s.parts[0], n: n, grid: grid, model: model, z: z, cotangent: cotangent,
                                wantParameters: wantParameters, gz: &gz, gtheta: &gtheta, count: &count)
    return (previous(s, eps: eps, n: n, grid: grid), g)
  }
}
