import DiffusionCore

/// The checks every adjoint solver makes before its first step: `a_x(t_eps)` holds d finite numbers, and z is one
/// vector of m numbers or, for a z schedule, one row per step of the sampling grid (which must then be given).
func validateAdjointInputs(aX0: [Double], dimension d: Int, z: Conditioning, conditionDimension m: Int, samplingGrid: TimeGrid?) throws {
  try Check.count(aX0, d, "a_x(t_eps)")
  try Check.finite(aX0, "a_x(t_eps)")
  if case .perStep = z {
    guard let samplingGrid else { throw InvalidInput("z", "a z schedule needs the sampling grid") }
    try z.validate(dimension: m, steps: samplingGrid.steps)
  } else {
    try z.validate(dimension: m, steps: nil)
  }
}

/// One step of an adjoint sweep: from grid index `t` up to `s = t + 1`, the z bucket it sees (the sampling step
/// holding its midpoint: the row of a_z it updates) and the VJP at (x_t, t) with the cotangent a_x(t).
struct AdjointStep {
  let t: Int, s: Int, bucket: Int
  let vjp: NoiseVJP
}

/// The walk every AdjointDEIS form shares (docs/math.md#adjoint-in-lambda): the inputs checked, then from
/// `a_x(t_eps) = aX0` up the ascending `grid`, at each step the state x_t from `states`, one VJP, and `step`, which
/// moves (a_x, that step's row of a_z, a_theta) from t to s. A z schedule gives a_z one row per sampling step.
/// Cost: one VJP per step. Memory: the states source's, and a_theta (the parameters' count) when `wantParameters`.
func sweepAdjoint<M: NoisePredictor>(
  model: M, grid: TimeGrid, states: AdjointStates, z: Conditioning, samplingGrid: TimeGrid?, aX0: [Double], wantParameters: Bool,
  step: (AdjointStep, _ ax: inout [Double], _ az: inout [Double], _ atheta: inout [Double]) throws -> Void
) throws -> AdjointSolution {
  let d = model.dataDimension, m = model.conditionDimension
  try validateAdjointInputs(aX0: aX0, dimension: d, z: z, conditionDimension: m, samplingGrid: samplingGrid)
  var walker = try StateWalker(source: states, grid: grid, dimension: d)
  var ax = aX0
  var az = [[Double]](repeating: [Double](repeating: 0, count: m), count: z.count)
  var atheta = [Double](repeating: 0, count: wantParameters ? model.parameterCount : 0)
  var evaluations = EvaluationCount()
  for t in 0..<grid.steps {
    let bucket = samplingGrid.map { $0.samplingStep(containing: 0.5 * (grid.times[t] + grid.times[t + 1])) } ?? 0
    let x = try walker.state(t)
    let vjp = try model.vjp(x, z: z.z(step: bucket), t: grid.times[t], batch: 1, cotangent: ax, wantParameters: wantParameters)
    evaluations.vjp += 1
    walker.advance(from: t, eps: vjp.eps)
    try step(AdjointStep(t: t, s: t + 1, bucket: bucket, vjp: vjp), &ax, &az[bucket], &atheta)
  }
  return AdjointSolution(ax: ax, az: az, atheta: atheta, evaluations: evaluations)
}
