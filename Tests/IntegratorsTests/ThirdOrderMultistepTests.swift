import DiffusionCore
import ToyModels
import XCTest

@testable import Integrators

/// DPM-Solver-3M and AdjointDEIS-3M against the RK45 reference they share no code with.
final class ThirdOrderMultistepTests: XCTestCase {
  func problem() throws -> ToyProblem {
    try ToyProblem(model: SolverFixtures.mixture(), T: 1, tEps: 1e-3, xT: SolverFixtures.xT, z: .constant(SolverFixtures.z),
                   loss: SolverFixtures.loss())
  }

  /// Relative errors of x_0 of `sampler` against the RK45 solution of the probability-flow ODE at N = 20 ... 320.
  func samplerErrors(_ sampler: SamplerKind) throws -> [Double] {
    let p = try problem()
    let exact = try ReferenceAdjoint(rtol: 1e-13, atol: 1e-13).sampleODE(model: p.model, schedule: p.schedule, T: p.T, tEps: p.tEps, xT: p.xT, z: p.z).x0
    return try [20, 40, 80, 160, 320].map { n in
      let grid = try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: n, spacing: .lambda)
      return SolverFixtures.relativeError(try Sampler(kind: sampler).sample(model: p.model, grid: grid, xT: p.xT, z: p.z).x0, exact)
    }
  }

  /// Relative errors of a_x(T) of `solver` with exact states against the RK45 adjoint at M = 20 ... 320.
  func adjointErrors(_ solver: String) throws -> [Double] {
    let p = try problem()
    var referenceOptions = GradientOptions()
    (referenceOptions.rtol, referenceOptions.atol) = (1e-13, 1e-13)
    let reference = try MethodSpec("rk45").make(given: referenceOptions).gradient(p)
    return try [20, 40, 80, 160, 320].map { m in
      var o = GradientOptions()
      (o.samplerSteps, o.states, o.grid) = (m, .exact, .lambda)
      return SolverFixtures.relativeError(try MethodSpec(solver).make(given: o).gradient(p).gradXT, reference.gradXT)
    }
  }

  static func orders(_ e: [Double]) -> [Double] { zip(e, e.dropFirst()).map { log2($0 / $1) } }

  /// DPM-Solver-3M with DPM-Solver's weights is a second-order method: its D2 = (D1_0 - D1_1)/(r_0 + r_1) estimates
  /// h^2 g''/2, weighted by h phi_3(h) instead of the Taylor term's 2 h phi_3(h), which leaves an O(h^3) local error.
  /// Measured on N = 20 ... 320 (lambda grid): errors 2.6e-3 ... 8.5e-6, successive orders 2.20, 2.06, 2.01, 2.00, and
  /// 2.4 to 3.1 times below DPM-Solver-2M's (the same model with the factor 2 restored measured orders 3.2, 2.8, 2.8, 2.9).
  /// Asserted: every successive order in [1.8, 2.4], and below 2M's error at every N.
  func testDPMSolver3MIsSecondOrderAndBeats2M() throws {
    let e = try samplerErrors(.dpmSolver3M)
    let two = try samplerErrors(.dpmSolver2M)
    for (i, order) in Self.orders(e).enumerated() { XCTAssertTrue((1.8...2.4).contains(order), "order \(order) at step \(i): \(e)") }
    for (a, b) in zip(e, two) { XCTAssertLessThan(a, b, "3M \(e) vs 2M \(two)") }
  }

  /// AdjointDEIS-3M with exact states is third order once the steps are small enough: measured a_x(T) errors 136 (M = 20:
  /// h ~ 0.42 in lambda, where the quadratic extrapolation is unstable), 0.23, 0.022, 0.0025, 0.00029 (M = 40 ... 320),
  /// successive orders 3.35, 3.18, 3.09 from M = 40. Asserted: those orders in [2.8, 3.6], and the error at M = 320 below 1e-3.
  func testAdjointDEIS3MIsThirdOrderWithExactStates() throws {
    let e = try adjointErrors("adjointdeis-3m")
    for (i, order) in Self.orders(Array(e.dropFirst())).enumerated() {
      XCTAssertTrue((2.8...3.6).contains(order), "order \(order) at step \(i): \(e)")
    }
    XCTAssertLessThan(e.last!, 1e-3, "\(e)")
  }

  /// The registry's 3M entries: adjointdeis-3m pairs with dpm-solver-3m, takes no weight, and runs on recorded states.
  func testRegistryEntries() throws {
    let m = try XCTUnwrap(try MethodSpec("adjointdeis-3m").make() as? AdjointDEISMethod)
    XCTAssertEqual(m.sampler, .dpmSolver3M)
    XCTAssertEqual(m.label, "adjointdeis-3m/ode/recorded")
    var o = GradientOptions()
    o.weight = .phi2
    XCTAssertThrowsError(try MethodSpec("adjointdeis-3m").make(given: o)) { XCTAssertEqual(($0 as? InvalidInput)?.field, "weight") }
    o = GradientOptions()
    o.samplerSteps = 12
    let r = try MethodSpec("adjointdeis-3m").make(given: o).gradient(try problem())
    XCTAssertEqual(r.sampling, EvaluationCount(eps: 12))
    XCTAssertEqual(r.adjoint, EvaluationCount(vjp: 12))
    XCTAssertTrue(r.gradXT.allSatisfy(\.isFinite))
  }
}
