import DiffusionCore
import Foundation
import Integrators
import Morphing
import TestSupport
import ToyModels
import XCTest

/// The Gaussian-linear methods on pairs run in lockstep: block-diagonal data statistics, one block per pair.
final class LockstepStatisticsTests: XCTestCase {
  private func gradients(_ solver: String, model: GaussianMixture, P: Int, d: Int, m: Int, seed: UInt64) throws -> (joint: GradientResult, separate: [GradientResult]) {
    var rng = SeededGenerator(seed: seed)
    let xT = rng.normals(P * d), z = rng.normals(P * m), target = rng.normals(P * d)
    var options = GradientOptions()
    (options.samplerSteps, options.adjointSteps, options.wantParameters) = (6, 6, false)
    let method = try MethodSpec(solver).make(given: options)
    let joint = try method.gradient(GradientProblem(model: LockstepBatch(model, count: P), schedule: .vpLinear, T: 1, tEps: 1e-3, xT: xT,
                                                    z: .constant(z), loss: SquaredDistanceLoss(target: target)))
    let separate = try (0..<P).map { p in
      try method.gradient(GradientProblem(
        model: model, schedule: .vpLinear, T: 1, tEps: 1e-3, xT: Array(xT[(p * d)..<((p + 1) * d)]),
        z: .constant(Array(z[(p * m)..<((p + 1) * m)])), loss: SquaredDistanceLoss(target: Array(target[(p * d)..<((p + 1) * d)]))))
    }
    return (joint, separate)
  }

  private func assertBlocksEqual(_ joint: [Double], _ parts: [[Double]], _ what: String, line: UInt = #line) {
    let d = parts[0].count
    for (p, part) in parts.enumerated() {
      for i in 0..<d {
        XCTAssertEqual(joint[p * d + i], part[i], accuracy: 1e-12 * max(1, abs(part[i])), "\(what) pair \(p) entry \(i)", line: line)
      }
    }
  }

  /// Unconditioned model (one Sigma for every pair): x_0, dL/dx_T of every pair as in its own run, full and
  /// isotropic linear part, k = 1 and 2M, and DTO through the Gaussian-linear sampler.
  func testSharedStatisticsGiveTheSeparateRunsGradients() throws {
    let model = try MorphFixtures.mixture()
    for solver in ["adjointdeis-gl-1", "adjointdeis-gl-2m", "adjointdeis-gl-1/isotropic", "dto-gl", "dto-gl/dpm-solver-2m"] {
      let (joint, separate) = try gradients(solver, model: model, P: 3, d: 64, m: 0, seed: 5)
      assertBlocksEqual(joint.x0, separate.map(\.x0), "\(solver) x0")
      assertBlocksEqual(joint.gradXT, separate.map(\.gradXT), "\(solver) dL/dx_T")
    }
  }

  /// Conditioned model, a different z (hence Sigma) per pair: dL/dx_T per pair as in its own run (each block has
  /// its own basis and variances); dL/dz uses the blocks' average tr Sigma / d for its scalar growth, so it is only
  /// checked to be finite and of the separate runs' size.
  func testPerPairStatisticsGiveTheSeparateRunsDxT() throws {
    var data = MorphFixtures.data
    data.condition = true
    data.zDimension = 3
    let model = try ImageMixture.build(data)
    let (joint, separate) = try gradients("adjointdeis-gl-1", model: model, P: 3, d: 64, m: 3, seed: 6)
    assertBlocksEqual(joint.gradXT, separate.map(\.gradXT), "dL/dx_T")
    let jointNorm = joint.gradZ[0].map { $0 * $0 }.reduce(0, +).squareRoot()
    let separateNorm = separate.flatMap { $0.gradZ[0] }.map { $0 * $0 }.reduce(0, +).squareRoot()
    XCTAssertTrue(joint.gradZ[0].allSatisfy(\.isFinite))
    XCTAssertEqual(jointNorm / separateNorm, 1, accuracy: 0.5)
  }

  func testBlockDiagonalStatistics() throws {
    let dense = try DataStatistics(mean: [1, 2], eigenvalues: [0.5, 2], eigenvectors: [0, 1, 1, 0], field: "a")
    let round = try DataStatistics(mean: [3, 4], variance: 0.7, field: "b")
    let joint = try DataStatistics.blockDiagonal([dense, round])
    XCTAssertEqual(joint.mean, [1, 2, 3, 4])
    XCTAssertEqual(joint.eigenvalues, [0.5, 2, 0.7, 0.7])
    XCTAssertEqual(joint.blockSize, 2)
    XCTAssertEqual(joint.eigenvectors, [0, 1, 1, 0, 1, 0, 0, 1], "the isotropic block gets the identity")
    XCTAssertTrue(try DataStatistics.blockDiagonal([round, round]).isIsotropic)
    XCTAssertThrowsInvalid(try DataStatistics.blockDiagonal([]), field: "statistics")
    XCTAssertThrowsInvalid(try DataStatistics.blockDiagonal([dense, try DataStatistics(mean: [0], variance: 1, field: "c")]), field: "statistics")
    // the linear part applies Q block by block: Q^T then Q is the identity
    let part = try GaussianLinearPart(statistics: joint, kind: .gaussian)
    let v: [Double] = [1, -2, 3, 0.5]
    XCTAssertEqual(part.toEigen(v), [-2, 1, 3, 0.5])
    XCTAssertEqual(part.fromEigen(part.toEigen(v)), v)
    // the isotropic form takes each block's tr Sigma / d
    XCTAssertEqual(try GaussianLinearPart(statistics: joint, kind: .isotropic).variances, [1.25, 1.25, 0.7, 0.7])
  }

  func testWithDataStatisticsChecksTheModel() throws {
    let model = try MorphFixtures.mixture()
    let statistics = try model.dataStatistics(z: [])
    let paired = try WithDataStatistics(model, statistics: statistics)
    XCTAssertEqual(try paired.dataStatistics(z: []), statistics)
    var rng = SeededGenerator(seed: 1)
    let x = rng.normals(64)
    XCTAssertEqual(try paired.eps(x, z: [], t: 0.5, batch: 1), try model.eps(x, z: [], t: 0.5, batch: 1))
    XCTAssertThrowsInvalid(try WithDataStatistics(model, statistics: DataStatistics(mean: [0], variance: 1, field: "s")), field: "statistics")
    var data = MorphFixtures.data
    data.condition = true
    data.zDimension = 3
    XCTAssertThrowsInvalid(try WithDataStatistics(ImageMixture.build(data), statistics: statistics), field: "statistics")
  }
}
