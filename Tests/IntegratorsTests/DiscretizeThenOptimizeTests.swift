import DiffusionCore
import ToyModels
import XCTest

@testable import Integrators

/// DTO is the exact gradient of the discrete sampler: it must match central differences of the sampler itself.
final class DiscretizeThenOptimizeTests: XCTestCase {
  /// Fourth-order FD, step 3e-3, on x_T, z and theta; tolerance 1e-7 relative. The step is large because the SDE
  /// case has a loss ~1e3 with gradients ~1e2: round-off (~1e-16 L / h) swamps smaller steps there (measured: at
  /// h = 1e-5 the z error is 2e-5, at 3e-3 it is 2e-9), while truncation (h^4) stays far below the tolerance.
  func checkAgainstFiniteDifferences(_ kind: SamplerKind, z: Conditioning, checkpoint: CheckpointPolicy = .all, file: StaticString = #filePath, line: UInt = #line) throws {
    let model = try SolverFixtures.mixture()
    let grid = try TimeGrid(schedule: .vpLinear, tEps: 1e-3, T: 1, steps: 6, spacing: .lambda)
    let noise = kind.isSDE ? try NoiseSource.seeded(3).draws(grid: grid, dimension: 3) : []
    let loss = try SolverFixtures.loss()
    let dto = try DiscretizeThenOptimize(sampler: kind, checkpoint: checkpoint)
    let result = try dto.gradient(model: model, grid: grid, xT: SolverFixtures.xT, z: z, noise: noise, loss: loss)
    let sampler = Sampler(kind: kind)
    func lossOf(_ m: GaussianMixture, _ xT: [Double], _ z: Conditioning) throws -> Double {
      loss.value(try sampler.sample(model: m, grid: grid, xT: xT, z: z, noise: noise).x0)
    }
    let h = 3e-3
    let fdX = try SolverFixtures.centralGradient(SolverFixtures.xT, step: h) { try lossOf(model, $0, z) }
    XCTAssertLessThan(SolverFixtures.relativeError(result.gradXT, fdX), 1e-7, "x_T \(kind)", file: file, line: line)
    switch z {
    case let .constant(z0):
      let fdZ = try SolverFixtures.centralGradient(z0, step: h) { try lossOf(model, SolverFixtures.xT, .constant($0)) }
      XCTAssertLessThan(SolverFixtures.relativeError(result.gradZ[0], fdZ), 1e-7, "z \(kind)", file: file, line: line)
    case let .perStep(rows):
      for i in 0..<rows.count {
        let fdZ = try SolverFixtures.centralGradient(rows[i], step: h) { zi in
          var r = rows; r[i] = zi
          return try lossOf(model, SolverFixtures.xT, .perStep(r))
        }
        XCTAssertLessThan(SolverFixtures.relativeError(result.gradZ[i], fdZ), 1e-7, "z[\(i)] \(kind)", file: file, line: line)
      }
    }
    let fdTheta = try SolverFixtures.centralGradient(model.parameters, step: h) {
      try lossOf(model.replacingParameters($0), SolverFixtures.xT, z)
    }
    XCTAssertLessThan(SolverFixtures.relativeError(result.gradTheta, fdTheta), 1e-7, "theta \(kind)", file: file, line: line)
    XCTAssertEqual(result.adjoint.vjp, grid.steps)
  }

  func testDPMSolver1() throws { try checkAgainstFiniteDifferences(.dpmSolver1, z: .constant(SolverFixtures.z)) }
  func testDPMSolver2M() throws { try checkAgainstFiniteDifferences(.dpmSolver2M, z: .constant(SolverFixtures.z)) }
  /// The three-deep history: each eps enters three steps, so its cotangent sums three transposed coefficients.
  func testDPMSolver3M() throws {
    try checkAgainstFiniteDifferences(.dpmSolver3M, z: .constant(SolverFixtures.z))
    try checkAgainstFiniteDifferences(.dpmSolver3M, z: .constant(SolverFixtures.z), checkpoint: .every(4))
    let rows: [[Double]] = (0..<6).map { (i: Int) -> [Double] in [0.1 * Double(i) - 0.2, 0.3 - 0.05 * Double(i)] }
    try checkAgainstFiniteDifferences(.dpmSolver3M, z: .perStep(rows))
  }
  func testSDEWithFixedNoise() throws { try checkAgainstFiniteDifferences(.sde, z: .constant(SolverFixtures.z)) }
  func testScheduledConditioning() throws {
    let rows = (0..<6).map { i in [0.1 * Double(i) - 0.2, 0.3 - 0.05 * Double(i)] }
    try checkAgainstFiniteDifferences(.dpmSolver2M, z: .perStep(rows))
  }

  /// Checkpointing changes memory, not the result: equal to the O(N) pass to 1e-13 relative, with fewer stored states.
  func testCheckpointedEqualsFullStorage() throws {
    let model = try SolverFixtures.mixture(.full, schedule: .vpCosine)
    let grid = try TimeGrid(schedule: .vpCosine, tEps: 1e-3, T: 0.99, steps: 25, spacing: .timeQuadratic)
    let loss = try SolverFixtures.loss()
    for kind in SamplerKind.allCases {
      let noise = kind.isSDE ? try NoiseSource.seeded(11).draws(grid: grid, dimension: 3) : []
      let full = try DiscretizeThenOptimize(sampler: kind).gradient(model: model, grid: grid, xT: SolverFixtures.xT, z: .constant(SolverFixtures.z), noise: noise, loss: loss)
      let cp = try DiscretizeThenOptimize(sampler: kind, checkpoint: .every(5)).gradient(model: model, grid: grid, xT: SolverFixtures.xT, z: .constant(SolverFixtures.z), noise: noise, loss: loss)
      XCTAssertLessThan(SolverFixtures.relativeError(cp.gradXT, full.gradXT), 1e-13, "\(kind)")
      XCTAssertLessThan(SolverFixtures.relativeError(cp.gradTheta, full.gradTheta), 1e-13, "\(kind)")
      XCTAssertLessThanOrEqual(cp.statistics["checkpoint_states"]!, 5 + 4)
      XCTAssertEqual(full.statistics["checkpoint_states"]!, 25)
      // in d-vectors: each kept state also holds the k - 1 eps outputs its next step needs; full storage none
      XCTAssertLessThanOrEqual(cp.statistics["stored_states"]!, 5 * kind.rule.order + 4)
      XCTAssertEqual(full.statistics["stored_states"]!, 25)
    }
  }

  func testRejectsBadInput() throws {
    let model = try SolverFixtures.mixture()
    let grid = try TimeGrid(schedule: .vpLinear, tEps: 1e-3, T: 1, steps: 4, spacing: .lambda)
    let loss = try SolverFixtures.loss()
    XCTAssertThrowsInvalid(try DiscretizeThenOptimize(sampler: .dpmSolver1, checkpoint: .every(0)), field: "checkpoint")
    XCTAssertThrowsInvalid(try DiscretizeThenOptimize(sampler: .sde).gradient(model: model, grid: grid, xT: SolverFixtures.xT, z: .constant(SolverFixtures.z), noise: [], loss: loss), field: "noise")
    XCTAssertThrowsInvalid(try DiscretizeThenOptimize(sampler: .dpmSolver1).gradient(model: model, grid: grid, xT: [1, 2], z: .constant(SolverFixtures.z), loss: loss), field: "x_T")
    XCTAssertThrowsInvalid(try DiscretizeThenOptimize(sampler: .dpmSolver1).gradient(model: model, grid: grid, xT: SolverFixtures.xT, z: .perStep([[0, 0]]), loss: loss), field: "z")
  }
}
