import DiffusionCore
import TestSupport
import ToyModels
import XCTest

@testable import Integrators

/// Gradients on flow matching and EDM (docs/math.md#beyond-vp, #noise-end): a single Gaussian whose exact gradient is
/// closed form, every registered method on every new schedule (a finite gradient, or a refusal naming the option), and
/// the data-prediction form of AdjointDEIS at the pure-noise end.
final class BeyondVPGradientTests: XCTestCase {
  static let mu = [0.5, -0.3], logStd = [-0.2, 0.1], xT = [0.7, -1.2], target = [1.0, 0.5]

  static func gaussian(_ schedule: NoiseSchedule, T: Double, tEps: Double) throws -> ToyProblem {
    let model = try GaussianMixture(means: [mu], logits: [0], W: [], logStd: [logStd], schedule: schedule)
    return try ToyProblem(model: model, T: T, tEps: tEps, xT: xT, z: .constant([]), loss: SquaredDistanceLoss(target: target))
  }

  /// For N(mu, diag(s^2)) data the probability-flow map is linear: `x_0 = a_e mu + (D_e/D_T)(x_T - a_T mu)` with
  /// `D_t = sqrt(a_t^2 s^2 + sigma_t^2)`, so dL/dx_T, dL/dmu and dL/dlog s are closed form (logits: 0).
  static func exactGradient(_ p: ToyProblem) -> (x: [Double], theta: [Double]) {
    let s = p.schedule
    let (aE, aT, sE, sT) = (s.alpha(p.tEps), s.alpha(p.T), s.sigma(p.tEps), s.sigma(p.T))
    var gx = [Double](), gmu = [Double](), glog = [Double]()
    for i in 0..<2 {
      let v = exp(2 * logStd[i])
      let (dE, dT) = ((aE * aE * v + sE * sE).squareRoot(), (aT * aT * v + sT * sT).squareRoot())
      let x0 = aE * mu[i] + dE / dT * (xT[i] - aT * mu[i])
      let g = x0 - target[i]
      gx.append(dE / dT * g)
      gmu.append((aE - dE / dT * aT) * g)
      glog.append(g * (xT[i] - aT * mu[i]) * (aE * aE * v / dE / dT - dE * aT * aT * v / (dT * dT * dT)))
    }
    return (gx, gmu + [0] + glog)
  }

  func gradient(_ spec: String, _ p: ToyProblem, steps: Int? = nil, grid: GridSpacing? = nil) throws -> GradientResult {
    var o = GradientOptions()
    (o.samplerSteps, o.adjointSteps, o.grid) = (steps, steps, grid)
    return try MethodSpec(spec).make(given: o).gradient(p)
  }

  /// RK45 (finite at alpha_T = 0 in its velocity form) matches the closed form to 1e-8 on flow matching from T = 1 and
  /// on EDM; DTO and AdjointDEIS-1/2M in the data form converge to it (error at N = 320 below a tenth of N = 20's).
  func testSingleGaussianClosedForm() throws {
    for p in [try Self.gaussian(.flowMatching, T: 1, tEps: 1e-3), try Self.gaussian(.edm, T: 80, tEps: 0.002)] {
      let exact = Self.exactGradient(p)
      let reference = try gradient("rk45", p)
      XCTAssertLessThan(SolverFixtures.relativeError(reference.gradXT, exact.x), 1e-8, p.schedule.name)
      XCTAssertLessThan(SolverFixtures.relativeError(reference.gradTheta, exact.theta), 1e-8, p.schedule.name)
      let grid: GridSpacing = p.schedule.kind == .edm ? .karras : .timeUniform
      for spec in ["dto", "adjointdeis-1/exact/data", "adjointdeis-2m/exact/data", "adjointdeis-1/data"] {
        let coarse = SolverFixtures.relativeError(try gradient(spec, p, steps: 20, grid: grid).gradXT, exact.x)
        let fine = SolverFixtures.relativeError(try gradient(spec, p, steps: 320, grid: grid).gradXT, exact.x)
        XCTAssertLessThan(fine, coarse / 10, "\(spec) on \(p.schedule.name): \(coarse) -> \(fine)")
      }
    }
  }

  /// The Gaussian-linear adjoint is exact for Gaussian data at any M on any schedule (its linear part is the data's,
  /// docs/gaussian-linear-part.md, with sigma(lambda) = sigma(t(lambda)) off VP), and so is its sampler (DTO-GL and the
  /// adjoint on its recorded states): M = 3, lambda grid.
  func testGaussianLinearAdjointExactForGaussianData() throws {
    for p in [try Self.gaussian(.flowMatching, T: 0.99, tEps: 1e-3), try Self.gaussian(.edm, T: 80, tEps: 0.002)] {
      let exact = Self.exactGradient(p)
      for spec in ["adjointdeis-gl-1/exact", "adjointdeis-gl-2m/exact", "dto-gl", "adjointdeis-gl-2m/recorded"] {
        let r = try gradient(spec, p, steps: 3, grid: .lambda)
        XCTAssertLessThan(SolverFixtures.relativeError(r.gradXT, exact.x), 1e-8, "\(spec) on \(p.schedule.name)")
      }
    }
  }

  /// The data-form step is exact for data that is a point (eps = (x - alpha x_0)/sigma): a_x(s) = (sigma_t/sigma_s) a_x(t)
  /// whatever the step, including the one ending at alpha = 0. On t in [0.6, 1] (lambda < 0 throughout, so every step
  /// takes the data form) AdjointDEIS-1/data gives (t_eps / T) dL/dx_0 at N = 7.
  func testDataFormIsExactForAPointMass() throws {
    let model = try GaussianMixture(means: [[0.2, 0.4]], logits: [0], W: [], logStd: [[-30, -30]], schedule: .flowMatching)
    let p = try ToyProblem(model: model, T: 1, tEps: 0.6, xT: Self.xT, z: .constant([]), loss: SquaredDistanceLoss(target: Self.target))
    let r = try gradient("adjointdeis-1/exact/data", p, steps: 7, grid: .timeUniform)
    let x0 = (0..<2).map { 0.6 * Self.xT[$0] + 0.4 * [0.2, 0.4][$0] }
    let expected = (0..<2).map { 0.6 * (x0[$0] - Self.target[$0]) }
    XCTAssertLessThan(SolverFixtures.relativeError(r.gradXT, expected), 1e-9)
  }

  /// Every registered method on flow matching from T = 1 and T = 0.99 and on EDM: a finite gradient, or (only the
  /// methods listed) a refusal naming `solver` before any work.
  func testEveryMethodRunsOrRefuses() throws {
    let cases: [(ToyProblem, Set<String>)] = [
      (try ToyProblem(model: SolverFixtures.mixture(schedule: .flowMatching), T: 1, tEps: 1e-3, xT: SolverFixtures.xT,
                      z: .constant(SolverFixtures.z), loss: SolverFixtures.loss()),
       ["rex-euler", "rex-midpoint", "rex-rk4", "reversible-heun", "bdia", "edict", "adjointdpm-euler", "adjointdpm-midpoint",
        "adjointdpm-rk4", "adjointdeis-gl-1", "adjointdeis-gl-2m", "adjointdeis-gl-3m", "dto-gl"]),
      (try ToyProblem(model: SolverFixtures.mixture(schedule: .flowMatching), T: 0.99, tEps: 1e-3, xT: SolverFixtures.xT,
                      z: .constant(SolverFixtures.z), loss: SolverFixtures.loss()),
       []),
      (try ToyProblem(model: SolverFixtures.mixture(schedule: .edm), T: 80, tEps: 0.002, xT: SolverFixtures.xT,
                      z: .constant(SolverFixtures.z), loss: SolverFixtures.loss()),
       []),
    ]
    for (p, refused) in cases {
      for name in GradientMethods.names {
        let context = "\(name) on \(p.schedule.name) T = \(p.T)"
        let method = try MethodSpec(name).make()
        if refused.contains(name) {
          XCTAssertThrowsInvalid(try method.validate(p), field: "solver", context)
          continue
        }
        let r = try method.gradient(p)
        XCTAssertTrue((r.gradXT + r.gradZ.flatMap { $0 } + r.gradTheta).allSatisfy(\.isFinite), context)
      }
    }
  }
}

/// The natural grids (docs/math.md#natural-grids): Karras sigmas on EDM, diffusers' shifted time on flow matching, and
/// the refusals of spacings that cannot apply.
final class BeyondVPGridTests: XCTestCase {
  func testKarrasSigmasOnEDM() throws {
    let g = try TimeGrid(schedule: .edm, tEps: 0.002, T: 80, steps: 10, spacing: .karras)
    for i in 0...10 {
      let expected = pow(pow(0.002, 1 / 7.0) + Double(i) / 10 * (pow(80, 1 / 7.0) - pow(0.002, 1 / 7.0)), 7)
      XCTAssertEqual(g.times[i], expected, accuracy: 1e-12 * expected)
    }
  }

  /// Shift s maps u to s u / (1 + (s - 1) u) (diffusers' static shift; dynamic shifting with mu is s = e^mu); the
  /// grid is that warp of a uniform grid in u between the preimages of t_eps and T.
  func testShiftedTimeOnFlowMatching() throws {
    let schedule = try NoiseSchedule.flowMatching.with(grids: GridParameters(shift: 3))
    let g = try TimeGrid(schedule: schedule, tEps: 1e-3, T: 1, steps: 8, spacing: .shifted)
    let u0 = 1e-3 / (3 - 2 * 1e-3)
    for i in 0...8 {
      let u = u0 + Double(i) / 8 * (1 - u0)
      XCTAssertEqual(g.times[i], 3 * u / (1 + 2 * u), accuracy: 1e-14)
    }
    XCTAssertTrue(g.startsAtPureNoise)
    let dynamic = try NoiseSchedule.flowMatching.with(grids: GridParameters(dynamicMu: log(3.0)))
    let h = try TimeGrid(schedule: dynamic, tEps: 1e-3, T: 1, steps: 8, spacing: .shifted)
    for (a, b) in zip(g.times, h.times) { XCTAssertEqual(a, b, accuracy: 1e-14) }
  }

  func testSpacingsThatCannotApplyAreRefused() {
    XCTAssertThrowsInvalid(try TimeGrid(schedule: .flowMatching, tEps: 1e-3, T: 1, steps: 8, spacing: .lambda), field: "grid")
    XCTAssertThrowsInvalid(try TimeGrid(schedule: .flowMatching, tEps: 1e-3, T: 1, steps: 8, spacing: .karras), field: "grid")
    XCTAssertThrowsInvalid(try TimeGrid(schedule: .edm, tEps: 2e-3, T: 80, steps: 8, spacing: .shifted), field: "grid")
    XCTAssertNoThrow(try TimeGrid(schedule: .flowMatching, tEps: 1e-3, T: 0.99, steps: 8, spacing: .lambda))
  }
}
