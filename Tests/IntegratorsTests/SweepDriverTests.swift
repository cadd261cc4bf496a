import DiffusionCore
import TestSupport
import ToyModels
import XCTest

@testable import Integrators

/// The one driver of the sample-then-sweep-back methods (docs/math.md#sweep-back): shared option checks, the shared
/// forward pass, the stored-state accounting, and the discrete reference each method names.
final class SweepDriverTests: XCTestCase {
  func problem() throws -> GradientProblem<GaussianMixture, SquaredDistanceLoss> {
    let model = try SolverFixtures.mixture()
    return try GradientProblem(model: model, schedule: .vpLinear, T: 1, tEps: 1e-3, xT: SolverFixtures.xT,
                               z: .constant(SolverFixtures.z), loss: SolverFixtures.loss())
  }

  func make(_ spec: String, _ edit: (inout GradientOptions) -> Void = { _ in }) throws -> any GradientMethod {
    var o = GradientOptions()
    edit(&o)
    return try MethodSpec(spec).make(given: o)
  }

  /// x_0 without recording the path is the recorded path's x_0, bit for bit, for every ODE sampler.
  func testFinalStateEqualsRecordedPathsEnd() throws {
    let p = try problem()
    let grid = try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: 13, spacing: .lambda)
    for kind in [SamplerKind.dpmSolver1, .dpmSolver2M, .dpmSolver3M] {
      let path = try Sampler(kind: kind).sample(model: p.model, grid: grid, xT: p.xT, z: p.z)
      let (x0, count) = try Sampler(kind: kind).finalState(model: p.model, grid: grid, xT: p.xT, z: p.z)
      XCTAssertEqual(x0, path.x0, "\(kind)")
      XCTAssertEqual(count, path.evaluations)
    }
  }

  /// Peak stored d-vectors: recorded states N + 1 (+ the Gaussian-linear sweep's order), re-solved states x_0 and
  /// the sweep's k-deep history, AdjointDPM's augmented state and stages, exact states the dense output.
  func testStoredStates() throws {
    let p = try problem()
    let n = 12
    func stored(_ spec: String) throws -> Int {
      let r = try make(spec) { $0.samplerSteps = n }.gradient(p)
      return try XCTUnwrap(r.statistics["stored_states"], spec)
    }
    XCTAssertEqual(try stored("adjointdeis-1/recorded"), n + 1)
    XCTAssertEqual(try stored("adjointdeis-2m/recorded"), n + 1)
    XCTAssertEqual(try stored("adjointdeis-1/resolved"), 2)
    XCTAssertEqual(try stored("adjointdeis-2m/resolved"), 3)
    XCTAssertEqual(try stored("adjointdeis-3m/resolved"), 4)
    XCTAssertEqual(try stored("adjointdeis-gl-2m/recorded"), n + 1 + 2)
    XCTAssertEqual(try stored("adjointdpm-rk4/resolved"), 1 + 2 * (1 + 4))
    XCTAssertEqual(try stored("adjointdpm-rk4/recorded"), n + 1 + 2 * (1 + 4))
    XCTAssertEqual(try stored("adjointdeis-1/sde/resolved"), n + 1)
    let exact = try make("adjointdeis-1/exact").gradient(p)
    XCTAssertEqual(exact.statistics["stored_states"].map { ($0 - 1) % 5 }, 0, "5 d-vectors per dense RK45 step, + 1")
    XCTAssertGreaterThan(exact.statistics["stored_states"] ?? 0, 5 * 20)
  }

  /// The discrete reference is DTO through the same sampler: AdjointDEIS on that sampler's recorded states differs
  /// from it by the adjoint's own discretization, which shrinks with N; DTO is its own reference.
  func testDiscreteReference() throws {
    let p = try problem()
    XCTAssertNil(try make("adjointdeis-1/exact").discreteReference)
    XCTAssertNil(try make("rk45").discreteReference)
    let dto = try XCTUnwrap(try make("adjointdeis-2m/recorded") { $0.samplerSteps = 9 }.discreteReference)
    XCTAssertEqual(dto.label, "dto/dpm-solver-2m")
    XCTAssertEqual(try XCTUnwrap(try make("adjointdeis-gl-1/recorded").discreteReference).label, "dto/gl-dpm-solver-1[gaussian]")
    XCTAssertEqual(try XCTUnwrap(try make("adjointdpm-rk4/resolved").discreteReference).label, "dto/dpm-solver-1")
    XCTAssertNil(try make("adjointdpm-rk4").discreteReference)  // the authors' run samples with its own RK4 steps
    XCTAssertEqual(try XCTUnwrap(try make("dto/dpm-solver-2m").discreteReference).label, "dto/dpm-solver-2m")
    var errors: [Double] = []
    for n in [80, 320, 1280] {
      let method = try make("adjointdeis-1/recorded") { ($0.samplerSteps, $0.grid) = (n, .lambda) }
      let exact = try XCTUnwrap(method.discreteReference).gradient(p)
      XCTAssertEqual(try method.gradient(p).x0, exact.x0, "the same sampler, the same x_0")
      errors.append(SolverFixtures.relativeError(try method.gradient(p).gradXT, exact.gradXT))
    }
    // first order in h, asymptotically: measured 0.983, 0.443, 0.125 at N = 20, 80, 320 (pre-asymptotic at 20), then
    // a factor near 4 per factor 4 in N
    XCTAssertLessThan(errors[1], errors[0] / 3)
    XCTAssertLessThan(errors[2], errors[1] / 3)
  }

  /// The checks every sweep-back method shares give the same errors, naming the same options.
  func testSharedChecks() throws {
    for spec in ["adjointdeis-1", "adjointdeis-gl-1", "adjointdpm-rk4"] {
      XCTAssertThrowsInvalid(try make(spec) { $0.samplerSteps = Budget.Limit.steps + 1 }, field: "sampler-steps")
      XCTAssertThrowsInvalid(try make(spec) { $0.adjointSteps = 0 }, field: "steps")
      XCTAssertThrowsInvalid(try make(spec) { $0.rtol = 1e-9 }, field: "rtol")
      XCTAssertThrowsInvalid(try make(spec) { $0.checkpoint = .every(3) }, field: "checkpoint")
    }
    XCTAssertThrowsInvalid(try make("adjointdeis-gl-1/resolved"), field: "states")
    XCTAssertThrowsInvalid(try make("adjointdpm-rk4/recorded") { $0.sampler = .dpmSolver1 }, field: "sampler")
    XCTAssertThrowsInvalid(try make("adjointdeis-1/recorded") { ($0.samplerSteps, $0.adjointSteps) = (10, 12) }, field: "steps")
    XCTAssertThrowsInvalid(try make("adjointdeis-gl-1/sde/exact"), field: "states")
  }

  /// The reversible samplers as registry methods: the same numbers as `ReversibleGradient` called directly, their
  /// options and qualifiers, the discrete reference (every state stored) equal to rounding, O(1) stored states.
  func testReversibleMethodsThroughTheDriver() throws {
    let p = try problem()
    let grid = try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: 16, spacing: .lambda)
    let direct = try ReversibleGradient(sampler: try Rex(tableau: .midpoint, parameterization: .noise, coupling: 0.99))
      .gradient(model: p.model, schedule: p.schedule, grid: grid, xT: p.xT, z: p.z, loss: p.loss).gradient
    for method in [try make("rex-midpoint/noise/coupling=0.99") { ($0.samplerSteps, $0.grid) = (16, .lambda) },
                   try make("rex-midpoint") { ($0.samplerSteps, $0.grid, $0.parameterization, $0.coupling) = (16, .lambda, .noise, 0.99) }] {
      let r = try method.gradient(p)
      XCTAssertEqual(r.gradXT, direct.gradXT)
      XCTAssertEqual(r.gradZ, direct.gradZ)
      XCTAssertEqual(r.gradTheta, direct.gradTheta)
      XCTAssertEqual(r.statistics["stored_states"], 4, "current and start state, two parts each, whatever N")
      let roundTrip = try XCTUnwrap(r.roundTripError)
      XCTAssertLessThan(roundTrip, 1e-11)
      let stored = try XCTUnwrap(method.discreteReference).gradient(p)
      XCTAssertLessThan(SolverFixtures.relativeError(r.gradXT, stored.gradXT), 1e-10)
      XCTAssertEqual(stored.statistics["stored_states"], 17 * 2)
    }
    for name in ["rex-euler", "rex-rk4", "reversible-heun", "bdia", "edict"] {
      let r = try make(name) { $0.samplerSteps = 10 }.gradient(p)
      XCTAssertNotNil(r.roundTripError, name)
      XCTAssertEqual(r.sampling.vjp, 0, name)
    }
    XCTAssertThrowsInvalid(try make("adjointdeis-1") { $0.coupling = 0.9 }, field: "coupling")
    XCTAssertThrowsInvalid(try make("dto") { $0.gamma = 0.9 }, field: "gamma")
    XCTAssertThrowsInvalid(try make("bdia") { $0.coupling = 0.9 }, field: "coupling")
    XCTAssertThrowsInvalid(try make("rex-rk4") { $0.mix = 0.9 }, field: "mix")
    XCTAssertThrowsInvalid(try make("rex-rk4") { $0.coupling = 0 }, field: "coupling")
    XCTAssertThrowsInvalid(try make("edict") { $0.mix = 1 }, field: "mix")
    XCTAssertThrowsInvalid(try make("rex-rk4") { ($0.samplerSteps, $0.adjointSteps) = (10, 12) }, field: "steps")
    XCTAssertThrowsInvalid(try make("rex-rk4/sde"), field: "sampler")
    XCTAssertThrowsInvalid(try make("rex-rk4/recorded"), field: "states")
    XCTAssertThrowsInvalid(try MethodSpec("rex-rk4/coupling=x"), field: "solver")
    // zeta = 0.5 doubles the reconstruction error per step (docs/reversible-solvers.md#coupling-stability): refused
    XCTAssertThrowsInvalid(try make("rex-rk4/coupling=0.5") { $0.samplerSteps = 80 }.gradient(p), field: "coupling")
  }

  /// `checkpoint=` names DTO's checkpointing in a method name (for studies): binomial DTO gives full storage's gradient.
  func testCheckpointQualifier() throws {
    let p = try problem()
    let full = try make("dto/dpm-solver-2m").gradient(p)
    let binomial = try make("dto/dpm-solver-2m/checkpoint=binomial:3").gradient(p)
    XCTAssertEqual(binomial.gradXT, full.gradXT)
    XCTAssertGreaterThan(binomial.sampling.eps + binomial.adjoint.eps, full.sampling.eps + full.adjoint.eps)
    XCTAssertLessThan(binomial.statistics["stored_states"] ?? .max, full.statistics["stored_states"] ?? 0)
    XCTAssertThrowsInvalid(try MethodSpec("dto/checkpoint=binomial:0"), field: "solver")
    XCTAssertThrowsInvalid(try make("dto/checkpoint=5") { $0.checkpoint = .every(4) }, field: "checkpoint")
  }
}
