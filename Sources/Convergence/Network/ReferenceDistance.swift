import DiffusionCore
import Foundation
import Integrators
import ToyModels

/// The network's RK45 reference gradient against the analytic mixture's over several x_T ~ N(0, I): for each, the
/// component each model's x_0 lands nearest to, and the relative distance and cosine of a_x(T).
public struct ReferenceDistance: Sendable {
  public struct Row: Sendable {
    public var seed: UInt64
    public var toyComponent: Int
    public var networkComponent: Int
    public var gradient: GradientComparison
    public var x0: GradientComparison
  }

  public var rows: [Row]
  public var tolerance: Double

  public static func measure<Network: NoisePredictor>(mixture: GaussianMixture, network: Network, T: Double, tEps: Double, z: [Double],
                                                      loss: SquaredDistanceLoss, seeds: [UInt64], tolerance: Double,
                                                      progress: (String) -> Void = { _ in }) throws -> ReferenceDistance {
    var rows: [Row] = []
    for seed in seeds {
      progress("reference distance: x_T seed \(seed)")
      var rng = SeededGenerator(seed: seed)
      let xT = rng.normals(mixture.dataDimension)
      let toyProblem = StudyProblem(try ToyProblem(model: mixture, T: T, tEps: tEps, xT: xT, z: .constant(z), loss: loss))
      let netProblem = StudyProblem(
        try GradientProblem(model: network, schedule: mixture.schedule, T: T, tEps: tEps, xT: xT, z: .constant(z), loss: loss),
        label: "network", description: "network")
      let a = try NetworkComparison<Network>.reference(toyProblem, tolerance)
      let b = try NetworkComparison<Network>.reference(netProblem, tolerance)
      rows.append(Row(seed: seed, toyComponent: nearest(a.x0, mixture), networkComponent: nearest(b.x0, mixture),
                      gradient: GradientComparison(b.gradXT, reference: a.gradXT), x0: GradientComparison(b.x0, reference: a.x0)))
    }
    return ReferenceDistance(rows: rows, tolerance: tolerance)
  }

  /// The component whose mean is nearest to x.
  static func nearest(_ x: [Double], _ mixture: GaussianMixture) -> Int {
    let means = mixture.means
    let distances = means.map { mu in zip(mu, x).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) }
    return distances.indices.min { distances[$0] < distances[$1] } ?? 0
  }

  public var markdown: String {
    var text = "| x_T seed | x_0 nearest component: analytic / network | a_x(T): relative distance | a_x(T): cosine | x_0: relative distance |\n|---|---|---|---|---|\n"
    for r in rows {
      text += "| \(r.seed) | \(r.toyComponent) / \(r.networkComponent) | \(ReportFormat.short(r.gradient.relativeError)) | "
        + String(format: "%.4f", r.gradient.cosine) + " | \(ReportFormat.short(r.x0.relativeError)) |\n"
    }
    let same = rows.filter { $0.toyComponent == $0.networkComponent }
    if !same.isEmpty {
      let median = same.map(\.gradient.relativeError).sorted()[same.count / 2]
      text += "\nSame component in \(same.count) of \(rows.count); there, median relative distance of a_x(T) \(ReportFormat.short(median)).\n"
    } else {
      text += "\nThe two models' x_0 never land in the same component.\n"
    }
    return text + "(RK45 black-box adjoint of both models, rtol = atol = \(ReportFormat.short(tolerance)).)\n"
  }
}
