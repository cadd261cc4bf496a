import DiffusionCore
import TestSupport
import ToyModels
import XCTest

@testable import Integrators

/// Inverting an image to x_T (docs/reversible-solvers.md#inversion) on the 3-d test mixture: the algebraic round trip
/// is exact to rounding, and x_T alone reproduces the image as closely as the image's state is to one the sampler
/// reaches.
final class ReversibleInversionTests: XCTestCase {
  func testInvertingASampleRecoversItsStart() throws {
    let model = try SolverFixtures.mixture()
    let grid = try TimeGrid(schedule: .vpLinear, tEps: 1e-3, T: 1, steps: 40, spacing: .lambda)
    let z = Conditioning.constant(SolverFixtures.z)
    // (sampler, bound on the error of x_T and of the image sampled from it). Measured at N = 40: Rex-RK4 8.0e-5 and
    // 6.4e-5, Rex-midpoint 8.8e-3 and 6.7e-3 (Rex's two parts end a coupling bias apart, so (x_0, x_0) is nearly its
    // state); EDICT 0.30 and 0.43: its two sequences end far apart, so from the image alone it is no inversion of its
    // own samples (the algebraic round trip is still exact)
    let cases: [(any ReversibleSampler, Double?)] = [(try Rex(tableau: .rk4), 1e-3), (try Rex(tableau: .midpoint), 0.02), (try EDICT(), nil)]
    for (sampler, bound) in cases {
      var count = EvaluationCount()
      let x0 = sampler.output(try sampler.sample(xT: SolverFixtures.xT, grid: grid, schedule: .vpLinear, model: model, z: z, count: &count))
      let inversion = try ReversibleInversion(x0: x0, sampler: sampler, model: model, schedule: .vpLinear, grid: grid, z: z)
      XCTAssertLessThan(inversion.roundTripError, 1e-11, sampler.label)
      let xTError = SolverFixtures.relativeError(inversion.xT, SolverFixtures.xT)
      if let bound {
        XCTAssertLessThan(inversion.roundTripErrorFromXT, bound, sampler.label)
        XCTAssertLessThan(xTError, bound, sampler.label)
      } else {
        XCTAssertGreaterThan(xTError, 0.1, "EDICT from the image alone (measured 0.30)")
      }
    }
    XCTAssertThrowsInvalid(try ReversibleInversion(x0: [0, 0, 0], sampler: ReversibleHeun(), model: model, schedule: .vpLinear, grid: grid, z: z), field: "solver")
    XCTAssertThrowsInvalid(try ReversibleInversion(x0: [0, 0], sampler: try Rex(), model: model, schedule: .vpLinear, grid: grid, z: z), field: "image")
  }
}
