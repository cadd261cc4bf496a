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
