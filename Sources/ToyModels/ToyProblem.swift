import DiffusionCore
import Foundation

/// One guided-sampling problem on a Gaussian mixture: sample from `x_T` at t = T down to t_eps under the
/// conditioning z, then score `x_0` with the loss. Read from and written to the project's JSON config format.
/// It is the gradient methods' `GradientProblem`, with the mixture's own schedule.
public typealias ToyProblem = GradientProblem<GaussianMixture, SquaredDistanceLoss>

extension GradientProblem where Model == GaussianMixture, Loss == SquaredDistanceLoss {
  /// Validates every shape against the model; the schedule is the model's.
  public init(model: GaussianMixture, T: Double, tEps: Double, xT: [Double], z: Conditioning,
              loss: SquaredDistanceLoss) throws {
    try model.schedule.validate(tEps: tEps, T: T)
    try Check.count(xT, model.dataDimension, "x_T")
    try Check.finite(xT, "x_T")
    try z.validate(dimension: model.conditionDimension, steps: nil)
    try Check.count(loss.target, model.dataDimension, "loss.target")
    try self.init(model: model, schedule: model.schedule, T: T, tEps: tEps, xT: xT, z: z, loss: loss)
  }

  /// Parses the config format (see `examples/*.json`); every error is an `InvalidInput` naming the field.
  public init(json: Data) throws {
    let root = try ConfigReader.object(ConfigReader.parse(json), "config")
    try ConfigReader.rejectUnknownKeys(root, ["schedule", "T", "t_eps", "model", "x_T", "z", "loss"] + ScheduleConfig.keys, prefix: "")
    let schedule = try ScheduleConfig.read(root)
    let T = try ConfigReader.number(root["T"], "T")
    let tEps = try ConfigReader.number(root["t_eps"], "t_eps")
    let model = try ConfigReader.mixture(root["model"], schedule: schedule)
    let xT = try ConfigReader.vector(root["x_T"], "x_T")
    let z = try ConfigReader.conditioning(root["z"], m: model.conditionDimension)
    let loss = try ConfigReader.loss(root["loss"])
    try self.init(model: model, T: T, tEps: tEps, xT: xT, z: z, loss: loss)
  }

  public static func load(from url: URL) throws -> ToyProblem {
    let data = try InputFile.read(url)
    return try ToyProblem(json: data)
  }

  /// The config format back, one matrix row a line; numbers are written in Swift's shortest round-trip form.
  public func jsonData() throws -> Data {
    guard let named = try? NoiseSchedule.named(schedule.name), (try? named.with(grids: schedule.grids)) == schedule else {
      throw InvalidInput("schedule", "the schedule '\(schedule.name)' has non-default parameters the config format cannot express")
    }
    return Data(ConfigWriter.problem(self).utf8)
  }
}
