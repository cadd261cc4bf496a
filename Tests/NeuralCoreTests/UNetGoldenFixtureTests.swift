import DiffusionCore
import Foundation
import XCTest

@testable import NeuralCore

/// The whole UNet against diffusers + torch autograd (fixtures made by scripts/fixtures/make_unet_fixture.py):
/// eps, vjp_x, vjp_z and every vjp_param.<name>. Float64: |ours - theirs| <= 1e-10 max(1, max|theirs|) per tensor.
/// Float32: <= 1e-4 max(1e-3, max|theirs|) per tensor, except tensors that vanish analytically (the attention key
/// biases, to which softmax is invariant: < 1e-10 in the Float64 fixture of the same model), whose float32 values
/// are pure rounding noise and are measured against 1.
final class UNetGoldenFixtureTests: XCTestCase {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

  /// The fixtures are committed: a missing one is a failure (the comparison never ran), not a skip.
  static func requireCommitted(_ url: URL) throws {
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw InvalidInput(url.path, "the committed golden fixture is missing (regenerate it with scripts/fixtures/make_unet_fixture.py)")
    }
  }

  static func committed(_ url: URL) throws -> SafeTensorsFile {
    try requireCommitted(url)
    return try SafeTensorsFile.read(url)
  }

  func testAMissingFixtureFails() {
    XCTAssertThrowsError(try Self.requireCommitted(Self.fixtures.appendingPathComponent("no-such-fixture"))) {
      XCTAssertTrue(($0 as? InvalidInput)?.field.hasSuffix("no-such-fixture") == true)
    }
  }

  func testSmallConditionedFloat64() throws {
    try check(Double.self, "unet-small", expected: "expected.safetensors", tolerance: 1e-10, floor: 1)
  }

  func testCifarLikeLayoutFloat64() throws {
    try check(Double.self, "unet-small-b", expected: "expected.safetensors", tolerance: 1e-10, floor: 1)
  }

  func testSmallConditionedFloat32() throws {
    let reference = Self.fixtures.appendingPathComponent("unet-small/expected.safetensors")
    var vanishing = Set<String>()
    let f64 = try Self.committed(reference)
    for name in f64.names where (try f64.tensor(name).doubles().map { abs($0) }.max() ?? 0) < 1e-10 { vanishing.insert(name) }
    XCTAssertTrue(vanishing.allSatisfy { $0.hasSuffix("to_k.bias") }, "unexpected vanishing tensors \(vanishing)")
    try check(Float.self, "unet-small-f32", expected: "expected-f32.safetensors", tolerance: 1e-4, floor: 1e-3, vanishing: vanishing)
  }

  func testCifarConfigBuildsWith35_7MParameters() throws {
    let url = Self.fixtures.appendingPathComponent("ddpm-cifar10-32-config.json")
    try Self.requireCommitted(url)
    let config = try UNetConfig.load(from: url)
    XCTAssertEqual(config, UNetConfig.cifar10)
    let layout = UNet2DModel<Float>.layout(config)
    XCTAssertEqual(layout.total, 35_746_307)
  }

  private func check<S: BLASScalar>(_: S.Type, _ name: String, expected: String, tolerance: Double, floor: Double, vanishing: Set<String> = []) throws {
    let directory = Self.fixtures.appendingPathComponent(name)
    try Self.requireCommitted(directory)
    let model = try UNet2DModel<S>.load(directory: directory)
    let inputs = try SafeTensorsFile.read(directory.appendingPathComponent("inputs.safetensors"))
    let want = try SafeTensorsFile.read(directory.appendingPathComponent(expected))
    let x = try inputs.tensor("x")
    let (b, h, w) = (x.shape[0], x.shape[2], x.shape[3])
    let z = inputs["z"]?.values(S.self) ?? []
    let r = try model.vjp(
      x.values(S.self), batch: b, height: h, width: w, timesteps: try inputs.tensor("t").doubles(), z: z,
      cotangent: try inputs.tensor("cotangent").values(S.self))
    var compared = 0
    func compare(_ key: String, _ ours: [S]) throws {
      let theirs = try want.tensor(key).doubles()
      XCTAssertEqual(ours.count, theirs.count, key)
      guard ours.count == theirs.count else { return }
      let scale = vanishing.contains(key) ? 1 : max(floor, theirs.map { abs($0) }.max() ?? 0)
      var worst = 0.0
      for i in 0..<ours.count { worst = max(worst, abs(Double(ours[i]) - theirs[i])) }
      XCTAssertLessThanOrEqual(worst, tolerance * scale, "\(name) \(key): max |diff| \(worst), scale \(scale)")
      compared += 1
    }
    try compare("eps", r.eps)
    try compare("vjp_x", r.x)
    if !z.isEmpty { try compare("vjp_z", r.z) }
    for (i, block) in model.parameterBlocks.enumerated() {
      let o = model.layout.offsets[i]
      try compare("vjp_param." + block.name, Array(r.parameters[o..<o + block.count]))
    }
    // every parameter the fixture names is one of ours
    let paramKeys = want.names.filter { $0.hasPrefix("vjp_param.") }
    XCTAssertEqual(paramKeys.count, model.parameterBlocks.count)
    XCTAssertEqual(compared, 2 + (z.isEmpty ? 0 : 1) + model.parameterBlocks.count)
  }
}
