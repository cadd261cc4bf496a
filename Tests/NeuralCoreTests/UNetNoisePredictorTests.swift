import DiffusionCore
import XCTest

@testable import NeuralCore

/// The UNet as a NoisePredictor: flattening, the discrete model time 1000 (t - 1/1000), theta round trips, and
/// the VJP through the protocol against finite differences (tolerance 1e-6 relative, Float64).
final class UNetNoisePredictorTests: XCTestCase {
  func testEpsUsesTheDiscreteModelTime() throws {
    let model = try UNet2DModel<Double>(config: .tiny, seed: 2)
    let predictor = try UNetNoisePredictor(model: model)
    XCTAssertEqual(predictor.dataDimension, 64)
    XCTAssertEqual(predictor.conditionDimension, 32)
    XCTAssertEqual(predictor.parameterCount, model.parameterCount)
    var rng = SeededGenerator(seed: 1)
    let x = rng.normals(128), z = rng.normals(64)
    let t = 0.37
    let eps = try predictor.eps(x, z: z, t: t, batch: 2)
    let direct = try model.forward(x, batch: 2, height: 8, width: 8, timesteps: [1000 * (t - 0.001)], z: z)
    for i in 0..<eps.count { XCTAssertEqual(eps[i], direct[i], accuracy: 1e-13) }
  }

  func testVJPThroughTheProtocol() throws {
    let predictor = try UNetNoisePredictor(model: try UNet2DModel<Double>(config: .tiny, seed: 4))
    var rng = SeededGenerator(seed: 8)
    let x = rng.normals(64), z = rng.normals(32), v = rng.normals(64)
    let t = 0.6
    let r = try predictor.vjp(x, z: z, t: t, batch: 1, cotangent: v, wantParameters: true)
    XCTAssertEqual(r.theta.count, predictor.parameterCount)
    let fdZ = try FiniteDifferences.gradient(z, indices: [0, 5, 31]) { zp in
      FiniteDifferences.dot(v, try predictor.eps(x, z: zp, t: t, batch: 1))
    }
    FiniteDifferences.assertClose(r.z, fdZ, tolerance: 1e-6, "vjp_z")
    let fdX = try FiniteDifferences.gradient(x, indices: [0, 27, 63]) { xp in
      FiniteDifferences.dot(v, try predictor.eps(xp, z: z, t: t, batch: 1))
    }
    FiniteDifferences.assertClose(r.x, fdX, tolerance: 1e-6, "vjp_x")
    let theta = predictor.parameters
    let fdTheta = try FiniteDifferences.gradient(theta, indices: [0, theta.count / 2, theta.count - 1]) { tp in
      FiniteDifferences.dot(v, try predictor.replacingParameters(tp).eps(x, z: z, t: t, batch: 1))
    }
    FiniteDifferences.assertClose(r.theta, fdTheta, tolerance: 1e-6, "vjp_theta")
    let without = try predictor.vjp(x, z: z, t: t, batch: 1, cotangent: v, wantParameters: false)
    XCTAssertTrue(without.theta.isEmpty)
    XCTAssertEqual(without.x, r.x)
  }

  func testFloatPredictorConvertsAtTheBoundary() throws {
    let p64 = try UNetNoisePredictor(model: try UNet2DModel<Double>(config: .tiny, seed: 4))
    let p32 = try UNetNoisePredictor(model: try UNet2DModel<Float>(config: .tiny, seed: 4))
    var rng = SeededGenerator(seed: 3)
    let x = rng.normals(64), z = rng.normals(32)
    let a = try p64.eps(x, z: z, t: 0.5, batch: 1), b = try p32.eps(x, z: z, t: 0.5, batch: 1)
    let scale = a.map { abs($0) }.max()!
    for i in 0..<a.count { XCTAssertEqual(a[i], b[i], accuracy: 1e-4 * scale) }
    XCTAssertEqual(p32.parameters.count, p64.parameters.count)
  }

  func testBadInputsThrow() throws {
    let predictor = try UNetNoisePredictor(model: try UNet2DModel<Double>(config: .tiny, seed: 4))
    XCTAssertThrowsError(try predictor.eps([0], z: [Double](repeating: 0, count: 32), t: 0.5, batch: 1)) {
      XCTAssertEqual(($0 as? InvalidInput)?.field, "x")
    }
    XCTAssertThrowsError(try predictor.eps([Double](repeating: 0, count: 64), z: [], t: 0.5, batch: 1)) {
      XCTAssertEqual(($0 as? InvalidInput)?.field, "z")
    }
    XCTAssertThrowsError(try predictor.replacingParameters([1, 2])) { XCTAssertEqual(($0 as? InvalidInput)?.field, "theta") }
    var odd = UNetConfig.tiny
    odd.outChannels = 2
    XCTAssertThrowsError(try UNetNoisePredictor(model: try UNet2DModel<Double>(config: odd, seed: 1))) {
      XCTAssertEqual(($0 as? InvalidInput)?.field, "out_channels")
    }
    XCTAssertThrowsInvalid(try UNetNoisePredictor(model: try UNet2DModel<Double>(config: .tiny, seed: 1), height: 7, width: 8), field: "height")
  }
}
