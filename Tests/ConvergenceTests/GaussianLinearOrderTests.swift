import DiffusionCore
import Integrators
import ToyModels
import XCTest

@testable import Convergence

/// The adjoint with a Gaussian linear part keeps the order of its polynomial in lambda: 1 for k = 1, 2 for 2M
/// (docs/gaussian-linear-part.md#orders), on Theorem 1's two models, with exact states, on M = 40 ... 2560 uniform in
/// lambda, fitted with the same rule and asserted in the same bands as Theorem 1's tests ([0.9, 1.15], [1.85, 2.2]).
final class GaussianLinearOrderTests: XCTestCase {
  func assertOrders(_ problem: StudyProblem<GaussianMixture>, file: StaticString = #filePath, line: UInt = #line) throws {
    let p = problem.problem
    let reference = try ReferenceAdjoint(rtol: 1e-12, atol: 1e-12, wantParameters: true)
    let exact = try reference.gradient(model: p.model, schedule: p.schedule, T: p.T, tEps: p.tEps, xT: p.xT, z: p.z, loss: p.loss)
    let forward = try reference.sampleODE(model: p.model, schedule: p.schedule, T: p.T, tEps: p.tEps, xT: p.xT, z: p.z)
    let statistics = try p.model.dataStatistics(z: p.z.z(step: 0))
    let aX0 = p.loss.gradient(forward.x0)
    for kind in [LinearPartKind.isotropic, .gaussian] {
      for (order, band) in [(1, 0.9...1.15), (2, 1.85...2.2)] {
        let solver = try GaussianLinearAdjoint(order: order, linearPart: GaussianLinearPart(statistics: statistics, kind: kind))
        var points: [[ErrorPoint]] = [[], [], []]
        for M in [40, 80, 160, 320, 640, 1280, 2560] {
          let grid = try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: M, spacing: .lambda)
          let a = try solver.solve(model: p.model, grid: grid, states: .exact(forward.state), z: p.z, aX0: aX0)
          let errors = [relativeError(a.ax, exact.gradXT), relativeError(a.az[0], exact.gradZ[0]), relativeError(a.atheta, exact.gradTheta)]
          for q in 0..<3 { points[q].append(ErrorPoint(steps: M, hMax: grid.hMax, error: errors[q])) }
        }
        for (q, name) in ["a_x", "a_z", "a_theta"].enumerated() {
          let fit = try OrderFit.fit(points[q])
          let fitted = try XCTUnwrap(fit.order, "\(kind) k=\(order) \(name): no fit (\(fit.usageSummary))", file: file, line: line)
          print("order \(kind) k=\(order) \(name): \(fitted) \(fit.line!.slopeInterval) (\(fit.usageSummary))")
          XCTAssertTrue(band.contains(fitted), "\(kind) k=\(order) \(name): order \(fitted) not in \(band) (\(fit.usageSummary))",
                        file: file, line: line)
        }
      }
    }
  }

  func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    var n = 0.0, d = 0.0
    for i in 0..<b.count { n += (a[i] - b[i]) * (a[i] - b[i]); d += b[i] * b[i] }
    return (n / d).squareRoot()
  }

  func testOrdersDiagonalVPLinear() throws { try assertOrders(TheoremOneTests.diagonal()) }
  func testOrdersFullCovarianceVPCosine() throws { try assertOrders(TheoremOneTests.fullCovariance()) }
}
