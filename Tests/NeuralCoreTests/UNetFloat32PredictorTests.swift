import DiffusionCore
import XCTest

@testable import NeuralCore

/// The float32 adapter against the float64 one with the same weights: eps and every VJP agree to float32 rounding
/// (1e-4 relative to each vector's largest entry; the tiny UNet's outputs are O(1)), parameters round-trip through
/// Float, and bad input is an error, not a crash.
final class UNetFloat32PredictorTests: XCTestCase {
  func pair() throws -> (UNetFloat64Predictor, UNetFloat32Predictor) {
    let f64 = UNetFloat64Predictor(try UNetNoisePredictor(model: try UNet2DModel<Double>(config: .tiny, seed: 4)))
    let f32 = try UNetFloat32Predictor(try UNetNoisePredictor(model: try UNet2DModel<Float>(config: .tiny, seed: 9)))
      .replacingParameters(f64.parameters)
    return (f64, f32)
  }

  func assertClose(_ a: [Double], _ b: [Double], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, what, file: file, line: line)
    let scale = max(b.map { abs($0) }.max() ?? 0, 1e-30)
    let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
    XCTAssertLessThan(worst / scale, 1e-4, what, file: file, line: line)
    XCTAssertGreaterThan(scale, 1e-6, "\(what) is all zeros: the comparison would prove nothing", file: file, line: line)
  }

  func testAgreesWithFloat64() throws {
    let (f64, f32) = try pair()
    XCTAssertEqual(f32.dataDimension, f64.dataDimension)
    XCTAssertEqual(f32.conditionDimension, f64.conditionDimension)
    XCTAssertEqual(f32.parameters, f64.parameters.map { Double(Float($0)) })
    var rng = SeededGenerator(seed: 8)
    let x = rng.normals(64), z = rng.normals(32), v = rng.normals(64)
    assertClose(try f32.eps(x, z: z, t: 0.6, batch: 1), try f64.eps(x, z: z, t: 0.6, batch: 1), "eps")
    let a = try f32.vjp(x, z: z, t: 0.6, batch: 1, cotangent: v, wantParameters: true)
    let b = try f64.vjp(x, z: z, t: 0.6, batch: 1, cotangent: v, wantParameters: true)
    assertClose(a.eps, b.eps, "vjp eps")
    assertClose(a.x, b.x, "vjp x")
    assertClose(a.z, b.z, "vjp z")
    assertClose(a.theta, b.theta, "vjp theta")
    XCTAssertTrue(try f32.vjp(x, z: z, t: 0.6, batch: 1, cotangent: v, wantParameters: false).theta.isEmpty)
  }

  func testBadInputThrows() throws {
    let (_, f32) = try pair()
    XCTAssertThrowsInvalid(try f32.eps([1, 2, 3], z: [Double](repeating: 0, count: 32), t: 0.5, batch: 1), field: "x")
    XCTAssertThrowsError(try f32.vjp([Double](repeating: 0, count: 64), z: [Double](repeating: 0, count: 32), t: 0.5, batch: 1,
                                     cotangent: [1], wantParameters: false))
    XCTAssertThrowsInvalid(try f32.replacingParameters([1, 2]), field: "theta")
  }
}
