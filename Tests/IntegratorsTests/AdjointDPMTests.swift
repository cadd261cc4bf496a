import DiffusionCore
import Foundation
import ToyModels
import XCTest

@testable import Integrators

/// AdjointDPM (continuous adjoint in rho = sigma / alpha with fixed-step RK; docs/gaussian-linear-part.md#adjointdpm).
final class AdjointDPMTests: XCTestCase {
  struct Setup {
    let model: GaussianMixture
    let forward: ReferenceAdjoint.Forward
    let exact: GradientResult
    let aX0: [Double]
    let z = Conditioning.constant(SolverFixtures.z)
  }

  func setup() throws -> Setup {
    let model = try SolverFixtures.mixture()
    let reference = try ReferenceAdjoint(rtol: 1e-12, atol: 1e-12)
    let loss = try SolverFixtures.loss()
    let z = Conditioning.constant(SolverFixtures.z)
    let forward = try reference.sampleODE(model: model, schedule: .vpLinear, T: 1, tEps: 1e-3, xT: SolverFixtures.xT, z: z)
    let exact = try reference.gradient(model: model, schedule: .vpLinear, T: 1, tEps: 1e-3, xT: SolverFixtures.xT, z: z, loss: loss)
    return Setup(model: model, forward: forward, exact: exact, aX0: loss.gradient(forward.x0))
  }

  /// Euler in rho is AdjointDEIS-1: `(sigma_s/alpha_s)(e^h - 1) = e^{-lambda_t} - e^{-lambda_s} = -(rho_s - rho_t)`.
  func testEulerIsAdjointDEIS1() throws {
    let s = try setup()
    let grid = try TimeGrid(schedule: .vpLinear, tEps: 1e-3, T: 1, steps: 17, spacing: .timeUniform)
    let dpm = try AdjointDPM(scheme: .euler).solve(model: s.model, schedule: .vpLinear, grid: grid, states: .exact(s.forward.state), z: s.z, aX0: s.aX0)
    let deis = try AdjointDEIS(order: 1).solve(model: s.model, grid: grid, states: .exact(s.forward.state), z: s.z, aX0: s.aX0)
    XCTAssertLessThan(SolverFixtures.relativeError(dpm.ax, deis.ax), 1e-12)
    XCTAssertLessThan(SolverFixtures.relativeError(dpm.az[0], deis.az[0]), 1e-12)
    XCTAssertLessThan(SolverFixtures.relativeError(dpm.atheta, deis.atheta), 1e-12)
    XCTAssertEqual(dpm.evaluations.vjp, 17)
  }

  /// Orders 1, 2, 4 (error ratio between M = 160 and 320, uniform in lambda), VJPs per step 1, 2, 4; exact and
  /// backsolved states.
  func testOrdersAndCost() throws {
    let s = try setup()
    for (scheme, order) in [(AdjointDPMScheme.euler, 1.0), (.midpoint, 2.0), (.rk4, 4.0)] {
      for backsolve in [false, true] {
        var errors: [Double] = []
        for M in [160, 320] {
          let grid = try TimeGrid(schedule: .vpLinear, tEps: 1e-3, T: 1, steps: M, spacing: .lambda)
          let states: AdjointDPM.StateSource = backsolve ? .backsolve(x0: s.forward.x0) : .exact(s.forward.state)
          let a = try AdjointDPM(scheme: scheme).solve(model: s.model, schedule: .vpLinear, grid: grid, states: states, z: s.z, aX0: s.aX0)
          XCTAssertEqual(a.evaluations.vjp, M * scheme.stages)
          errors.append(SolverFixtures.relativeError(a.ax, s.exact.gradXT))
        }
        XCTAssertEqual(log2(errors[0] / errors[1]), order, accuracy: 0.2, "\(scheme) backsolve=\(backsolve): \(errors)")
      }
    }
  }
}
