import DiffusionCore
import Foundation
import Integrators
import Morphing
import ToyModels
import XCTest

/// The pieces of the pipeline: lockstep batching, the DDIM encoder, slerp, pairs, calibration, PNG.
final class MorphPartsTests: XCTestCase {
  /// Fixed-grid gradients of P pairs run in lockstep equal the P batch-1 gradients.
  func testLockstepBatchEqualsSeparateRuns() throws {
    var data = MorphFixtures.data
    data.condition = true
    data.zDimension = 3
    let model = try ImageMixture.build(data)
    var rng = SeededGenerator(seed: 3)
    let P = 3, d = 64
    let xT = rng.normals(P * d), z = rng.normals(P * 3), target = rng.normals(P * d)
    for solver in ["adjointdeis-1", "dto"] {
      var options = GradientOptions()
      (options.samplerSteps, options.adjointSteps, options.wantParameters) = (6, 6, false)
      let method = try MethodSpec(solver).make(given: options)
      let joint = try method.gradient(GradientProblem(model: LockstepBatch(model, count: P), schedule: data.schedule, T: 1, tEps: 1e-3, xT: xT,
                                                      z: .constant(z), loss: SquaredDistanceLoss(target: target)))
      for p in 0..<P {
        let one = try method.gradient(GradientProblem(
          model: model, schedule: data.schedule, T: 1, tEps: 1e-3, xT: Array(xT[(p * d)..<((p + 1) * d)]),
          z: .constant(Array(z[(p * 3)..<((p + 1) * 3)])), loss: SquaredDistanceLoss(target: Array(target[(p * d)..<((p + 1) * d)]))))
        for i in 0..<d { XCTAssertEqual(joint.gradXT[p * d + i], one.gradXT[i], accuracy: 1e-12 * max(1, abs(one.gradXT[i]))) }
        for j in 0..<3 { XCTAssertEqual(joint.gradZ[0][p * 3 + j], one.gradZ[0][j], accuracy: 1e-12 * max(1, abs(one.gradZ[0][j]))) }
      }
    }
    XCTAssertThrowsError(try LockstepBatch(model, count: 0))
  }

  /// DDIM inversion followed by DDIM sampling returns the image, with an error that falls about linearly in 1/N.
  func testEncoderInvertsTheSampler() throws {
    let model = try MorphFixtures.mixture()
    var rng = SeededGenerator(seed: 4)
    let x0 = try model.sample(component: 1, count: 1, generator: &rng)
    var errors: [Double] = []
    for n in [50, 200] {
      let grid = try TimeGrid(schedule: .vpLinear, tEps: 1e-3, T: 1, steps: n, spacing: .timeUniform)
      let (xT, count) = try Encoder().encode(model: model, grid: grid, x0: x0, z: [])
      XCTAssertEqual(count, n)
      let back = try Sampler(kind: .dpmSolver1).sample(model: model, grid: grid, xT: xT, z: .constant([])).x0
      errors.append(sqrt(zip(back, x0).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / zip(x0, x0).map { $0 * $1 }.reduce(0, +)))
    }
    // First-order steps both ways: 4x the steps should cut the round-trip error by ~4 (asserted: by at least 2.5).
    XCTAssertLessThan(errors[1], errors[0] / 2.5, "\(errors)")
    XCTAssertLessThan(errors[1], 0.05, "\(errors)")
  }

  func testSlerp() {
    let a: [Double] = [1, 0, 0], b: [Double] = [0, 2, 0]
    XCTAssertEqual(slerp(a[...], b[...], 0), a)
    for (x, y) in zip(slerp(a[...], b[...], 1), b) { XCTAssertEqual(x, y, accuracy: 1e-15) }
    let mid = slerp(a[...], b[...], 0.5)
    // Orthogonal inputs: sin(pi/4)/sin(pi/2) each.
    XCTAssertEqual(mid[0], 0.5.squareRoot(), accuracy: 1e-15)
    XCTAssertEqual(mid[1], 2 * 0.5.squareRoot(), accuracy: 1e-15)
    XCTAssertEqual(slerp(a[...], a[...], 0.3), a)  // parallel: falls back to lerp
  }

  func testPairsAreSeededAndFromDifferentComponents() throws {
    let model = try MorphFixtures.mixture()
    let p = try MorphPairs.draw(mixture: model, count: 30, seed: 5), q = try MorphPairs.draw(mixture: model, count: 30, seed: 5)
    XCTAssertEqual(p.xA, q.xA)
    XCTAssertEqual(p.classB, q.classB)
    for i in 0..<30 { XCTAssertNotEqual(p.classA[i], p.classB[i]) }
    XCTAssertEqual(Set(p.classA + p.classB).count, 3)
    XCTAssertEqual(p.prefix(4).count, 4)
    XCTAssertThrowsError(try MorphPairs.draw(mixture: model, count: 0, seed: 1))
  }

  /// The threshold leaves at most a share fmr of the impostor pairs above it, and a trained recognizer matches
  /// genuine pairs of this well-separated mixture.
  func testCalibration() throws {
    let r = try MorphFixtures.recognizer(width: 3, seed: 1)
    let t = try MatchThreshold.calibrate(r, mixture: MorphFixtures.mixture(), fmr: 0.01, impostorPairs: 400, genuinePairs: 100, seed: 3)
    XCTAssertLessThanOrEqual(t.measuredFMR, 0.01)
    XCTAssertGreaterThan(t.genuineMatchRate, 0.9)
    XCTAssertThrowsError(try MatchThreshold.calibrate(r, mixture: MorphFixtures.mixture(), fmr: 0.01, impostorPairs: 50, genuinePairs: 10, seed: 3))
    XCTAssertThrowsError(try MatchThreshold.calibrate(r, mixture: MorphFixtures.mixture(), fmr: 0, impostorPairs: 500, genuinePairs: 10, seed: 3))
  }

  /// PNG: the signature, the IHDR fields, and CRC-32/Adler-32 checked on known values (so a viewer accepts the file).
  func testPNGEncoding() throws {
    var image = try PNGImage(width: 3, height: 2)
    image.paste([0, 1][...], side: 1, atX: 0, y: 0, zoom: 1, low: 0, high: 1)
    let bytes = [UInt8](image.pngData)
    XCTAssertEqual(Array(bytes[0..<8]), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    XCTAssertEqual(Array(bytes[12..<16]), Array("IHDR".utf8))
    XCTAssertEqual(Array(bytes[16..<24]), [0, 0, 0, 3, 0, 0, 0, 2])
    XCTAssertEqual(Array(bytes.suffix(12)), [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82])  // IEND and its CRC
    XCTAssertEqual(image.pixels[0], 0)
    XCTAssertThrowsError(try PNGImage(width: 0, height: 1))
  }
}
