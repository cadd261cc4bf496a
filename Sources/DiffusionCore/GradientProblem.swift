/// What every gradient method differentiates: sample x_0 from `xT` at t = T down to t_eps with `model` on `schedule`
/// under the conditioning z, then score x_0 with `loss`. One value for the CLI, the convergence studies and the
/// morphing experiment; the methods read nothing else about the problem.
public struct GradientProblem<Model: NoisePredictor, Loss: GuidanceLoss>: Sendable {
  public let model: Model
  public let schedule: NoiseSchedule
  public let T: Double
  public let tEps: Double
  public let xT: [Double]
  public let z: Conditioning
  public let loss: Loss

  /// Checks the time range against the schedule and every shape against the model.
  public init(model: Model, schedule: NoiseSchedule, T: Double, tEps: Double, xT: [Double], z: Conditioning, loss: Loss) throws {
    try schedule.validate(tEps: tEps, T: T)
    try Check.count(xT, model.dataDimension, "x_T")
    try Check.finite(xT, "x_T")
    try z.validate(dimension: model.conditionDimension, steps: nil)
    self.model = model
    self.schedule = schedule
    self.T = T
    self.tEps = tEps
    self.xT = xT
    self.z = z
    self.loss = loss
  }

  /// The same problem from another x_T and z (e.g. one step of a descent on (x_T, z)).
  public func with(xT: [Double], z: Conditioning) throws -> GradientProblem {
    try GradientProblem(model: model, schedule: schedule, T: T, tEps: tEps, xT: xT, z: z, loss: loss)
  }
}

extension GradientProblem: Equatable where Model: Equatable, Loss: Equatable {}
