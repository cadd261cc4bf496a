import DiffusionCore

/// EDICT (Wallace et al. 2023; docs/reversible-solvers.md#edict): two DDIM sequences (x, y), both x_T at the start,
/// each advanced with the other's eps and then mixed with weight p. On step n from grid index a down to b
/// (A = alpha_b/alpha_a, B = sigma_b - A sigma_a, both eps at t_a):
///
///   xi = A x + B eps(y),  yi = A y + B eps(xi),  x' = p xi + (1 - p) yi,  y' = p yi + (1 - p) x',
///
/// inverted exactly by `yi = (y' - (1-p) x')/p`, `xi = (x' - (1-p) yi)/p`, `y = (yi - B eps(xi))/A`,
/// `x = (xi - B eps(y))/A`. The sample is x at t_eps.
///
/// Cost: two network forwards per step; a reversed step (`inverseVJP`) two VJPs and no forward. Memory: the two
/// carried vectors. The mixing contracts x - y by p^2 per step, so the inverse expands rounding by p^-2 per step.
public struct EDICT: ReversibleSampler {
  public let mix: Double

  /// Throws `InvalidInput("mix", ...)` unless 0 < p < 1.
  public init(mix: Double = 0.93) throws {
    guard mix.isFinite, mix > 0, mix < 1 else { throw InvalidInput("mix", "must lie in (0, 1), got \(mix)") }
    self.mix = mix
  }

  public var label: String { "edict[p=\(mix)]" }
  public var stateWidth: Int { 2 }
  public var stabilityOption: String { "mix" }

  public func start<M: NoisePredictor>(xT: [Double], grid: TimeGrid, schedule: NoiseSchedule, model: M, z: Conditioning,
                                       count: inout EvaluationCount) throws -> ReversibleState {
    ReversibleState(parts: [xT, xT])
  }

  public func output(_ s: ReversibleState) -> [Double] { s.parts[0] }
  public func outputCotangent(_ gx0: [Double]) -> ReversibleState { ReversibleState(parts: [gx0, Lin.zeros(gx0.count)]) }

  public func startCotangent<M: NoisePredictor>(_ c: ReversibleState, xT: [Double], grid: TimeGrid, schedule: NoiseSchedule,
                                                model: M, z: Conditioning, wantParameters: Bool, gz: inout [Double],
                                                gtheta: inout [Double], count: inout EvaluationCount) throws -> [Double] {
    Lin.add(c.parts[0], c.parts[1])
  }

  private func ddim(_ n: Int, _ grid: TimeGrid) -> (A: Double, B: Double, t: Double) {
    let a = grid.steps - n, b = a - 1
    let A = grid.alphas[b] / grid.alphas[a]
    return (A, grid.sigmas[b] - A * grid.sigmas[a], grid.times[a])
  }

  // docs/reversible-solvers.md#edict
  public func step<M: NoisePredictor>(_ s: ReversibleState, n: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M,
                                      z: Conditioning, count: inout EvaluationCount) throws -> ReversibleState {
    let (A, B, t) = ddim(n, grid), zn = z.z(step: n), p = mix
    let x = s.parts[0], y = s.parts[1]
    let xi = Lin.combine(A, x, B, try model.eps(y, z: zn, t: t, batch: 1))
    let yi = Lin.combine(A, y, B, try model.eps(xi, z: zn, t: t, batch: 1))
    count.eps += 2
    let x1 = Lin.combine(p, xi, 1 - p, yi)
    return ReversibleState(parts: [x1, Lin.combine(p, yi, 1 - p, x1)])
  }

  /// (xi, yi) from (x', y'): the mixing undone.
  private func unmix(_ s: ReversibleState) -> (xi: [Double], yi: [Double]) {
    let p = mix
    let yi = Lin.combine(1 / p, s.parts[1], -(1 - p) / p, s.parts[0])
    return (Lin.combine(1 / p, s.parts[0], -(1 - p) / p, yi), yi)
  }

  // docs/reversible-solvers.md#edict (the inverse): two forwards
  public func inverse<M: NoisePredictor>(_ s: ReversibleState, n: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M,
                                         z: Conditioning, count: inout EvaluationCount) throws -> ReversibleState {
    let (A, B, t) = ddim(n, grid), zn = z.z(step: n)
    let (xi, yi) = unmix(s)
    let y = Lin.combine(1 / A, yi, -B / A, try model.eps(xi, z: zn, t: t, batch: 1))
    let x = Lin.combine(1 / A, xi, -B / A, try model.eps(y, z: zn, t: t, batch: 1))
    count.eps += 2
    return ReversibleState(parts: [x, y])
  }

  /// The mixing's cotangents: dL/dxi and dL/dyi (before the eps paths) from dL/dx', dL/dy'.
  private func mixingCotangents(_ c: ReversibleState) -> (gxi: [Double], gyi: [Double]) {
    let p = mix
    let total = Lin.combine(1, c.parts[0], 1 - p, c.parts[1])  // dL/dx' through x' and y'
    return (total.map { p * $0 }, Lin.combine(p, c.parts[1], 1 - p, total))
  }

  private func vjp<M: NoisePredictor>(_ x: [Double], _ v: [Double], t: Double, model: M, z: [Double], wantParameters: Bool,
                                      gz: inout [Double], gtheta: inout [Double], count: inout EvaluationCount) throws -> NoiseVJP {
    let r = try model.vjp(x, z: z, t: t, batch: 1, cotangent: v, wantParameters: wantParameters)
    count.vjp += 1
    for j in 0..<gz.count { gz[j] += r.z[j] }
    if wantParameters { for j in 0..<gtheta.count { gtheta[j] += r.theta[j] } }
    return r
  }

  /// One forward (xi, recomputed from the input) and two VJPs.
  public func stepVJP<M: NoisePredictor>(_ s: ReversibleState, n: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M,
                                         z: Conditioning, cotangent c: ReversibleState, wantParameters: Bool, gz: inout [Double],
                                         gtheta: inout [Double], count: inout EvaluationCount) throws -> ReversibleState {
    let (A, B, t) = ddim(n, grid), zn = z.z(step: n)
    let x = s.parts[0], y = s.parts[1]
    let xi = Lin.combine(A, x, B, try model.eps(y, z: zn, t: t, batch: 1))
    count.eps += 1
    var (gxi, gyi) = mixingCotangents(c)
    let rx = try vjp(xi, gyi.map { B * $0 }, t: t, model: model, z: zn, wantParameters: wantParameters, gz: &gz, gtheta: &gtheta, count: &count)
    gxi = Lin.add(gxi, rx.x)
    let ry = try vjp(y, gxi.map { B * $0 }, t: t, model: model, z: zn, wantParameters: wantParameters, gz: &gz, gtheta: &gtheta, count: &count)
    return ReversibleState(parts: [gxi.map { A * $0 }, Lin.combine(A, gyi, 1, ry.x)])
  }

  /// Two VJPs, no forward: the VJP at xi gives eps(xi) for y, the VJP at y gives eps(y) for x.
  public func inverseVJP<M: NoisePredictor>(
    _ s: ReversibleState, n: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M, z: Conditioning,
    cotangent c: ReversibleState, wantParameters: Bool, gz: inout [Double], gtheta: inout [Double], count: inout EvaluationCount
  ) throws -> (state: ReversibleState, cotangent: ReversibleState) {
    let (A, B, t) = ddim(n, grid), zn = z.z(step: n)
    let (xi, yi) = unmix(s)
    var (gxi, gyi) = mixingCotangents(c)
    let rx = try vjp(xi, gyi.map { B * $0 }, t: t, model: model, z: zn, wantParameters: wantParameters, gz: &gz, gtheta: &gtheta, count: &count)
    let y = Lin.combine(1 / A, yi, -B / A, rx.eps)
    gxi = Lin.add(gxi, rx.x)
    let ry = try vjp(y, gxi.map { B * $0 }, t: t, model: model, z: zn, wantParameters: wantParameters, gz: &gz, gtheta: &gtheta, count: &count)
    let x = Lin.combine(1 / A, xi, -B / A, ry.eps)
    return (ReversibleState(parts: [x, y]), ReversibleState(parts: [gxi.map { A * $0 }, Lin.combine(A, gyi, 1, ry.x)]))
  }
}
