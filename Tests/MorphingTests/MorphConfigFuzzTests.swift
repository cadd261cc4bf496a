import DiffusionCore
import Foundation
import XCTest

@testable import Morphing

/// Issue 14 item 5: unbounded pair counts were accepted (tuning_pairs 10^9 aborted at 8.5 GB, impostor_pairs 10^12
/// grew until killed). Every count now has a stated maximum and the experiment a memory estimate; generated bad
/// configs give a clean `InvalidInput` or a valid config, never a trap.
final class MorphConfigFuzzTests: XCTestCase {
  static let valid = #"{"data": "d.json", "recognizers": ["a", "b"], "models": ["mixture"], "pairs": 3, "steps": 1, "tuning_pairs": 2, "impostor_pairs": 2000, "genuine_pairs": 50, "fmr": 0.001, "learning_rates": [0.01, 0.1], "blend_weights": 5, "sampler_steps": 10, "t_eps": 0.001, "T": 1, "pair_seed": 1, "tuning_seed": 2, "grid_rows": 2, "spacing": "time-uniform", "update": "normalized", "constraint": "sphere", "reference_every": 1, "reference_tolerance": 1e-9, "rk45_tolerance": 1e-6}"#

  var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("morph-fuzz-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

  func load(_ text: String) throws -> MorphConfig {
    let url = directory.appendingPathComponent("c.json")
    try Data(text.utf8).write(to: url)
    return try MorphConfig.load(from: url)
  }

  func field(_ text: String) -> String? {
    do { _ = try load(text); return nil } catch { return (error as? InvalidInput)?.field ?? "not InvalidInput: \(error)" }
  }

  func testUnboundedCountsAreRefusedNamingTheKey() throws {
    XCTAssertNoThrow(try load(Self.valid))
    func set(_ key: String, _ value: String) -> String {
      guard case var .object(o) = try! JSONReader.parse(Self.valid, source: "t") else { return "" }  // invariant: a literal object
      o[key] = .number(Double(value) ?? 0, literal: value)  // rendered from the literal text as given
      return JSONMutation.render(.object(o))
    }
    XCTAssertEqual(field(set("tuning_pairs", "1000000000")), "tuning_pairs")
    XCTAssertEqual(field(set("impostor_pairs", "1000000000000")), "impostor_pairs")
    XCTAssertEqual(field(set("pairs", "1000000000")), "pairs")
    XCTAssertEqual(field(set("genuine_pairs", "1e300")), "genuine_pairs")
    XCTAssertEqual(field(set("pairs", "1e-400")), "pairs")
    XCTAssertEqual(field(set("pairs", "0.0")), "pairs")
    XCTAssertEqual(field(set("steps", "1.0")), nil)  // an integer written with a fraction is still that integer
    // within the limits, the memory estimate decides: 10^7 impostor pairs of 64 x 64 images need ~ 170 GB
    var c = try load(set("impostor_pairs", "10000000"))
    XCTAssertThrowsError(try c.checkMemory(dataDimension: 64 * 64, available: 24_000_000_000)) {
      XCTAssertEqual(($0 as? InvalidInput)?.field, "impostor_pairs")
    }
    c.impostorPairs = 20_000
    XCTAssertNoThrow(try c.checkMemory(dataDimension: 16 * 16, available: 24_000_000_000))
  }

  func testGeneratedConfigsGiveCleanErrorsOrValidConfigs() throws {
    let root = try JSONReader.parse(Self.valid, source: "config")
    var rng = SeededGenerator(seed: 144)
    var counts = (refused: 0, accepted: 0)
    for case_ in 0..<300 {
      let text = JSONMutation.render(JSONMutation.mutate(root, &rng))
      do {
        let c = try load(text)
        try c.validate()
        counts.accepted += 1
      } catch let e as InvalidInput {
        XCTAssertFalse(e.field.isEmpty || e.reason.contains("\n"), "case \(case_): \(e)")
        counts.refused += 1
      }
    }
    XCTAssertGreaterThan(counts.refused, 100)
    XCTAssertGreaterThan(counts.accepted, 20)
  }
}
