import DiffusionCore
import Integrators
import ToyModels
import XCTest

@testable import Convergence

/// Theorem 1 measured: with exact states AdjointDEIS-k has global order k (the proof's claim; the poster's O(h^2)
/// for k = 1 is not what the numbers show). Two models: diagonal covariance on vp-linear, full covariance on vp-cosine.
final class TheoremOneTests: XCTestCase {
  static func diagonal() throws -> StudyProblem<GaussianMixture> {
    let model = try GaussianMixture(
      means: [[0.4, -0.2, 0.1], [-0.3, 0.5, -0.2], [0.1, -0.4, 0.5]], logits: [0.2, -0.1, 0.0],
      W: [[0.3, -0.1], [-0.2, 0.2], [0.1, 0.1]],
      logStd: [[-0.1, -0.2, -0.05], [-0.15, 0.0, -0.1], [-0.2, -0.1, 0.0]], schedule: .vpLinear)
    return StudyProblem(try ToyProblem(model: model, T: 1, tEps: 1e-3, xT: [0.3, -1.1, 0.8], z: .constant([0.4, -0.7]),
                                       loss: SquaredDistanceLoss(target: [1.0, -0.5, 0.25])))
  }

  static func fullCovariance() throws -> StudyProblem<GaussianMixture> {
    let model = try GaussianMixture(
      means: [[0.4, -0.2, 0.1], [-0.3, 0.5, -0.2], [0.1, -0.4, 0.5]], logits: [0.2, -0.1, 0.0],
      W: [[0.3, -0.1], [-0.2, 0.2], [0.1, 0.1]],
      cov: [[[0.9, 0.2, 0.0], [0.2, 0.8, 0.1], [0.0, 0.1, 0.7]], [[0.7, -0.1, 0.1], [-0.1, 0.9, 0.0], [0.1, 0.0, 0.8]],
            [[0.8, 0.0, -0.2], [0.0, 0.6, 0.1], [-0.2, 0.1, 0.9]]], schedule: .vpCosine)
    return StudyProblem(try ToyProblem(model: model, T: 0.99, tEps: 1e-3, xT: [0.3, -1.1, 0.8], z: .constant([0.4, -0.7]),
                                       loss: SquaredDistanceLoss(target: [1.0, -0.5, 0.25])))
  }

  /// Runs the solvers on M = 40...2560 and asserts each fitted order (every quantity) lies in its interval.
  /// The range starts at 40 and runs to 2560 because a_x of AdjointDEIS-1 approaches order 1 from below slowly on the
  /// diagonal model (fitted 0.89 on 40...640, 0.93 on 40...2560, 0.96 on 40...20480: a long pre-asymptotic regime).
  func assertOrders(_ problem: StudyProblem<GaussianMixture>, _ expected: [String: ClosedRange<Double>], file: StaticString = #filePath, line: UInt = #line) throws {
    let study = try ConvergenceStudy(name: "test", kind: .ode, problem: problem, solvers: expected.keys.sorted().map { try MethodSpec($0) },
                                     steps: [40, 80, 160, 320, 640, 1280, 2560])
    let result = try study.run()
    for (solver, range) in expected {
      for q in GradientQuantity.allCases {
        let fit = try result.fit(solver: solver, quantity: q)
        let order = try XCTUnwrap(fit.order, "\(solver) \(q.rawValue): no fit (\(fit.usageSummary))", file: file, line: line)
        XCTAssertTrue(range.contains(order), "\(solver) \(q.rawValue): order \(order) not in \(range) (\(fit.usageSummary))", file: file, line: line)
      }
    }
  }

  /// Exact states: AdjointDEIS-1 in [0.9, 1.15], AdjointDEIS-2M (both weights) in [1.85, 2.2].
  /// Recorded and re-solved states: the DPM-Solver-k states carry an O(h^k) error into the adjoint through a Lipschitz
  /// dependence, so the measured order stays k (asserted with the same intervals).
  func testOrdersDiagonalVPLinear() throws {
    try assertOrders(Self.diagonal(), [
      "adjointdeis-1/exact": 0.9...1.15, "adjointdeis-2m/exact": 1.85...2.2, "adjointdeis-2m-phi2/exact": 1.85...2.2,
      "adjointdeis-1/recorded": 0.9...1.15, "adjointdeis-2m/recorded": 1.85...2.2,
      "adjointdeis-1/resolved": 0.9...1.15, "adjointdeis-2m/resolved": 1.85...2.2,
    ])
  }

  func testOrdersFullCovarianceVPCosine() throws {
    try assertOrders(Self.fullCovariance(), [
      "adjointdeis-1/exact": 0.9...1.15, "adjointdeis-2m/exact": 1.85...2.2, "adjointdeis-2m-phi2/exact": 1.85...2.2,
      "adjointdeis-1/recorded": 0.9...1.15, "adjointdeis-2m/recorded": 1.85...2.2,
    ])
  }

  /// The SDE adjoint's strong order. Explained value 1: the exponential SDE step has strong order 1 for additive noise,
  /// and the adjoint, an ODE along the path (Theorem 2), inherits the O(h) error of the recorded states. Measured with
  /// these settings (M = 160...2560, 16x finer reference path, 8 paths): 0.90 [0.83, 0.98]; with 16 paths and M up to
  /// 10240 (results/convergence): 0.94. Asserted within +-0.15 of the 0.90 measured here.
  func testStrongOrderSDE() throws {
    var study = try ConvergenceStudy(name: "test-sde", kind: .sde, problem: Self.diagonal(),
                                     solvers: [MethodSpec("adjointdeis-1/recorded")], steps: [160, 320, 640, 1280, 2560])
    study.fineFactor = 16
    study.paths = 8
    let result = try study.run()
    let order = try XCTUnwrap(try result.fit(solver: "adjointdeis-1/recorded", quantity: .x).order)
    XCTAssertEqual(order, 0.90, accuracy: 0.15)
  }

  func testBadStudiesFailBeforeWork() throws {
    let p = try Self.diagonal()
    func field(_ body: () throws -> Any) -> String? {
      do { _ = try body(); return nil } catch let e as InvalidInput { return e.field } catch { return "other: \(error)" }
    }
    XCTAssertEqual(field { try ConvergenceStudy(name: "x", kind: .ode, problem: p, solvers: [MethodSpec("adjointdeis-3/exact", option: "solvers")]) }, "solvers")
    XCTAssertEqual(field { try ConvergenceStudy(name: "x", kind: .ode, problem: p, steps: []) }, "steps")
    XCTAssertEqual(field { try ConvergenceStudy(name: "x", kind: .ode, problem: p, steps: [10, 10, 20]) }, "steps")
    XCTAssertEqual(field { try ConvergenceStudy(name: "x", kind: .ode, problem: p, solvers: [MethodSpec("adjointdeis-1/exact")], seeds: 0) }, "seeds")
    XCTAssertEqual(field { try ConvergenceStudy(name: "x", kind: .ode, problem: p, solvers: [MethodSpec("adjointdeis-1/exact")], seeds: 2) }, "seeds")
    XCTAssertEqual(field { try ConvergenceStudy(name: "x", kind: .sde, problem: p, solvers: [MethodSpec("adjointdeis-1/exact")]) }, "states")
    XCTAssertEqual(field { try ConvergenceStudy(name: "x", kind: .ode, problem: p, solvers: [MethodSpec("dto/sde")]) }, "solvers")
    XCTAssertEqual(field { try ConvergenceStudy(name: "x y", kind: .ode, problem: p) }, "name")
  }

  /// A run that fails is recorded with its reason and the study goes on: here M = 2e7 passes the study's checks (made
  /// on the first M) but its grid is refused when the run builds it (more than 1e7 steps), while M = 5 succeeds.
  func testFailedRunIsRecorded() throws {
    // A run that fails while it runs (not at validation, which refuses bad options before any work): the model refuses
    // to be evaluated at one time of the M = 7 grid, which neither the M = 5 grid nor the RK45 reference ever hits.
    let base = try Self.diagonal().problem
    let grid = try TimeGrid(schedule: base.schedule, tEps: base.tEps, T: base.T, steps: 7, spacing: .lambda)
    let model = RefusesOneTime(inner: base.model, refused: grid.times[3])
    let problem = try GradientProblem(model: model, schedule: base.schedule, T: base.T, tEps: base.tEps, xT: base.xT, z: base.z,
                                      loss: base.loss)
    let study = try ConvergenceStudy(name: "x", kind: .ode, problem: StudyProblem(problem, label: "refuses", description: "test"),
                                     solvers: [MethodSpec("adjointdeis-1/recorded")], steps: [5, 7])
    let result = try study.run()
    XCTAssertEqual(result.records.count, 2)
    XCTAssertNil(result.records[0].failure)
    let failure = try XCTUnwrap(result.records[1].failure)
    XCTAssertTrue(failure.hasPrefix("eps: refused at t ="), failure)
    XCTAssertEqual(result.series(solver: "adjointdeis-1/recorded").map(\.steps), [5])  // the failed M is left out
    let csv = try result.csv.text
    XCTAssertTrue(csv.contains("failed,eps: refused at t ="), csv)
  }

}

/// The mixture, except that it throws when evaluated at exactly one time (a run-time failure for the study to record).
private struct RefusesOneTime: NoisePredictor {
  let inner: GaussianMixture
  let refused: Double
  var dataDimension: Int { inner.dataDimension }
  var conditionDimension: Int { inner.conditionDimension }
  var parameterBlocks: [ParameterBlock] { inner.parameterBlocks }
  var parameters: [Double] { inner.parameters }
  func replacingParameters(_ theta: [Double]) throws -> RefusesOneTime {
    RefusesOneTime(inner: try inner.replacingParameters(theta), refused: refused)
  }
  func eps(_ x: [Double], z: [Double], t: Double, batch: Int) throws -> [Double] {
    if t == refused { throw InvalidInput("eps", "refused at t = \(t)") }
    return try inner.eps(x, z: z, t: t, batch: batch)
  }
  func vjp(_ x: [Double], z: [Double], t: Double, batch: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP {
    if t == refused { throw InvalidInput("eps", "refused at t = \(t)") }
    return try inner.vjp(x, z: z, t: t, batch: batch, cotangent: v, wantParameters: wantParameters)
  }
}
