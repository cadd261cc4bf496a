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

  /// The largest relative distance between the states re-solved upwards from x_0 (with the sampler's own step and the
  /// eps at the re-solved states) and the sampler's recorded states, on N steps uniform in lambda.
  func resolvedDistance(_ sampler: SamplerKind, steps n: Int) throws -> Double {
    let model = try SolverFixtures.mixture()
    let grid = try TimeGrid(schedule: .vpLinear, tEps: 1e-3, T: 1, steps: n, spacing: .lambda)
    let path = try Sampler(kind: sampler).sample(model: model, grid: grid, xT: SolverFixtures.xT, z: .constant(SolverFixtures.z))
    var walker = try StateWalker(source: .resolved(x0: path.x0, sampler: sampler), grid: grid, dimension: 3)
    var worst = 0.0
    for i in 0..<n {
      let x = try walker.state(i)
      worst = max(worst, SolverFixtures.relativeError(x, path.states[i]))
      walker.advance(from: i, eps: try model.eps(x, z: SolverFixtures.z, t: grid.times[i], batch: 1))
    }
    return worst
  }

  /// Re-solved states are the sampler run backwards (DDIM inversion for DPM-Solver-1): each step differs from the
  /// recorded one by O(h^{k+1}), so the states drift from the recorded path by O(h^k) — asserted by halving h:
  /// the distance falls by a factor within [1.6, 2.6] for k = 1 (measured 0.205, 0.108, 0.055 at N = 20, 40, 80)
  /// and by more than 3 for k = 2. They cost no extra evaluations: the adjoint's VJPs return eps.
  func testResolvedStatesTrackTheRecordedPathAtTheSamplersOrder() throws {
    let first = try [20, 40, 80].map { try resolvedDistance(.dpmSolver1, steps: $0) }
    XCTAssertLessThan(first[2], 0.1, "DPM-Solver-1 re-solved states are far from the recorded path: \(first)")
    for (a, b) in zip(first, first.dropFirst()) { XCTAssertTrue((1.6...2.6).contains(a / b), "DPM-Solver-1: \(first)") }
    let second = try [20, 40, 80].map { try resolvedDistance(.dpmSolver2M, steps: $0) }
    for (a, b) in zip(second, second.dropFirst()) { XCTAssertGreaterThan(a / b, 3, "DPM-Solver-2M: \(second)") }

    let model = try SolverFixtures.mixture()
    let grid = try TimeGrid(schedule: .vpLinear, tEps: 1e-3, T: 1, steps: 20, spacing: .lambda)
    let path = try Sampler(kind: .dpmSolver1).sample(model: model, grid: grid, xT: SolverFixtures.xT, z: .constant(SolverFixtures.z))
    for sampler in [SamplerKind.dpmSolver1, .dpmSolver2M, .dpmSolver3M] {
      let sol = try AdjointDEIS(rule: sampler.rule).solve(model: model, grid: grid, states: .resolved(x0: path.x0, sampler: sampler),
                                                          z: .constant(SolverFixtures.z), aX0: [1, 0, 0])
      XCTAssertEqual(sol.evaluations, EvaluationCount(eps: 0, vjp: 20))
      XCTAssertTrue(sol.ax.allSatisfy(\.isFinite))
    }
  }

  func testRejectsBadInput() throws {
    let model = try SolverFixtures.mixture()
    let grid = try TimeGrid(schedule: .vpLinear, tEps: 1e-3, T: 1, steps: 4, spacing: .lambda)
    XCTAssertThrowsInvalid(try AdjointDEIS(order: 3), field: "solver")
    XCTAssertThrowsInvalid(try AdjointDEIS(order: 1).solve(model: model, grid: grid, states: .resolved(x0: [0, 0, 0], sampler: .sde), z: .constant(SolverFixtures.z), aX0: [1, 0, 0]), field: "states")
    XCTAssertThrowsInvalid(try AdjointDEIS(order: 1).solve(model: model, grid: grid, states: .recorded([[0, 0, 0]]), z: .constant(SolverFixtures.z), aX0: [1, 0, 0]), field: "states")
    XCTAssertThrowsInvalid(try AdjointDEIS(order: 1).solve(model: model, grid: grid, states: .resolved(x0: [0, 0, 0], sampler: .dpmSolver1), z: .constant([1]), aX0: [1, 0, 0]), field: "z")
    XCTAssertThrowsInvalid(try AdjointDEIS(order: 1).solve(model: model, grid: grid, states: .resolved(x0: [0, 0, 0], sampler: .dpmSolver1), z: .perStep([[0, 0]]), aX0: [1, 0, 0]), field: "z")
  }
}
