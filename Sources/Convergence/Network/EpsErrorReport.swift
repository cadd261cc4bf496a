import DiffusionCore
import Foundation
import ToyModels

/// How well a trained network matches the analytic eps of the mixture it was trained on, per noise level:
/// on x_t = alpha_t x_0 + sigma_t e with exact x_0, the relative RMS `|eps_net - eps_true| / |eps_true|` and the
/// denoising losses `|eps - e|^2 / d` of both (the analytic one is the minimum the network can reach).
public struct EpsErrorReport: Sendable {
  public struct Level: Sendable {
    public var t: Double
    public var sigma: Double
    public var relativeRMS: Double
    public var networkLoss: Double
    public var analyticLoss: Double
  }

  public var levels: [Level]
  public var samples: Int

  public static let defaultTimes = [0.001, 0.005, 0.02, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0]

  public static func measure<Net: NoisePredictor>(network: Net, mixture: GaussianMixture, data: ImageMixtureConfig,
                                                  times: [Double] = defaultTimes, samples B: Int, seed: UInt64) throws -> EpsErrorReport {
    try Check.positive(B, "samples")
    let d = mixture.dataDimension
    guard network.dataDimension == d, network.conditionDimension == mixture.conditionDimension else {
      throw InvalidInput("model", "the network takes d = \(network.dataDimension), m = \(network.conditionDimension); the data d = \(d), m = \(mixture.conditionDimension)")
    }
    let schedule = mixture.schedule
    var levels: [Level] = []
    for (i, t) in times.enumerated() {
      var rng = SeededGenerator(seed: seed &+ UInt64(i))
      let (x0, z) = try NetworkData.source(mixture, data)(B, &rng)
      let e = rng.normals(B * d)
      let a = schedule.alpha(t), s = schedule.sigma(t)
      let xt = (0..<(B * d)).map { a * x0[$0] + s * e[$0] }
      let net = try network.eps(xt, z: z, t: t, batch: B)
      let truth = try mixture.eps(xt, z: z, t: t, batch: B)
      var diff = 0.0, norm = 0.0, netLoss = 0.0, trueLoss = 0.0
      for j in 0..<(B * d) {
        diff += (net[j] - truth[j]) * (net[j] - truth[j])
        norm += truth[j] * truth[j]
        netLoss += (net[j] - e[j]) * (net[j] - e[j])
        trueLoss += (truth[j] - e[j]) * (truth[j] - e[j])
      }
      levels.append(Level(t: t, sigma: s, relativeRMS: (diff / norm).squareRoot(), networkLoss: netLoss / Double(B * d),
                          analyticLoss: trueLoss / Double(B * d)))
    }
    return EpsErrorReport(levels: levels, samples: B)
  }

  public var markdown: String {
    var text = "| t | sigma_t | relative RMS of eps_net - eps_true | loss (network) | loss (analytic, the minimum) |\n|---|---|---|---|---|\n"
    for l in levels {
      text += String(format: "| %.3g | %.3g | %.3g | %.4g | %.4g |\n", l.t, l.sigma, l.relativeRMS, l.networkLoss, l.analyticLoss)
    }
    return text + "\n(\(samples) exact samples x_0 per noise level, one noise draw each.)\n"
  }
}
