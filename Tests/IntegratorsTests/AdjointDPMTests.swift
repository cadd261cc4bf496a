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

  /// Least-squares slope of log(error) on log(h_max) (docs/math.md#order-fit, without its point-dropping rules: every
  /// point here is asymptotic and above round-off, which the test checks by the local slopes).
  static func slope(_ h: [Double], _ e: [Double]) -> Double {
    let x = h.map { log($0) }, y = e.map { log($0) }
    let mx = x.reduce(0, +) / Double(x.count), my = y.reduce(0, +) / Double(y.count)
    var sxy = 0.0, sxx = 0.0
    for i in 0..<x.count { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) * (x[i] - mx) }
    return sxy / sxx
  }

  /// The orders of the two configurations against the RK45 reference gradient, N = M = 10 ... 160 on the lambda grid:
  /// the authors' (`recorded`: forward by the same RK4, the 3/8 rule, on the grid; the adjoint steps back with y reset
  /// to the forward value at each grid time) converges at fourth order, ours from DDIM's x_0 (`resolved`) at first.
  /// Measured (this problem, dL/dx_T): recorded 4.0, resolved 1.0 (see docs/gaussian-linear-part.md#adjointdpm).
  func testAuthorsConfigurationIsFourthOrder() throws {
    let problem = try ToyProblem(model: SolverFixtures.mixture(), T: 1, tEps: 1e-3, xT: SolverFixtures.xT, z: .constant(SolverFixtures.z),
                                 loss: SolverFixtures.loss())
    let exact = try ReferenceAdjoint(rtol: 1e-12, atol: 1e-12).gradient(
      model: problem.model, schedule: problem.schedule, T: problem.T, tEps: problem.tEps, xT: problem.xT, z: problem.z, loss: problem.loss)
    for (states, order) in [(StateChoice.recorded, 4.0), (.resolved, 1.0)] {
      var h: [Double] = [], ex: [Double] = [], eth: [Double] = []
      for n in [10, 20, 40, 80, 160] {
        var o = GradientOptions()
        (o.samplerSteps, o.grid, o.states) = (n, .lambda, states)
        let r = try MethodSpec("adjointdpm-rk4").make(given: o).gradient(problem)
        XCTAssertEqual(r.adjoint.vjp, 4 * n)
        XCTAssertEqual(r.sampling.eps, states == .recorded ? 4 * n : n)
        h.append(try XCTUnwrap(r.hMax))
        ex.append(SolverFixtures.relativeError(r.gradXT, exact.gradXT))
        eth.append(SolverFixtures.relativeError(r.gradTheta, exact.gradTheta))
      }
      print("adjointdpm-rk4/\(states.rawValue): h \(h)\n  dL/dx_T \(ex)\n  dL/dtheta \(eth)\n  slopes \(Self.slope(h, ex)) \(Self.slope(h, eth))")
      XCTAssertEqual(Self.slope(h, ex), order, accuracy: 0.3, "\(states) dL/dx_T \(ex)")
      XCTAssertEqual(Self.slope(h, eth), order, accuracy: 0.3, "\(states) dL/dtheta \(eth)")
      XCTAssertGreaterThan(ex.last!, 1e-12, "above round-off")
    }
  }

  /// The authors' configuration with Euler is DDIM forward (Euler in rho) and AdjointDEIS-1 on DDIM's recorded states
  /// backward (y reset to the recorded value at each step start): the same numbers by two codes, with a z schedule.
  func testRecordedEulerIsAdjointDEIS1OnDDIMStates() throws {
    let rows = (0..<9).map { i in [0.1 * Double(i) - 0.2, 0.3 - 0.05 * Double(i)] }
    let problem = try ToyProblem(model: SolverFixtures.mixture(), T: 1, tEps: 1e-3, xT: SolverFixtures.xT, z: .perStep(rows),
                                 loss: SolverFixtures.loss())
    var o = GradientOptions()
    (o.samplerSteps, o.grid) = (9, .timeQuadratic)
    let dpm = try MethodSpec("adjointdpm-euler/recorded").make(given: o).gradient(problem)
    let deis = try MethodSpec("adjointdeis-1/recorded").make(given: o).gradient(problem)
    XCTAssertLessThan(SolverFixtures.relativeError(dpm.x0, deis.x0), 1e-13)
    XCTAssertLessThan(SolverFixtures.relativeError(dpm.gradXT, deis.gradXT), 1e-12)
    for i in 0..<rows.count { XCTAssertLessThan(SolverFixtures.relativeError(dpm.gradZ[i], deis.gradZ[i]), 1e-12, "z[\(i)]") }
    XCTAssertLessThan(SolverFixtures.relativeError(dpm.gradTheta, deis.gradTheta), 1e-12)
    XCTAssertEqual(dpm.sampling.eps, 9)
    XCTAssertEqual(dpm.adjoint.vjp, 9)
  }

  func testRecordedStatesMustMatchTheGrid() throws {
    let s = try setup()
    let grid = try TimeGrid(schedule: .vpLinear, tEps: 1e-3, T: 1, steps: 4, spacing: .lambda)
    XCTAssertThrowsInvalid(try AdjointDPM(scheme: .rk4).solve(model: s.model, schedule: .vpLinear, grid: grid, states: .recorded(ys: [[0, 0, 0]]), z: s.z, aX0: s.aX0), field: "states")
    XCTAssertThrowsInvalid(try AdjointDPM(scheme: .rk4).sample(model: s.model, schedule: .vpLinear, grid: grid, xT: [1, 2], z: s.z), field: "x_T")
  }
}
