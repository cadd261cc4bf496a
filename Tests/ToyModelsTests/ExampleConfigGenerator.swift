import DiffusionCore
import Foundation
import XCTest

@testable import ToyModels

/// Regenerates `examples/*.json` from seeded random mixtures (values rounded to 4 decimals for readability).
/// Runs only with `TOYMODELS_WRITE_EXAMPLES=1`; `ToyProblemConfigTests.testExampleConfigsLoad` checks the files.
final class ExampleConfigGenerator: XCTestCase {
  func testRegenerateExamples() throws {
    guard ProcessInfo.processInfo.environment["TOYMODELS_WRITE_EXAMPLES"] == "1" else {
      throw XCTSkip("set TOYMODELS_WRITE_EXAMPLES=1 to rewrite examples/*.json")
    }
    let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("examples")
    let specs: [(String, Int, Int, Int, GaussianMixture.Covariance, NoiseSchedule, Double, UInt64)] = [
      ("mixture-3d.json", 3, 3, 2, .diagonal, .vpLinear, 1.0, 301),
      ("mixture-full-cov.json", 3, 4, 2, .full, .vpCosine, 0.99, 302),
      ("mixture-discrete.json", 2, 2, 1, .diagonal, .discrete, 1.0, 303),
    ]
    for (name, K, d, m, covariance, schedule, T, seed) in specs {
      let random = try GaussianMixture.random(d: d, K: K, m: m, covariance: covariance, schedule: schedule, seed: seed)
      func r(_ x: Double) -> Double { (x * 10_000).rounded() / 10_000 }
      func r(_ v: [Double]) -> [Double] { v.map(r) }
      func r(_ rows: [[Double]]) -> [[Double]] { rows.map(r) }
      let model = covariance == .diagonal
        ? try GaussianMixture(means: r(random.means), logits: r(random.logits), W: r(random.W),
                              logStd: r(random.logStd!), schedule: schedule)
        : try GaussianMixture(means: r(random.means), logits: r(random.logits), W: r(random.W),
                              cov: random.cov!.map(r), schedule: schedule)
      var rng = SeededGenerator(seed: seed + 1000)
      let problem = try ToyProblem(model: model, T: T, tEps: 0.001, xT: r(rng.normals(d)), z: .constant(r(rng.normals(m))),
                                   loss: SquaredDistanceLoss(target: r(model.means[0])))
      try OutputFile.write(problem.jsonData(), to: examples.appendingPathComponent(name))
    }
  }
}
