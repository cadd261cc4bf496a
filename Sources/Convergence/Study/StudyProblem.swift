import DiffusionCore
import ToyModels

/// What a study differentiates (a `GradientProblem` with a squared-distance loss and a constant z), with a label
/// for the CSV and a sentence for the summary.
public struct StudyProblem<Model: NoisePredictor>: Sendable {
  public var problem: GradientProblem<Model, SquaredDistanceLoss>
  /// A short label for the CSV's `model` column, e.g. `diagonal-K3-d3-m2-vp-linear`.
  public var label: String
  /// One sentence for the summary.
  public var description: String

  public init(_ problem: GradientProblem<Model, SquaredDistanceLoss>, label: String, description: String) {
    self.problem = problem
    self.label = label
    self.description = description
  }
}

extension StudyProblem where Model == GaussianMixture {
  public init(_ p: ToyProblem) {
    let m = p.model
    self.init(p, label: "\(m.covariance.rawValue)-K\(m.componentCount)-d\(m.dataDimension)-m\(m.conditionDimension)-\(p.schedule.name)",
              description: "\(m.covariance.rawValue)-covariance Gaussian mixture, K = \(m.componentCount), d = \(m.dataDimension), "
                + "m = \(m.conditionDimension), schedule \(p.schedule.name), t in [\(p.tEps), \(p.T)]")
  }

  /// Seed s > 0: a random mixture of the same shape, covariance form and schedule, with random x_T, z and target,
  /// all drawn from `SeededGenerator(seed: s)`.
  public func randomVariant(seed s: Int) throws -> StudyProblem<GaussianMixture> {
    let m = problem.model
    let random = try GaussianMixture.random(d: m.dataDimension, K: m.componentCount, m: m.conditionDimension,
                                            covariance: m.covariance, schedule: problem.schedule, seed: UInt64(s))
    var rng = SeededGenerator(seed: 1_000_003 &* UInt64(s))
    return StudyProblem(try ToyProblem(model: random, T: problem.T, tEps: problem.tEps, xT: rng.normals(m.dataDimension),
                                       z: .constant(rng.normals(m.conditionDimension)),
                                       loss: SquaredDistanceLoss(target: rng.normals(m.dataDimension))))
  }
}
