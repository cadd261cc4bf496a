import DiffusionCore

/// Exact inversion of an image to x_T with a reversible sampler (docs/reversible-solvers.md#inversion): the image x_0
/// becomes the sampler's final state (every part x_0), the N inverse steps give a start state, and x_T is its first
/// part. Two round trips say how exact that is: from the whole start state (the algebraic inverse: rounding only), and
/// from x_T alone, as a user samples it (the start state's parts differ, so this one also measures how far the
/// image's state is from one the sampler reaches).
///
/// Cost: the inverse's forwards (Rex: 2s per step; BDIA: 1; EDICT: 2), then the two forward runs. Memory: O(1) states.
public struct ReversibleInversion: Sendable {
  public var xT: [Double]
  /// |sample(start state) - x_0| / |x_0| and |sample(x_T) - x_0| / |x_0|.
  public var roundTripError: Double
  public var roundTripErrorFromXT: Double
  /// max over the start state's parts of |part - x_T| / |x_T|.
  public var partSpread: Double
  public var evaluations: EvaluationCount

  /// Inverts `x0` through `sampler` on `grid` (N steps from T down to t_eps). The sampler's state must be its parts
  /// alone (width 2: Rex, BDIA, EDICT); reversible Heun also carries f(yh), which an image does not determine.
  public init<M: NoisePredictor>(x0: [Double], sampler: any ReversibleSampler, model: M, schedule: NoiseSchedule, grid: TimeGrid,
                                 z: Conditioning = .constant([])) throws {
    guard sampler.stateWidth == 2 else {
      throw InvalidInput("solver", "\(sampler.label) carries \(sampler.stateWidth) vectors, which an image does not determine: invert with rex-*, bdia or edict")
    }
    try Check.count(x0, model.dataDimension, "image")
    try Check.finite(x0, "image")
    var count = EvaluationCount()
    let start = try sampler.invert(ReversibleState(parts: [x0, x0]), grid: grid, schedule: schedule, model: model, z: z, count: &count)
    guard start.isFinite else { throw InvalidInput(sampler.stabilityOption, "the inverse of \(sampler.label) diverged on this image") }
    let first = start.parts[0]
    xT = first
    partSpread = start.parts.map { Self.relative($0, first) }.max() ?? 0
    var s = start
    for n in 0..<grid.steps { s = try sampler.step(s, n: n, grid: grid, schedule: schedule, model: model, z: z, count: &count) }
    roundTripError = Self.relative(sampler.output(s), x0)
    let again = try sampler.sample(xT: first, grid: grid, schedule: schedule, model: model, z: z, count: &count)
    roundTripErrorFromXT = Self.relative(sampler.output(again), x0)
    evaluations = count
  }

  static func relative(_ a: [Double], _ b: [Double]) -> Double {
    var num = 0.0, den = 0.0
    for i in 0..<b.count { num += (a[i] - b[i]) * (a[i] - b[i]); den += b[i] * b[i] }
    return den > 0 ? (num / den).squareRoot() : num.squareRoot()
  }
}
