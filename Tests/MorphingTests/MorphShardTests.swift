import Convergence
import DiffusionCore
import Foundation
import Integrators
import Morphing
import NeuralCore
import ToyModels
import XCTest

/// The morph experiment in shards of (model, method) units, merged: the same report as the unsharded run, every
/// output file byte for byte once the wall times (each outcome's and the total) are set to zero.
final class MorphShardTests: XCTestCase {
  func testMergedShardsWriteTheUnshardedFiles() throws {
    let pipeline = MorphPipelineTests(name: "fixtures", testClosure: { _ in })  // its config and tiny UNet, not its tests
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("morph-shard-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    var c = pipeline.config(directory)
    c.models = ["mixture", "unet"]
    c.methods = [MorphMethod.dim, try MorphMethod.named("adjointdeis-1/ode")]
    c.unetLearningRates = "mixture"
    let recognizers = [try MorphFixtures.recognizer(width: 3, seed: 1), try MorphFixtures.recognizer(width: 4, seed: 2)]
    let unet = try pipeline.tinyUNet()
    let experiment = try MorphExperiment(config: c, recognizers: recognizers, data: MorphFixtures.data)
    XCTAssertEqual(experiment.units.count, 4)

    func files(_ report: MorphReport, _ name: String) throws -> [String: Data] {
      var r = report
      r.seconds = 0
      for i in r.models.indices { for j in r.models[i].outcomes.indices { r.models[i].outcomes[j].seconds = 0 } }
      let out = directory.appendingPathComponent(name)
      try r.write(to: out, imageSide: 8)
      var texts: [String: Data] = [:]
      for f in try FileManager.default.contentsOfDirectory(atPath: out.path) { texts[f] = try Data(contentsOf: out.appendingPathComponent(f)) }
      return texts
    }
    let expected = try files(try experiment.run(unet: unet), "whole")
    XCTAssertEqual(expected.count, 9)
    // 4 shards of 4 units: the UNet's gradient methods land in a shard without the mixture's, so the shard reruns
    // the mixture's tuning for their learning rates; one JSON round trip per shard, as between processes.
    let n = 4
    var parts: [(name: String, result: MorphShardResult)] = []
    for i in 0..<n {
      let shard = try Shard(index: i, count: n)
      let result = try experiment.run(shard: shard, unet: unet)
      parts.append((shard.name, try MorphShardResult(json: try result.json(), what: shard.name)))
    }
    XCTAssertTrue(parts.contains { p in p.result.models.map(\.model) == ["unet"] }, "no shard held the UNet alone")
    let merged = try files(try experiment.merged(parts), "merged")
    XCTAssertEqual(merged.keys.sorted(), expected.keys.sorted())
    for (name, data) in expected where name.hasSuffix(".png") { XCTAssertEqual(merged[name], data, "\(name) differs") }
    for (name, data) in expected where !name.hasSuffix(".png") {  // text: show the difference
      XCTAssertEqual(merged[name].map { String(decoding: $0, as: UTF8.self) }, String(decoding: data, as: UTF8.self), "\(name) differs")
    }
    // A missing shard is named.
    let holding = try XCTUnwrap(parts.lastIndex { !$0.result.models.isEmpty })
    XCTAssertThrowsError(try experiment.merged(parts.enumerated().filter { $0.offset != holding }.map(\.element))) { XCTAssertTrue("\($0)".contains("methods"), "\($0)") }
  }
}
