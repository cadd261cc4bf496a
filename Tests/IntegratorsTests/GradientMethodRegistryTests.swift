import DiffusionCore
import ToyModels
import XCTest

@testable import Integrators

/// The registry and the one naming scheme: every name parses, each method rejects the options it has no use for by
/// name, qualifiers and options combine, and the context's defaults are never rejected.
final class GradientMethodRegistryTests: XCTestCase {
  func field(_ body: () throws -> Any) -> String? {
    do { _ = try body(); return nil } catch let e as InvalidInput { return e.field } catch { return "other: \(error)" }
  }

  func problem() throws -> ToyProblem {
    try ToyProblem(model: SolverFixtures.mixture(), T: 1, tEps: 1e-3, xT: SolverFixtures.xT, z: .constant(SolverFixtures.z),
                   loss: SolverFixtures.loss())
  }

  func testEveryNameIsListedOnceAndParses() throws {
    let names = GradientMethods.names
    XCTAssertEqual(Set(names).count, names.count)
    for name in names { XCTAssertEqual(try MethodSpec(name).name, name) }
    XCTAssertEqual(field { try MethodSpec("adjointdeis-3") }, "solver")
    XCTAssertEqual(field { try MethodSpec("adjointdeis-3/exact", option: "solvers") }, "solvers")
    XCTAssertEqual(field { try MethodSpec("adjointdeis-1/bogus", option: "methods") }, "methods")
    XCTAssertEqual(field { try MethodSpec("adjointdeis-1/exact/recorded") }, "solver")
  }

  func testUnusedOptionsAreRejectedByName() throws {
    func given(_ edit: (inout GradientOptions) -> Void) -> GradientOptions { var o = GradientOptions(); edit(&o); return o }
    XCTAssertEqual(field { try MethodSpec("rk45").make(given: given { $0.adjointSteps = 10 }) }, "steps")
    XCTAssertEqual(field { try MethodSpec("rk45").make(given: given { $0.sampler = .dpmSolver2M }) }, "sampler")
    XCTAssertEqual(field { try MethodSpec("rk45").make(given: given { $0.checkpoint = .every(2) }) }, "checkpoint")
    XCTAssertEqual(field { try MethodSpec("dto").make(given: given { $0.states = .exact }) }, "states")
    XCTAssertEqual(field { try MethodSpec("dto").make(given: given { $0.rtol = 1e-6 }) }, "rtol")
    XCTAssertEqual(field { try MethodSpec("adjointdeis-1").make(given: given { $0.weight = .phi2 }) }, "weight")
    XCTAssertEqual(field { try MethodSpec("adjointdeis-2m-phi2").make(given: given { $0.weight = .paper }) }, "weight")
    XCTAssertEqual(field { try MethodSpec("adjointdeis-2m").make(given: given { $0.checkpoint = .every(3) }) }, "checkpoint")
    XCTAssertEqual(field { try MethodSpec("adjointdeis-1").make(given: given { $0.rk45States = .backsolve }) }, "rk45-states")
    XCTAssertEqual(field { try MethodSpec("adjointdeis-1").make(given: given { $0.rtol = 1e-6 }) }, "rtol")
    XCTAssertEqual(field { try MethodSpec("adjointdeis-1").make(given: given { $0.noise = .seeded(3) }) }, "seed")
    XCTAssertEqual(field { try MethodSpec("dto").make(given: given { $0.noise = .given([]) }) }, "noise")
    XCTAssertEqual(field { try MethodSpec("adjointdeis-1/sde").make(given: given { $0.states = .exact }) }, "states")
    XCTAssertEqual(field { try MethodSpec("adjointdeis-1").make(given: given { $0.samplerSteps = 8; $0.adjointSteps = 7 }) }, "steps")
    XCTAssertEqual(field { try MethodSpec("adjointdeis-1/exact").make(given: given { $0.states = .recorded }) }, "states")
    XCTAssertNil(field { try MethodSpec("adjointdeis-1/exact").make(given: given { $0.rtol = 1e-6 }) })
    // The sampler steps and grid of rk45 set a z schedule's steps: with a constant z they are rejected by validate.
    let p = try problem()
    XCTAssertEqual(field { try MethodSpec("rk45").make(given: given { $0.samplerSteps = 8 }).validate(p) }, "sampler-steps")
    XCTAssertEqual(field { try MethodSpec("rk45").make(given: given { $0.grid = .lambda }).validate(p) }, "grid")
    // A context's defaults are not the user's: never rejected.
    var defaults = GradientOptions()
    (defaults.samplerSteps, defaults.adjointSteps, defaults.grid, defaults.states, defaults.sampler) = (8, 8, .lambda, .recorded, .dpmSolver1)
    XCTAssertNil(field { try MethodSpec("rk45").make(defaults: defaults).validate(p) })
    XCTAssertNil(field { try MethodSpec("dto").make(defaults: defaults) })
  }

  func testQualifiersSetTheSamplerStatesAndDynamics() throws {
    XCTAssertEqual(try MethodSpec("adjointdeis-1/sde/resolved").make().label, "adjointdeis-1/sde/resolved")
    XCTAssertEqual(try MethodSpec("adjointdeis-2m-phi2/exact").make().label, "adjointdeis-2m[phi2]/ode/exact")
    XCTAssertEqual(try MethodSpec("dto/dpm-solver-2m").make().label, "dto/dpm-solver-2m")
    XCTAssertEqual(try MethodSpec("dto/sde").make().dynamics, .sde)
    // AdjointDEIS-k's own ODE sampler is DPM-Solver-k; a context default of the same dynamics wins over it.
    let twoM = try XCTUnwrap(try MethodSpec("adjointdeis-2m").make() as? AdjointDEISMethod)
    XCTAssertEqual(twoM.sampler, .dpmSolver2M)
    var ddim = GradientOptions()
    ddim.sampler = .dpmSolver1
    XCTAssertEqual(try XCTUnwrap(try MethodSpec("adjointdeis-2m/ode").make(defaults: ddim) as? AdjointDEISMethod).sampler, .dpmSolver1)
    XCTAssertEqual(try XCTUnwrap(try MethodSpec("adjointdeis-1/sde").make(defaults: ddim) as? AdjointDEISMethod).sampler, .sde)
    XCTAssertEqual(field { try MethodSpec("rk45/sde").make() }, "sampler")
  }

  /// A method made from the registry computes what its solver computes when called directly.
  func testRegistryMethodEqualsTheDirectSolver() throws {
    let p = try problem()
    var options = GradientOptions()
    (options.samplerSteps, options.grid) = (12, .lambda)
    let viaRegistry = try MethodSpec("dto/dpm-solver-2m").make(given: options).gradient(p)
    let grid = try TimeGrid(schedule: p.schedule, tEps: p.tEps, T: p.T, steps: 12, spacing: .lambda)
    let direct = try DiscretizeThenOptimize(sampler: .dpmSolver2M).gradient(model: p.model, grid: grid, xT: p.xT, z: p.z, loss: p.loss)
    XCTAssertEqual(viaRegistry.gradXT, direct.gradXT)
    XCTAssertEqual(viaRegistry.gradTheta, direct.gradTheta)
  }
}
