import DiffusionCore
import ToyModels
import XCTest

@testable import Integrators

/// A mixture that hides its statistics: what a network looks like to the linear part.
struct OpaqueModel: NoisePredictor {
  let inner: GaussianMixture
  var dataDimension: Int { inner.dataDimension }
  var conditionDimension: Int { inner.conditionDimension }
  var parameterBlocks: [ParameterBlock] { inner.parameterBlocks }
  var parameters: [Double] { inner.parameters }
  func replacingParameters(_ theta: [Double]) throws -> OpaqueModel { OpaqueModel(inner: try inner.replacingParameters(theta)) }
  func eps(_ x: [Double], z: [Double], t: Double, batch: Int) throws -> [Double] { try inner.eps(x, z: z, t: t, batch: batch) }
  func vjp(_ x: [Double], z: [Double], t: Double, batch: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP {
    try inner.vjp(x, z: z, t: t, batch: batch, cotangent: v, wantParameters: wantParameters)
  }
}

/// The new methods in the registry: `--linear-part none` changes nothing, the linear part reaches the right solver,
/// and every bad input is an error naming its option.
final class GaussianLinearMethodTests: XCTestCase {
  func problem() throws -> ToyProblem {
    try ToyProblem(model: SolverFixtures.mixture(), T: 1, tEps: 1e-3, xT: SolverFixtures.xT, z: .constant(SolverFixtures.z),
                   loss: SolverFixtures.loss())
  }

  func options(_ edit: (inout GradientOptions) -> Void) -> GradientOptions { var o = GradientOptions(); edit(&o); return o }

  func field(_ body: () throws -> Any) -> String? {
    do { _ = try body(); return nil } catch let e as InvalidInput { return e.field } catch { return "other: \(error)" }
  }

  /// `--linear-part none` (given, or as a name qualifier) leaves every number of the paper's methods bit for bit.
  func testNoneChangesNothing() throws {
    let p = try problem()
    for name in ["rk45", "adjointdeis-1", "adjointdeis-2m", "adjointdeis-1/exact", "adjointdeis-2m/resolved", "adjointdeis-1/sde",
                 "dto", "dto/dpm-solver-2m"] {
      let plain = try MethodSpec(name).make().gradient(p)
      let none = try MethodSpec(name).make(given: options { $0.linearPart = LinearPartKind.none }).gradient(p)
      let qualified = try MethodSpec(name + "/none").make().gradient(p)
      for other in [none, qualified] {
        XCTAssertEqual(plain.x0, other.x0, name)
        XCTAssertEqual(plain.gradXT, other.gradXT, name)
        XCTAssertEqual(plain.gradZ, other.gradZ, name)
        XCTAssertEqual(plain.gradTheta, other.gradTheta, name)
        XCTAssertEqual(plain.sampling, other.sampling, name)
        XCTAssertEqual(plain.adjoint, other.adjoint, name)
      }
    }
  }

  /// `adjointdeis-k --linear-part X` is `adjointdeis-gl-k` with X; dto with a linear part is dto-gl.
  func testLinearPartSelectsTheNewSolvers() throws {
    let p = try problem()
    let pairs = [("adjointdeis-1/exact/gaussian", "adjointdeis-gl-1/exact"), ("adjointdeis-2m/isotropic", "adjointdeis-gl-2m/isotropic"),
                 ("dto/gaussian", "dto-gl")]
    for (a, b) in pairs {
      let ra = try MethodSpec(a).make().gradient(p), rb = try MethodSpec(b).make().gradient(p)
      XCTAssertEqual(ra.gradXT, rb.gradXT, a)
      XCTAssertEqual(ra.gradTheta, rb.gradTheta, a)
    }
    XCTAssertEqual(try MethodSpec("adjointdeis-1/exact/gaussian").make().label, "adjointdeis-gl-1[gaussian]/ode/exact")
    let paper = try MethodSpec("adjointdeis-1/exact").make().gradient(p), gl = try MethodSpec("adjointdeis-gl-1/exact").make().gradient(p)
    XCTAssertNotEqual(paper.gradXT, gl.gradXT)
    XCTAssertEqual(gl.adjoint.vjp, 20)  // one VJP per step
    XCTAssertEqual(try MethodSpec("adjointdpm-rk4").make().gradient(p).adjoint.vjp, 80)
    XCTAssertEqual(try MethodSpec("adjointdpm-midpoint/exact").make().gradient(p).adjoint.vjp, 40)
  }

  func testBadInputNamesTheOption() throws {
    let p = try problem()
    // a model that cannot supply its statistics, before any work
    let opaque = try GradientProblem(model: OpaqueModel(inner: p.model), schedule: p.schedule, T: p.T, tEps: p.tEps, xT: p.xT, z: p.z, loss: p.loss)
    XCTAssertEqual(field { try MethodSpec("adjointdeis-gl-1").make().validate(opaque) }, "linear-part")
    XCTAssertEqual(field { try MethodSpec("dto/isotropic").make().gradient(opaque) }, "linear-part")
    // with a statistics file it works
    let stats = try DataStatistics(mean: [0, 0, 0], variance: 0.8, field: "statistics")
    XCTAssertNoThrow(try MethodSpec("adjointdeis-gl-1").make(given: options { $0.statistics = stats }).gradient(opaque))
    let wrong = try DataStatistics(mean: [0, 0], variance: 0.8, field: "statistics")
    XCTAssertEqual(field { try MethodSpec("adjointdeis-gl-1").make(given: options { $0.statistics = wrong }).gradient(opaque) }, "statistics")
    // options that mean nothing
    XCTAssertEqual(field { try MethodSpec("rk45").make(given: options { $0.linearPart = .gaussian }) }, "linear-part")
    XCTAssertEqual(field { try MethodSpec("adjointdeis-2m-phi2").make(given: options { $0.linearPart = .isotropic }) }, "linear-part")
    XCTAssertEqual(field { try MethodSpec("adjointdpm-euler").make(given: options { $0.linearPart = .isotropic }) }, "linear-part")
    XCTAssertEqual(field { try MethodSpec("adjointdeis-1").make(given: options { $0.statistics = stats }) }, "statistics")
    XCTAssertEqual(field { try MethodSpec("adjointdeis-gl-1/none").make() }, "linear-part")
    XCTAssertEqual(field { try MethodSpec("adjointdeis-gl-2m/resolved").make() }, "states")
    XCTAssertEqual(field { try MethodSpec("adjointdeis-gl-1").make(given: options { $0.weight = .phi2 }) }, "weight")
    XCTAssertEqual(field { try MethodSpec("adjointdpm-rk4/recorded").make(given: options { $0.adjointSteps = 40 }) }, "steps")
    XCTAssertEqual(field { try MethodSpec("adjointdpm-rk4/sde").make() }, "sampler")
    XCTAssertEqual(field { try MethodSpec("dto-gl/sde").make() }, "sampler")
    XCTAssertEqual(field { try MethodSpec("adjointdeis-gl-1/gaussian/isotropic") }, "solver")
  }
}
