import DiffusionCore
import ToyModels

/// What a study differentiates: a model, its schedule and time range, x_T, a constant z and the loss.
public struct StudyProblem<Model: NoisePredictor>: Sendable {
  public var model: Model
  public var schedule: NoiseSchedule
  public var T: Double
  public var tEps: Double
  public var xT: [Double]
  public var z: Conditioning
  public var loss: SquaredDistanceLoss
  /// A short label for the CSV's `model` column, e.g. `diagonal-K3-d3-m2-vp-linear`.
  public var label: String
  /// One sentence for the summary.
  public var description: String

  public init(model: Model, schedule: NoiseSchedule, T: Double, tEps: Double, xT: [Double], z: Conditioning,
              loss: SquaredDistanceLoss, label: String, description: String) {
    self.model = model
    self.schedule = schedule
    self.T = T
    self.tEps = tEps
    self.xT = xT
    self.z = z
    self.loss = loss
    self.label = label
    self.description = description
  }
}

extension StudyProblem where Model == GaussianMixture {
  public init(_ p: ToyProblem) {
    let m = p.model
    self.init(model: m, schedule: p.schedule, T: p.T, tEps: p.tEps, xT: p.xT, z: p.z, loss: p.loss,
              label: "\(m.covariance.rawValue)-K\(m.componentCount)-d\(m.dataDimension)-m\(m.conditionDimension)-\(p.schedule.name)",
              description: "\(m.covariance.rawValue)-covariance Gaussian mixture, K = \(m.componentCount), d = \(m.dataDimension), "
                + "m = \(m.conditionDimension), schedule \(p.schedule.name), t in [\(p.tEps), \(p.T)]")
  }

  /// Seed s > 0: a random mixture of the same shape, covariance form and schedule, with random x_T, z and target,
  /// all drawn from `SeededGenerator(seed: s)`.
  public func randomVariant(seed s: Int) throws -> StudyProblem<GaussianMixture> {
    let m = model
    let random = try GaussianMixture.random(d: m.dataDimension, K: m.componentCount, m: m.conditionDimension,
                                            covariance: m.covariance, schedule: schedule, seed: UInt64(s))
    var rng = SeededGenerator(seed: 1_000_003 &* UInt64(s))
    return StudyProblem(try ToyProblem(model: random, T: T, tEps: tEps, xT: rng.normals(m.dataDimension),
                                       z: .constant(rng.normals(m.conditionDimension)),
                                       loss: SquaredDistanceLoss(target: rng.normals(m.dataDimension))))
  }
}
