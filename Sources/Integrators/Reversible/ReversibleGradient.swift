import DiffusionCore
import Foundation

/// The exact gradient of a reversible sampler's output (docs/reversible-solvers.md#o1-gradient): run the N steps
/// keeping only the current state, then for n = N-1 ... 0 reconstruct the state before step n with the sampler's
/// algebraic inverse and pull the cotangent back through step n (`inverseVJP`), and finally to x_T.
///
/// `storage = .stored` keeps every forward state instead and pulls back with `stepVJP` (no inverse): the full-storage
/// reverse mode through the same sampler, which the O(1) result must equal to rounding.
///
/// Cost: the sampler's forwards for sampling, then per reversed step its `inverseVJP` (e.g. Rex with s stages:
/// 2(s - 1) forwards and 2s VJPs). Memory (`statistics["stored_states"]`, in d-vectors): `.reconstruct` holds the
/// current state and the start state (kept for the round-trip check), 2 x width; `.stored` (N + 1) x width.
///
/// The reverse sweep also measures the round-trip error: the state at T it reconstructs against the one the forward
/// sweep started from, `max_k |s_k - s_k^true| / |s_k^true|` over the state's parts. Above `roundTripTolerance` the
/// gradient is refused (`InvalidInput` naming the sampler's `stabilityOption`, with the measured error).
public struct ReversibleGradient: Sendable {
  public enum Storage: String, CaseIterable, Sendable {
    /// Reconstruct the states backwards with the inverse: O(1) memory.
    case reconstruct
    /// Keep every forward state: O(N) memory, no inverse.
    case stored
  }

  public var sampler: any ReversibleSampler
  public var storage: Storage
  public var wantParameters: Bool
  /// The largest relative round-trip error of the reconstructed start state accepted (`.reconstruct` only).
  public var roundTripTolerance: Double

  public static let defaultRoundTripTolerance = 1e-6

  public init(sampler: any ReversibleSampler, storage: Storage = .reconstruct, wantParameters: Bool = true,
              roundTripTolerance: Double = ReversibleGradient.defaultRoundTripTolerance) throws {
    guard roundTripTolerance.isFinite, roundTripTolerance > 0 else {
      throw InvalidInput("round-trip-tolerance", "must be a positive number, got \(roundTripTolerance)")
    }
    self.sampler = sampler
    self.storage = storage
    self.wantParameters = wantParameters
    self.roundTripTolerance = roundTripTolerance
  }

  /// The gradient and, for `.reconstruct`, the measured round-trip error (nil for `.stored`).
  public struct Result: Sendable {
    public var gradient: GradientResult
    public var roundTripError: Double?
  }

  /// What the forward sweep keeps: the start state (for the round-trip check), the last state, and with `.stored`
  /// every state before a step.
  public struct Forward: Sendable {
    public var initial: ReversibleState
    public var final: ReversibleState
    public var stored: [ReversibleState]
    public var x0: [Double]
    public var sampling: EvaluationCount
  }

  /// The reverse sweep's result: the gradients, its evaluations, and for `.reconstruct` the round-trip error.
  public struct Backward: Sendable {
    public var gradXT: [Double]
    public var gradZ: [[Double]]
    public var gradTheta: [Double]
    public var evaluations: EvaluationCount
    public var roundTripError: Double?
    /// The peak number of d-vectors held (`.reconstruct`: current and start state; `.stored`: every state).
    public var storedStates: Int
  }

  /// The gradient for a problem on `grid`, whose ends must be the problem's t_eps and T.
  public func gradient<M: NoisePredictor, L: GuidanceLoss>(_ problem: GradientProblem<M, L>, grid: TimeGrid) throws -> Result {
    let tolerance = 1e-12 * max(1, abs(problem.T))
    guard abs(grid.times[0] - problem.tEps) <= tolerance, abs(grid.times[grid.steps] - problem.T) <= tolerance else {
      throw InvalidInput("grid", "the grid runs from \(grid.times[0]) to \(grid.times[grid.steps]), not from t_eps = \(problem.tEps) to T = \(problem.T)")
    }
    return try gradient(model: problem.model, schedule: problem.schedule, grid: grid, xT: problem.xT, z: problem.z, loss: problem.loss)
  }

  /// Samples x_0 from `xT` on `grid` (descending from T) and returns L(x_0) with dL/dx_T, dL/dz, dL/dtheta.
  public func gradient<M: NoisePredictor>(model: M, schedule: NoiseSchedule, grid: TimeGrid, xT: [Double], z: Conditioning,
                                          loss: some GuidanceLoss) throws -> Result {
    let pass = try forward(model: model, schedule: schedule, grid: grid, xT: xT, z: z)
    let lossValue = loss.value(pass.x0)
    try Check.finite(lossValue, "loss")
    let back = try backward(pass, model: model, schedule: schedule, grid: grid, xT: xT, z: z, gx0: loss.gradient(pass.x0))
    var result = GradientResult(
      x0: pass.x0, loss: lossValue, gradXT: back.gradXT, gradZ: back.gradZ, gradTheta: back.gradTheta, sampling: pass.sampling,
      adjoint: back.evaluations, statistics: ["stored_states": back.storedStates, "state_width": sampler.stateWidth])
    result.hMax = grid.hMax
    result.roundTripError = back.roundTripError
    return Result(gradient: result, roundTripError: back.roundTripError)
  }

  /// The forward sweep: N steps keeping the current state (and every state with `.stored`).
  public func forward<M: NoisePredictor>(model: M, schedule: NoiseSchedule, grid: TimeGrid, xT: [Double], z: Conditioning) throws -> Forward {
    let d = model.dataDimension, m = model.conditionDimension, n = grid.steps
    try Check.count(xT, d, "x_T")
    try Check.finite(xT, "x_T")
    try z.validate(dimension: m, steps: n)
    var count = EvaluationCount()
    let initial = try sampler.start(xT: xT, grid: grid, schedule: schedule, model: model, z: z, count: &count)
    var s = initial
    var stored: [ReversibleState] = storage == .stored ? [s] : []
    for step in 0..<n {
      s = try sampler.step(s, n: step, grid: grid, schedule: schedule, model: model, z: z, count: &count)
      if storage == .stored && step + 1 < n { stored.append(s) }
    }
    let x0 = sampler.output(s)
    try Check.finite(x0, "x_0")
    return Forward(initial: initial, final: s, stored: stored, x0: x0, sampling: count)
  }

  /// The reverse sweep from `gx0 = dL/dx_0`: reconstruct (or read) the state before each step and pull the cotangent
  /// back through it, then to x_T; refuses a reconstruction that drifts beyond `roundTripTolerance`.
  public func backward<M: NoisePredictor>(_ pass: Forward, model: M, schedule: NoiseSchedule, grid: TimeGrid, xT: [Double],
                                          z: Conditioning, gx0: [Double]) throws -> Backward {
    let d = model.dataDimension, m = model.conditionDimension, n = grid.steps
    try Check.count(gx0, d, "dL/dx_0")
    try Check.finite(gx0, "dL/dx_0")
    var count = EvaluationCount()
    var s = pass.final, stored = pass.stored
    var g = sampler.outputCotangent(gx0)
    var gz = [[Double]](repeating: [Double](repeating: 0, count: m), count: z.count)
    var gtheta = [Double](repeating: 0, count: wantParameters ? model.parameterCount : 0)
    for step in stride(from: n - 1, through: 0, by: -1) {
      let bucket = z.count == 1 ? 0 : step
      switch storage {
      case .stored:
        g = try sampler.stepVJP(stored[step], n: step, grid: grid, schedule: schedule, model: model, z: z, cotangent: g,
                                wantParameters: wantParameters, gz: &gz[bucket], gtheta: &gtheta, count: &count)
        stored.removeLast()
      case .reconstruct:
        do {
          (s, g) = try sampler.inverseVJP(s, n: step, grid: grid, schedule: schedule, model: model, z: z, cotangent: g,
                                          wantParameters: wantParameters, gz: &gz[bucket], gtheta: &gtheta, count: &count)
        } catch let e as InvalidInput where !s.isFinite || e.field == "x" {
          throw diverged(step: step, n: n, detail: e.description)
        }
        guard s.isFinite else { throw diverged(step: step, n: n, detail: "the state is no longer finite") }
      }
    }
    let gxT = try sampler.startCotangent(g, xT: xT, grid: grid, schedule: schedule, model: model, z: z,
                                         wantParameters: wantParameters, gz: &gz[0], gtheta: &gtheta, count: &count)
    var roundTrip: Double? = nil
    if storage == .reconstruct {
      let error = Self.relativeError(s, pass.initial)
      guard error <= roundTripTolerance else {
        throw InvalidInput(sampler.stabilityOption, "the reverse sweep of \(sampler.label) reconstructs x_T with relative error "
          + "\(error) at N = \(n) (tolerance \(roundTripTolerance)): its inverse is unstable here, so its gradient would be wrong")
      }
      roundTrip = error
    }
    let width = sampler.stateWidth
    return Backward(gradXT: gxT, gradZ: gz, gradTheta: gtheta, evaluations: count, roundTripError: roundTrip,
                    storedStates: storage == .stored ? (n + 1) * width : 2 * width)
  }

  private func diverged(step: Int, n: Int, detail: String) -> InvalidInput {
    InvalidInput(sampler.stabilityOption, "the reverse sweep of \(sampler.label) diverged at step \(step) of \(n) (\(detail)): "
      + "its inverse is unstable here, so its gradient would be wrong")
  }

  /// max over the parts of |a_k - b_k| / |b_k| (absolute where b_k = 0).
  static func relativeError(_ a: ReversibleState, _ b: ReversibleState) -> Double {
    var worst = 0.0
    for (u, v) in zip(a.parts, b.parts) {
      var num = 0.0, den = 0.0
      for i in 0..<v.count { num += (u[i] - v[i]) * (u[i] - v[i]); den += v[i] * v[i] }
      worst = max(worst, den > 0 ? (num / den).squareRoot() : num.squareRoot())
    }
    return worst.isNaN ? .infinity : worst
  }
}
