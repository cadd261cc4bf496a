import DiffusionCore
import ToyModels
import XCTest

@testable import Integrators

/// With exact states (dense RK45), the AdjointDEIS error against the RK45 reference falls as M grows, for a_x(T),
/// a_z and a_theta; the precise orders are measured (and asserted) by the Convergence tests.
final class AdjointConvergenceTests: XCTestCase {
  struct Errors { var x, z, theta: Double }

  func errors(_ r: GradientResult, _ ref: GradientResult) -> Errors {
    Errors(x: SolverFixtures.relativeError(r.gradXT, ref.gradXT),
           z: SolverFixtures.relativeError(r.gradZ[0], ref.gradZ[0]),
           theta: SolverFixtures.relativeError(r.gradTheta, ref.gradTheta))
  }

  func checkFalls(_ solver: String, covariance: GaussianMixture.Covariance, schedule: NoiseSchedule, T: Double) throws {
    let model = try SolverFixtures.mixture(covariance, schedule: schedule)
    let loss = try SolverFixtures.loss()
    let z = Conditioning.constant(SolverFixtures.z)
    let problem = try GradientProblem(model: model, schedule: schedule, T: T, tEps: 1e-3, xT: SolverFixtures.xT, z: z, loss: loss)
    let reference = try MethodSpec("rk45").make().gradient(problem)
    var previous: Errors? = nil
    for m in [40, 80, 160, 320] {
      var options = GradientOptions()
      (options.samplerSteps, options.adjointSteps, options.states, options.grid) = (m, m, .exact, .lambda)
      let e = errors(try MethodSpec(solver).make(given: options).gradient(problem), reference)
      if let p = previous {
        // Each doubling of M must cut every error by at least 1.5x (order >= ~0.6): a failing solver would not.
        XCTAssertLessThan(e.x, p.x / 1.5, "\(solver) M=\(m) a_x")
        XCTAssertLessThan(e.z, p.z / 1.5, "\(solver) M=\(m) a_z")
        XCTAssertLessThan(e.theta, p.theta / 1.5, "\(solver) M=\(m) a_theta")
      }
      previous = e
    }
  }

  func testAdjointDEIS1Diagonal() throws { try checkFalls("adjointdeis-1", covariance: .diagonal, schedule: .vpLinear, T: 1) }
  func testAdjointDEIS2MFullCovariance() throws { try checkFalls("adjointdeis-2m", covariance: .full, schedule: .vpCosine, T: 0.99) }
  func testAdjointDEIS2MPhi2Diagonal() throws { try checkFalls("adjointdeis-2m-phi2", covariance: .diagonal, schedule: .vpLinear, T: 1) }
}

/// Scheduled conditioning (the paper's appendix, Theorem 2.2): one z per sampling step. With exact states and adjoint
/// grids nested in the sampling grid, every step's dL/dz_i converges to the RK45 reference's as M grows.
final class ScheduledConditioningTests: XCTestCase {
  func testPerStepGradientsConverge() throws {
    let model = try SolverFixtures.mixture()
    let loss = try SolverFixtures.loss()
    let n = 5
    let rows: [[Double]] = (0..<n).map { (i: Int) -> [Double] in
      let u = Double(i)
      return [0.3 - 0.1 * u, -0.5 + 0.2 * u]
    }
    let z = Conditioning.perStep(rows)
    let problem = try GradientProblem(model: model, schedule: .vpLinear, T: 1, tEps: 1e-3, xT: SolverFixtures.xT, z: z, loss: loss)
    var referenceOptions = GradientOptions()
    (referenceOptions.samplerSteps, referenceOptions.grid) = (n, .lambda)
    let reference = try MethodSpec("rk45").make(given: referenceOptions).gradient(problem)
    XCTAssertEqual(reference.gradZ.count, n)
    var previous = Double.infinity
    for m in [40, 80, 160, 320] {
      var options = GradientOptions()
      (options.samplerSteps, options.adjointSteps, options.states, options.grid) = (n, m, .exact, .lambda)
      let r = try MethodSpec("adjointdeis-2m").make(given: options).gradient(problem)
      let error = SolverFixtures.relativeError(r.gradZ.flatMap { $0 }, reference.gradZ.flatMap { $0 })
      // Each doubling must cut the error by at least 1.5x (it is second order away from the z jumps, first at them).
      XCTAssertLessThan(error, previous / 1.5, "M=\(m)")
      previous = error
    }
    XCTAssertLessThan(previous, 1e-2)
  }
}
