import DiffusionCore
import ToyModels
import XCTest

@testable import Integrators

final class AdjointDEISTests: XCTestCase {
  /// AdjointDEIS-1 with M = 1 is one closed-form step (docs/math.md#adjointdeis-1), written out here by hand: equal to 1e-14 relative.
  func testOneStepEqualsClosedForm() throws {
    let model = try SolverFixtures.mixture()
    let s = NoiseSchedule.vpLinear
    let (t, T) = (1e-3, 1.0)
    let grid = try TimeGrid(schedule: s, tEps: t, T: T, steps: 1, spacing: .lambda)
    let x0 = [0.2, 0.1, -0.4], a0 = [1.0, -2.0, 0.5]
    for dynamics in [Dynamics.ode, .sde] {
      let solution = try AdjointDEIS(order: 1, dynamics: dynamics).solve(
        model: model, grid: grid, states: .recorded([x0, [0, 0, 0]]), z: .constant(SolverFixtures.z), aX0: a0)
      let vjp = try model.vjp(x0, z: SolverFixtures.z, t: t, batch: 1, cotangent: a0, wantParameters: true)
      let h = s.lambda(T) - s.lambda(t)
      let k = dynamics == .ode ? 1.0 : 2.0
      let (at, aT, sT) = (s.alpha(t), s.alpha(T), s.sigma(T))
      let ax = (0..<3).map { (at / aT) * a0[$0] + k * sT * expm1(h) * (at * at / (aT * aT)) * vjp.x[$0] }
      let az = vjp.z.map { k * sT * expm1(h) * (at / aT) * $0 }
      let ath = vjp.theta.map { k * sT * expm1(h) * (at / aT) * $0 }
      XCTAssertLessThan(SolverFixtures.relativeError(solution.ax, ax), 1e-14)
      XCTAssertLessThan(SolverFixtures.relativeError(solution.az[0], az), 1e-14)
      XCTAssertLessThan(SolverFixtures.relativeError(solution.atheta, ath), 1e-14)
      XCTAssertEqual(solution.evaluations.vjp, 1)
    }
  }

  /// Re-solved states (DPM-Solver-1 upwards from x_0) are DDIM inversion: with the same eps they retrace the
  /// recorded DPM-Solver-1 path to O(h) per step, and they cost no extra evaluations.
  func testResolvedStatesCostNothingExtra() throws {
    let model = try SolverFixtures.mixture()
    let grid = try TimeGrid(schedule: .vpLinear, tEps: 1e-3, T: 1, steps: 20, spacing: .lambda)
    let path = try Sampler(kind: .dpmSolver1).sample(model: model, grid: grid, xT: SolverFixtures.xT, z: .constant(SolverFixtures.z))
    for order in [1, 2] {
      let sol = try AdjointDEIS(order: order).solve(model: model, grid: grid, states: .resolved(x0: path.x0, order: order), z: .constant(SolverFixtures.z), aX0: [1, 0, 0])
      XCTAssertEqual(sol.evaluations, EvaluationCount(eps: 0, vjp: 20))
      XCTAssertTrue(sol.ax.allSatisfy(\.isFinite))
    }
  }

  func testRejectsBadInput() throws {
    let model = try SolverFixtures.mixture()
    let grid = try TimeGrid(schedule: .vpLinear, tEps: 1e-3, T: 1, steps: 4, spacing: .lambda)
    XCTAssertThrowsError(try AdjointDEIS(order: 3))
    XCTAssertThrowsError(try AdjointDEIS(order: 1).solve(model: model, grid: grid, states: .recorded([[0, 0, 0]]), z: .constant(SolverFixtures.z), aX0: [1, 0, 0]))
    XCTAssertThrowsError(try AdjointDEIS(order: 1).solve(model: model, grid: grid, states: .resolved(x0: [0, 0, 0], order: 1), z: .constant([1]), aX0: [1, 0, 0]))
    XCTAssertThrowsError(try AdjointDEIS(order: 1).solve(model: model, grid: grid, states: .resolved(x0: [0, 0, 0], order: 1), z: .perStep([[0, 0]]), aX0: [1, 0, 0]))
  }
}
