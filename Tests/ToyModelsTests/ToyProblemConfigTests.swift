import DiffusionCore
import Foundation
import XCTest

@testable import ToyModels

/// The JSON config: valid files round-trip exactly; every kind of bad input throws one `InvalidInput`
/// whose field names the offending key.
final class ToyProblemConfigTests: XCTestCase {
  /// A valid diagonal config as a JSON dictionary, for mutation.
  func validConfig() -> [String: Any] {
    [
      "schedule": "vp-linear", "T": 1.0, "t_eps": 0.001,
      "model": [
        "means": [[1.0, 0.0], [-1.0, 0.5]], "logits": [0.1, -0.2], "W": [[0.5], [-0.5]],
        "log_std": [[-0.5, -0.2], [0.0, -1.0]],
      ],
      "x_T": [0.3, -0.7], "z": [0.4],
      "loss": ["kind": "squared-distance", "target": [1.0, 1.0]],
    ]
  }

  func data(_ config: [String: Any]) throws -> Data {
    try JSONSerialization.data(withJSONObject: config)
  }

  func field(of config: [String: Any]) -> String? {
    do {
      _ = try ToyProblem(json: data(config))
      return nil
    } catch let error as InvalidInput {
      XCTAssertFalse(error.description.contains("\n"), "one line: \(error)")
      return error.field
    } catch {
      XCTFail("not an InvalidInput: \(error)")
      return nil
    }
  }

  func testValidConfigParses() throws {
    let problem = try ToyProblem(json: data(validConfig()))
    XCTAssertEqual(problem.schedule, .vpLinear)
    XCTAssertEqual(problem.T, 1.0)
    XCTAssertEqual(problem.tEps, 0.001)
    XCTAssertEqual(problem.model.covariance, .diagonal)
    XCTAssertEqual(problem.model.means, [[1.0, 0.0], [-1.0, 0.5]])
    XCTAssertEqual(problem.model.logStd, [[-0.5, -0.2], [0.0, -1.0]])
    XCTAssertEqual(problem.model.conditionDimension, 1)
    XCTAssertEqual(problem.xT, [0.3, -0.7])
    XCTAssertEqual(problem.z, .constant([0.4]))
    XCTAssertEqual(problem.loss.target, [1.0, 1.0])
  }

  func testRoundTripsExactly() throws {
    var rng = SeededGenerator(seed: 31)
    let cases: [(GaussianMixture, Conditioning, Double, Double)] = [
      (try .random(d: 3, K: 3, m: 2, covariance: .diagonal, schedule: .vpLinear, seed: 1), .constant(rng.normals(2)), 1, 1e-3),
      (try .random(d: 4, K: 3, m: 2, covariance: .full, schedule: .vpCosine, seed: 2), .perStep((0..<5).map { _ in rng.normals(2) }), 0.99, 1e-3),
      (try .random(d: 2, K: 2, m: 0, covariance: .diagonal, schedule: .discrete, seed: 3), .constant([]), 1, 1e-3),
    ]
    for (model, z, T, tEps) in cases {
      let problem = try ToyProblem(model: model, T: T, tEps: tEps, xT: rng.normals(model.dataDimension), z: z,
                                   loss: SquaredDistanceLoss(target: rng.normals(model.dataDimension)))
      let written = try problem.jsonData()
      let reread = try ToyProblem(json: written)
      XCTAssertEqual(reread, problem)
      XCTAssertEqual(try reread.jsonData(), written)
    }
  }

  func testOptionalKeys() throws {
    var config = validConfig()
    var model = config["model"] as! [String: Any]
    model["W"] = nil
    config["model"] = model
    config["z"] = nil
    XCTAssertEqual(try ToyProblem(json: data(config)).model.conditionDimension, 0)
    model["W"] = [[Double](), [Double]()]
    config["model"] = model
    config["z"] = [Double]()
    XCTAssertEqual(try ToyProblem(json: data(config)).z, .constant([]))
    config = validConfig()
    config["z"] = [[0.1], [0.2], [0.3]]
    XCTAssertEqual(try ToyProblem(json: data(config)).z, .perStep([[0.1], [0.2], [0.3]]))
    model = validConfig()["model"] as! [String: Any]
    model["log_std"] = nil
    model["cov"] = [[[0.5, 0.1], [0.1, 0.3]], [[1.0, 0.0], [0.0, 1.0]]]
    config["model"] = model
    XCTAssertEqual(try ToyProblem(json: data(config)).model.covariance, .full)
  }

  func testBadInputsNameTheField() throws {
    func mutated(_ change: (inout [String: Any]) -> Void) -> [String: Any] {
      var config = validConfig()
      change(&config)
      return config
    }
    func modelMutated(_ change: (inout [String: Any]) -> Void) -> [String: Any] {
      mutated { config in
        var model = config["model"] as! [String: Any]
        change(&model)
        config["model"] = model
      }
    }
    let identity = [[1.0, 0.0], [0.0, 1.0]]
    let cases: [(String, [String: Any])] = [
      ("schedule", mutated { $0["schedule"] = nil }),
      ("schedule", mutated { $0["schedule"] = "vp-quadratic" }),
      ("schedule", mutated { $0["schedule"] = 3 }),
      ("T", mutated { $0["T"] = nil }),
      ("T", mutated { $0["T"] = "1.0" }),
      ("T", mutated { $0["T"] = true }),
      ("T", mutated { $0["T"] = 2.0 }),
      ("t_eps", mutated { $0["t_eps"] = 1.0 }),
      ("t_eps", mutated { $0["t_eps"] = 1e-6 }),
      ("t_eps", mutated { $0["t_eps"] = [0.1] }),
      ("model", mutated { $0["model"] = nil }),
      ("model", mutated { $0["model"] = [1, 2] }),
      ("model.means", modelMutated { $0["means"] = nil }),
      ("model.means", modelMutated { $0["means"] = [[1.0, 0.0], [-1.0]] }),
      ("model.means", modelMutated { $0["means"] = [[Double]]() }),
      ("model.means", modelMutated { $0["means"] = [[1.0, "a"], [-1.0, 0.5]] }),
      ("model.means", modelMutated { $0["means"] = [[1.0, false], [-1.0, 0.5]] }),
      ("model.means", modelMutated { $0["means"] = [1.0, 2.0] }),
      ("model.logits", modelMutated { $0["logits"] = [0.1] }),
      ("model.logits", modelMutated { $0["logits"] = nil }),
      ("model.W", modelMutated { $0["W"] = [[0.5], [-0.5, 1.0]] }),
      ("model.W", modelMutated { $0["W"] = [[0.5]] }),
      ("model.log_std", modelMutated { $0["log_std"] = [[0.0, 0.0]] }),
      ("model.log_std", modelMutated { $0["log_std"] = [[0.0, 0.0], [0.0]] }),
      ("model.log_std", modelMutated { $0["log_std"] = nil }),
      ("model.cov", modelMutated { $0["cov"] = [identity, identity] }),
      ("model.cov", modelMutated { $0["log_std"] = nil; $0["cov"] = [identity] }),
      ("model.cov", modelMutated { $0["log_std"] = nil; $0["cov"] = [[[1.0, 0.2], [0.3, 1.0]], identity] }),
      ("model.cov", modelMutated { $0["log_std"] = nil; $0["cov"] = [[[1.0, 0.0], [0.0, -1.0]], identity] }),
      ("model.cov", modelMutated { $0["log_std"] = nil; $0["cov"] = [[[1.0, 0.0], [0.0]], identity] }),
      ("model.cov", modelMutated { $0["log_std"] = nil; $0["cov"] = 1.0 }),
      ("model.std", modelMutated { $0["std"] = [1.0] }),
      ("x_T", mutated { $0["x_T"] = nil }),
      ("x_T", mutated { $0["x_T"] = [0.3] }),
      ("x_T", mutated { $0["x_T"] = 0.3 }),
      ("z", mutated { $0["z"] = nil }),
      ("z", mutated { $0["z"] = [0.4, 0.5] }),
      ("z", mutated { $0["z"] = "none" }),
      ("z", mutated { $0["z"] = [[0.4], 0.5] }),
      ("z[1]", mutated { $0["z"] = [[0.4], [0.5, 0.6]] }),
      ("loss", mutated { $0["loss"] = nil }),
      ("loss.kind", mutated { $0["loss"] = ["kind": "l1", "target": [1.0, 1.0]] }),
      ("loss.kind", mutated { $0["loss"] = ["target": [1.0, 1.0]] }),
      ("loss.target", mutated { $0["loss"] = ["kind": "squared-distance", "target": [1.0]] }),
      ("loss.target", mutated { $0["loss"] = ["kind": "squared-distance"] }),
      ("loss.weight", mutated { $0["loss"] = ["kind": "squared-distance", "target": [1.0, 1.0], "weight": 2] }),
      ("steps", mutated { $0["steps"] = 10 }),
    ]
    for (expected, config) in cases {
      XCTAssertEqual(field(of: config), expected, "\(config)")
    }
  }

  func testMalformedFilesThrow() throws {
    // an out-of-range number names its field (issue 14), syntax errors the config
    for (text, field) in [("{\"schedule\": ", "config"), ("[1, 2]", "config"), ("", "config"), ("{\"T\": 1e999}", "T")] {
      XCTAssertThrowsError(try ToyProblem(json: Data(text.utf8))) { error in
        XCTAssertEqual((error as? InvalidInput)?.field, field, text)
        XCTAssertFalse("\(error)".contains("\n"))
      }
    }
    let missing = URL(fileURLWithPath: "/nonexistent/config.json")
    XCTAssertThrowsError(try ToyProblem.load(from: missing)) { error in
      XCTAssertEqual((error as? InvalidInput)?.field, missing.path)
    }
  }

  func testNonDefaultScheduleCannotBeWritten() throws {
    let schedule = NoiseSchedule.discreteDDPM(betaStart: 1e-4, betaEnd: 0.02, steps: 100)
    let model = try GaussianMixture.random(d: 2, K: 2, m: 0, covariance: .diagonal, schedule: schedule, seed: 1)
    let problem = try ToyProblem(model: model, T: 1, tEps: 0.01, xT: [0, 0], z: .constant([]),
                                 loss: SquaredDistanceLoss(target: [0, 0]))
    XCTAssertThrowsError(try problem.jsonData()) { error in
      XCTAssertEqual((error as? InvalidInput)?.field, "schedule")
    }
  }

  /// The shipped examples load with the documented shapes and are exactly what the writer writes.
  func testExampleConfigsLoad() throws {
    let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("examples")
    let expected: [(String, Int, Int, Int, GaussianMixture.Covariance, String, Double)] = [
      ("mixture-3d.json", 3, 3, 2, .diagonal, "vp-linear", 1.0),
      ("mixture-full-cov.json", 3, 4, 2, .full, "vp-cosine", 0.99),
      ("mixture-discrete.json", 2, 2, 1, .diagonal, "discrete", 1.0),
    ]
    for (name, K, d, m, covariance, schedule, T) in expected {
      let problem = try ToyProblem.load(from: examples.appendingPathComponent(name))
      XCTAssertEqual(problem.model.componentCount, K, name)
      XCTAssertEqual(problem.model.dataDimension, d, name)
      XCTAssertEqual(problem.model.conditionDimension, m, name)
      XCTAssertEqual(problem.model.covariance, covariance, name)
      XCTAssertEqual(problem.schedule.name, schedule, name)
      XCTAssertEqual(problem.T, T, name)
      XCTAssertEqual(problem.tEps, 0.001, name)
      XCTAssertEqual(try problem.jsonData(), try Data(contentsOf: examples.appendingPathComponent(name)), name)
    }
  }
}
