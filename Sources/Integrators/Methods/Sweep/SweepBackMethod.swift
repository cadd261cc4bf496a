import DiffusionCore

/// The one driver of every gradient method that samples x_0 and then sweeps back from `dL/dx_0`: AdjointDEIS, the
/// Gaussian-linear adjoint, AdjointDPM and the reversible samplers. A conforming type supplies its `settings` (read
/// and checked by `SweepSettings`), any check of its own (`validateMethod`), its forward pass when the shared one
/// does not fit (`forward`: exact, recorded or re-solved states; a reversible sampler keeps only its last state) and
/// its backward sweep (`sweep`). The driver builds the grids, runs the forward pass, scores x_0, and assembles the
/// result with its costs: network forwards, VJPs, the peak number of stored d-vectors.
///
/// A single-step method (several network calls per step, e.g. Rex with an RK4 base step) is one file: its settings
/// with `sweepsTheSamplersSteps`, a `forward` that runs its steps, a `sweep` that walks them back.
public protocol SweepBackMethod: GradientMethod {
  var settings: SweepSettings { get }
  /// Checks beyond the shared ones (e.g. the data statistics of a linear part), before any work.
  func validateMethod<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws
  /// Samples x_0 and keeps what the sweep needs.
  func forward<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>, grids: SweepGrids) throws -> ForwardPass
  /// Sweeps back from `aX0 = dL/dx_0` to `dL/dx_T`, `dL/dz`, `dL/dtheta`.
  func sweep<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>, forward: ForwardPass, grids: SweepGrids, aX0: [Double]) throws -> SweepResult
}

/// What the forward pass leaves for the backward sweep.
public struct ForwardPass: Sendable {
  public var x0: [Double]
  /// Where the sweep takes x_t from (nil for a method that reconstructs its own states).
  public var states: AdjointStates?
  public var sampling: EvaluationCount
  /// Forwards run for the sweep's sake (the Cycle-SDE re-run), counted with the sweep's evaluations.
  public var sweepForwards = 0
  /// The peak number of d-vectors held for the sweep (recorded path: N + 1; dense RK45 output: 5 per step + 1).
  public var storedStates: Int
  /// A method's own state for its sweep (e.g. a reversible sampler's last state).
  public var carry: (any Sendable)? = nil

  public init(x0: [Double], states: AdjointStates?, sampling: EvaluationCount, storedStates: Int, carry: (any Sendable)? = nil) {
    self.x0 = x0
    self.states = states
    self.sampling = sampling
    self.storedStates = storedStates
    self.carry = carry
  }
}

/// What the backward sweep returns: the adjoint at T and the sweep's own costs.
public struct SweepResult: Sendable {
  public var solution: AdjointSolution
  /// The peak number of d-vectors the sweep itself holds (besides what the forward pass kept).
  public var storedStates: Int
  /// Reversible samplers: |x_T reconstructed by the inverse steps - x_T| / |x_T|.
  public var roundTripError: Double? = nil

  public init(solution: AdjointSolution, storedStates: Int, roundTripError: Double? = nil) {
    self.solution = solution
    self.storedStates = storedStates
    self.roundTripError = roundTripError
  }
}

extension SweepBackMethod {
  public var dynamics: Dynamics { settings.dynamics }
  public var sampler: SamplerKind { settings.sampler }
  public var samplerSteps: Int { settings.samplerSteps }
  public var adjointSteps: Int { settings.adjointSteps }
  public var states: StateChoice { settings.states }
  public var grid: GridSpacing { settings.grid }
  public var noise: NoiseSource { settings.noise }

  public func validateMethod<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws {}

  public func validate<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws {
    try settings.validate(p)
    try validateMethod(p)
  }

  public func forward<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>, grids: SweepGrids) throws -> ForwardPass {
    try settings.forward(p, grids: grids)
  }

  /// DTO through the grid sampler of the shared forward pass (same N, grid and noise); nil for exact states.
  public var discreteReference: (any GradientMethod)? { settings.dtoThroughSampler }

  public func gradient<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>) throws -> GradientResult {
    try validate(p)
    let grids = try settings.grids(p)
    let pass = try forward(p, grids: grids)
    let lossValue = p.loss.value(pass.x0)
    try Check.finite(lossValue, "loss")
    let swept = try sweep(p, forward: pass, grids: grids, aX0: p.loss.gradient(pass.x0))
    var adjoint = swept.solution.evaluations
    adjoint.eps += pass.sweepForwards
    var result = GradientResult(x0: pass.x0, loss: lossValue, gradXT: swept.solution.ax, gradZ: swept.solution.az,
                                gradTheta: swept.solution.atheta, sampling: pass.sampling, adjoint: adjoint,
                                statistics: ["stored_states": pass.storedStates + swept.storedStates])
    result.hMax = grids.sweep.hMax
    result.roundTripError = swept.roundTripError
    return result
  }
}

extension SweepSettings {
  /// DTO through this sampler on the same grid with the same noise, every state stored; nil for exact states.
  public var dtoThroughSampler: (any GradientMethod)? {
    guard states != .exact else { return nil }
    var o = GradientOptions()
    (o.sampler, o.samplerSteps, o.grid, o.wantParameters) = (sampler, samplerSteps, grid, wantParameters)
    if sampler.isSDE { o.noise = noise }
    return try? DTOMethod(o)
  }

  /// The shared forward pass (docs/math.md#state-sources): exact states from the RK45 solve of the probability-flow
  /// ODE; otherwise the grid sampler's path, kept whole for recorded states, re-run from its recovered noise for
  /// re-solved SDE states (Cycle-SDE, docs/math.md#cycle-sde), reduced to x_0 for re-solved ODE states.
  public func forward<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>, grids: SweepGrids) throws -> ForwardPass {
    if states == .exact { return try exactForward(p, grids: grids) }
    let draws = sampler.isSDE ? try noise.draws(grid: grids.sampling, dimension: p.model.dataDimension) : []
    if states == .resolved && !sampler.isSDE {
      let (x0, sampling) = try Sampler(kind: sampler).finalState(model: p.model, grid: grids.sampling, xT: p.xT, z: p.z)
      return ForwardPass(x0: x0, states: .resolved(x0: x0, sampler: sampler), sampling: sampling, storedStates: 1)
    }
    var path = try Sampler(kind: sampler).sample(model: p.model, grid: grids.sampling, xT: p.xT, z: p.z, noise: draws)
    var pass = ForwardPass(x0: path.x0, states: .recorded(path.states), sampling: path.evaluations, storedStates: path.states.count)
    if states == .resolved {
      path = try Sampler(kind: .sde).sample(model: p.model, grid: grids.sampling, xT: p.xT, z: p.z, noise: Sampler.recoverNoise(path))
      pass.states = .recorded(path.states)
      pass.sweepForwards = samplerSteps
    }
    return pass
  }

  /// x_0 and the dense RK45 solution x(t) of the probability-flow ODE (Theorem 1's exact states).
  public func exactForward<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>, grids: SweepGrids) throws -> ForwardPass {
    let reference = try ReferenceAdjoint(rtol: rtol, atol: atol, wantParameters: wantParameters)
    let forward = try reference.sampleODE(model: p.model, schedule: p.schedule, T: p.T, tEps: p.tEps, xT: p.xT, z: p.z,
                                          samplingGrid: grids.schedule)
    // The dense output holds per accepted step its end state and four coefficient vectors.
    return ForwardPass(x0: forward.x0, states: .exact(forward.state), sampling: EvaluationCount(eps: forward.statistics.rhsEvaluations),
                       storedStates: 5 * forward.dense.stepCount + 1)
  }
}

extension AdjointStates {
  /// The d-vectors a sweep of order k holds besides the forward pass's: a re-solved state's k-deep eps history (the
  /// state itself is x_0, counted by the forward pass).
  public func sweepStates(order k: Int) -> Int {
    if case .resolved = self { return k }
    return 0
  }
}
