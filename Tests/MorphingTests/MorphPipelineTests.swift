import Convergence
import DiffusionCore
import Foundation
import Integrators
import Morphing
import NeuralCore
import ToyModels
import XCTest

/// The whole experiment on two pairs with two optimization steps (the issue's fast test): calibration, pairs, tuning on
/// separate pairs, DiM, the Morph-PIPE-like search and every gradient method on the analytic mixture (unconditioned and
/// conditioned) and on a tiny random UNet, then every output file.
final class MorphPipelineTests: XCTestCase {
  func config(_ directory: URL) -> MorphConfig {
    var c = MorphConfig(data: directory.appendingPathComponent("data.json"), unet: directory, recognizers: [
      directory.appendingPathComponent("r0"), directory.appendingPathComponent("r1"),
    ])
    c.models = ["mixture", "mixture-conditional", "unet"]
    c.pairs = 2
    c.unetPairs = 2
    c.tuningPairs = 2
    // Normalized steps (the default update) of 0.01% and 0.03% of |x_T|: small enough that the first-order decrease
    // dominates. Larger steps (0.3%) can raise the loss even with the exact gradient: near the boundary between two
    // components' basins, where morphs live, x_0 moves steeply with x_T (seen with the SDE: cos 0.99999 with the
    // exact gradient, yet the loss rose from 2.81 to 3.00 in one 0.3% step).
    c.learningRates = [1e-4, 3e-4]
    c.unetLearningRates = "mixture"  // as in the experiment
    c.settings.optimizationSteps = 2
    c.settings.samplerSteps = 20
    c.settings.referenceTolerance = 1e-7
    c.settings.rk45Tolerance = 1e-5
    c.settings.blendWeights = [0.25, 0.5, 0.75]
    c.unetReferenceEvery = 1
    c.unetReferenceTolerance = 1e-5
    c.unetRK45Tolerance = 1e-4
    c.fmr = 0.01
    c.impostorPairs = 200
    c.genuinePairs = 50
    c.gridRows = 2
    return c
  }

  /// An unconditioned tiny random UNet on 8 x 8 images whose time features vary slowly (as in NetworkStudyTests):
  /// the debug build runs the committed 16 x 16 network ~40x slower than release, too slow for a unit test.
  func tinyUNet() throws -> UNetFloat64Predictor {
    var config = UNetConfig.tiny
    config.blockOutChannels = [4, 8]
    config.normNumGroups = 2
    config.attentionHeadDim = 4
    config.classEmbedIdentity = false
    var unet = try UNet2DModel<Double>(config: config, seed: 5)
    unet.silenceTimeFeatures(fasterThan: 1)
    return UNetFloat64Predictor(try UNetNoisePredictor(model: unet, schedule: MorphFixtures.data.schedule))
  }

  func testWholePipelineOnTwoPairsLowersTheLossForEveryGradientMethod() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("morph-test-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    let c = config(directory)
    let recognizers = [try MorphFixtures.recognizer(width: 3, seed: 1), try MorphFixtures.recognizer(width: 4, seed: 2)]
    let report = try MorphExperiment(config: c, recognizers: recognizers, data: MorphFixtures.data).run(unet: tinyUNet())
    XCTAssertEqual(report.models.map(\.model), ["mixture", "mixture-conditional", "unet"])
    for m in report.models {
      XCTAssertEqual(m.outcomes.map(\.method), MorphMethod.allCases)
      for o in m.outcomes {
        XCTAssertEqual(o.morphs.count, 2 * 64)
        XCTAssertTrue(o.loss.allSatisfy(\.isFinite))
        // NFE are counted, and match what each method must spend: encoding 2N, DiM one sample, the search one per weight.
        switch o.method {
        case .dim: XCTAssertEqual(o.evaluations, EvaluationCount(eps: 3 * 20))
        case .morphPipe: XCTAssertEqual(o.evaluations, EvaluationCount(eps: 2 * 20 + 3 * 20))
        case .gradient(let spec) where spec.name == "rk45": XCTAssertGreaterThan(o.evaluations.vjp, 0)
        default: XCTAssertEqual(o.evaluations, EvaluationCount(eps: 2 * 20 + 2 * 20 + 20, vjp: 2 * 20), "\(m.model) \(o.method)")
        }
        guard o.method.isGradient else { continue }
        // The loss after two steps is below the loss at the DiM start, for every gradient method and model.
        let initial = o.path.filter { $0.step == 0 }.map(\.loss).reduce(0, +)
        XCTAssertLessThan(o.loss.reduce(0, +), initial, "\(m.model) \(o.method.rawValue): the loss did not decrease")
        XCTAssertTrue(o.path.allSatisfy { $0.cosine != nil }, "every step was compared with the reference")
        XCTAssertNotNil(o.learningRate)
        // The default projected descent keeps every pair's x_T on the sphere of its DiM start.
        for r in try XCTUnwrap(o.noiseNormRatio) { XCTAssertEqual(r, 1, accuracy: 1e-12) }
      }
      XCTAssertEqual(m.ratesFrom, m.model == "unet" ? "tuned on mixture" : "tuned on \(m.model)")
      XCTAssertEqual(m.tuning.count, m.model == "unet" ? 0 : MorphMethod.gradientMethods.count * c.learningRates.count)
    }
    // RK45 at rtol 1e-5 against the reference at 1e-7: the same gradient to a few digits.
    let rk45 = try XCTUnwrap(report.models[0].outcomes.first { $0.method.rawValue == "rk45" })
    for q in rk45.path { XCTAssertGreaterThan(try XCTUnwrap(q.cosine), 0.999) }

    let out = directory.appendingPathComponent("out")
    try report.write(to: out, imageSide: 8)
    for name in ["table.csv", "table.md", "summary.md", "morphs.csv", "paths.csv", "tuning.csv", "calibration.csv", "grid-unet.png"] {
      XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path), name)
    }
    let table = try String(contentsOf: out.appendingPathComponent("table.csv"), encoding: .utf8)
    XCTAssertEqual(table.split(separator: "\n").count, 1 + 3 * MorphMethod.allCases.count)
  }

  func testBadConfigsAreRejectedBeforeWork() throws {
    let directory = FileManager.default.temporaryDirectory
    var c = config(directory)
    c.pairs = 0
    XCTAssertThrowsError(try c.validate())
    c = config(directory); c.learningRates = [-1]
    XCTAssertThrowsError(try c.validate())
    c = config(directory); c.settings.optimizationSteps = -2
    XCTAssertThrowsError(try c.validate())
    c = config(directory); c.models = ["gan"]
    XCTAssertThrowsError(try c.validate())
    c = config(directory); c.tuningSeed = c.pairSeed
    XCTAssertThrowsError(try c.validate())
    c = config(directory); c.lossRecognizer = 5
    XCTAssertThrowsError(try c.validate())
    // A recognizer for 16 x 16 images does not fit 8 x 8 data.
    let wrong = try Recognizer(config: RecognizerConfig(imageSize: 16, width: 2, embeddingDimension: 4, classes: 3, seed: 1))
    XCTAssertThrowsError(try MorphExperiment(config: config(directory), recognizers: [wrong, wrong], data: MorphFixtures.data))
    // An unconditioned network is required; a conditioned mixture in its place is refused before any work.
    var conditioned = MorphFixtures.data
    conditioned.condition = true
    conditioned.zDimension = 3
    var mixtureOnly = config(directory)
    mixtureOnly.data = directory
    let experiment = try MorphExperiment(config: mixtureOnly, recognizers: [MorphFixtures.recognizer(width: 2, seed: 1, steps: 1)] + [
      MorphFixtures.recognizer(width: 2, seed: 2, steps: 1)], data: MorphFixtures.data)
    XCTAssertThrowsError(try experiment.run(unet: ImageMixture.build(conditioned)))
    // A learning rate out of range for one optimization.
    let problem = try MorphProblem(model: MorphFixtures.mixture(), schedule: .vpLinear,
                                   pairs: MorphPairs.draw(mixture: MorphFixtures.mixture(), count: 1, seed: 1),
                                   recognizer: MorphFixtures.recognizer(width: 2, seed: 1, steps: 1), settings: config(directory).settings,
                                   condition: { _ in [] })
    XCTAssertThrowsError(try problem.optimize(try MorphMethod.named("dto"), learningRate: 0, trackReference: false))
    XCTAssertThrowsError(try problem.optimize(.dim, learningRate: 1, trackReference: false))
  }

  func testConfigFileErrorsNameTheKey() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("morph-config-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent("c.json")
    func load(_ text: String) -> String {
      try? text.write(to: url, atomically: true, encoding: .utf8)
      do { _ = try MorphConfig.load(from: url); return "" } catch { return "\(error)" }
    }
    XCTAssertTrue(load(#"{"recognizers": ["a"]}"#).hasPrefix("data"))
    XCTAssertTrue(load(#"{"data": "d.json", "recognizers": ["a"], "pairs": 0}"#).hasPrefix("pairs"))
    XCTAssertTrue(load(#"{"data": "d.json", "recognizers": ["a"], "pairs": true}"#).hasPrefix("pairs"))
    XCTAssertTrue(load(#"{"data": "d.json", "recognizers": ["a"], "steps": 2.5}"#).hasPrefix("steps"))
    XCTAssertTrue(load(#"{"data": "d.json", "recognizers": ["a"], "lr": 1}"#).hasPrefix("lr"))
    XCTAssertTrue(load(#"{"data": "d.json", "recognizers": ["a"], "methods": ["sgd"]}"#).hasPrefix("methods"))
    XCTAssertTrue(load("[1]").hasPrefix("config"))
    let ok = load(#"{"data": "d.json", "recognizers": ["a"], "models": ["mixture"], "pairs": 3, "steps": 1}"#)
    XCTAssertEqual(ok, "")
  }
}
