import DiffusionCore

/// The methods that cannot start at alpha_T = 0 (flow matching at T = 1) refuse it before any work, with the reason
/// (docs/math.md#noise-end says per method what happens there).
enum PureNoise {
  static func refuse<M: NoisePredictor, L: GuidanceLoss>(_ p: GradientProblem<M, L>, method: String, because reason: String) throws {
    guard p.schedule.alpha(p.T) == 0 else { return }
    throw InvalidInput("solver", "\(method) cannot start at alpha_T = 0 (\(p.schedule.name) at T = \(p.T)): \(reason); use T < 1")
  }

  static let reversible = "its step and exact inverse are written with alpha_s/alpha_t and gamma = sigma/alpha, infinite at pure noise"
  static let adjointDPM = "it integrates in rho = sigma/alpha, which is infinite at pure noise"
  static let gaussianLinear = "its weights are quadratures over each step's lambda interval, and lambda_T = -inf"
}
