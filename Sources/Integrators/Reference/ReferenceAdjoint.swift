import DiffusionCore

/// The reference gradient (docs/math.md#reference-adjoint): sample the probability-flow ODE with RK45 from x_T at T down
/// to x_0 at t_eps, then integrate the black-box adjoint (docs/math.md#adjoint-equations) with RK45 from t_eps up to T.
///
/// A z schedule (`Conditioning.perStep`) is piecewise constant on `samplingGrid`: row i is the z of sampling step i,
/// the step from the i-th grid time counted from T downwards, i.e. on `[times[N-1-i], times[N-i]]` of the ascending
/// `TimeGrid`; integration stops exactly at every grid time and returns one dL/dz row per step.
public struct ReferenceAdjoint: Sendable {
  /// Where the adjoint gets x_t.
  public enum StateSource: String, CaseIterable, Sendable {
    /// Integrate x backwards (t_eps -> T) alongside the adjoint, in one augmented RK45 state.
    case backsolve
    /// Evaluate the forward pass's dense RK45 solution.
    case interpolate
  }

  public var rtol: Double
  public var atol: Double
  public var states: StateSource
  /// The RK45 step budget of each interval's integration.
  public var maxSteps: Int
  /// Whether to compute dL/dtheta (the adjoint state then carries P more numbers).
  public var wantParameters: Bool

  public init(rtol: Double = 1e-12, atol: Double = 1e-12, states: StateSource = .interpolate, maxSteps: Int = 1_000_000,
              wantParameters: Bool = true) throws {
    self.rtol = rtol
    self.atol = atol
    self.states = states
    self.maxSteps = maxSteps
    self.wantParameters = wantParameters
    try integrator.validate()
  }

  /// The RK45 integrator with these settings.
  public var integrator: DormandPrince45 { DormandPrince45(rtol: rtol, atol: atol, maxSteps: maxSteps) }

  /// The forward (sampling) solve: x_0 and the dense solution x(t) on [t_eps, T] (stored from T downwards).
  public struct Forward: Sendable {
    public var x0: [Double]
    public var dense: DenseSolution
    /// `rhsEvaluations` = eps evaluations.
    public var statistics: IntegrationStatistics
    /// How many separately integrated intervals (1 unless split at grid times or schedule knots).
    public var intervals: Int

    @usableFromInline init(x0: [Double], dense: DenseSolution, statistics: IntegrationStatistics, intervals: Int) {
      self.x0 = x0
      self.dense = dense
      self.statistics = statistics
      self.intervals = intervals
    }

    /// x(t) for t in [t_eps, T], e.g. as `AdjointStates.exact(forward.state)`.
    @Sendable public func state(_ t: Double) throws -> [Double] { try dense.evaluate(t) }
  }

  /// Throws `InvalidInput` unless the inputs fit the model: t_eps < T within the schedule's range, x_T of d finite
  /// numbers, z of m finite numbers (one row per step of `samplingGrid` for a schedule, whose ends must be t_eps and T).
  @inlinable public func validate<M: NoisePredictor>(model: M, schedule: NoiseSchedule, T: Double, tEps: Double,
                                                     xT: [Double], z: Conditioning, samplingGrid: TimeGrid?) throws {
    try integrator.validate()
    try schedule.validate(tEps: tEps, T: T)
    try Check.count(xT, model.dataDimension, "x_T")
    try Check.finite(xT, "x_T")
    if case .perStep = z {
      guard let samplingGrid else { throw InvalidInput("z", "a z schedule needs the sampling grid") }
      try z.validate(dimension: model.conditionDimension, steps: samplingGrid.steps)
    } else {
      try z.validate(dimension: model.conditionDimension, steps: nil)
    }
    if let samplingGrid {
      let first = samplingGrid.times[0], last = samplingGrid.times[samplingGrid.steps]
      let tolerance = 1e-12 * max(1, abs(T))
      guard abs(first - tEps) <= tolerance, abs(last - T) <= tolerance else {
        throw InvalidInput("grid", "the sampling grid runs from \(first) to \(last), not from t_eps = \(tEps) to T = \(T)")
      }
    }
  }
}
