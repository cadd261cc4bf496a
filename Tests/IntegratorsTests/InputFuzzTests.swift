import DiffusionCore
import Foundation
import Integrators
import ToyModels
import XCTest

/// Issue 14: bad configs and option sets give a clean `InvalidInput` (or an RK45 `IntegrationError`) or a finite
/// result, never a trap, never a silent NaN. Seeded property tests plus the issue's reproducible cases.
final class InputFuzzTests: XCTestCase {
  static let base = #"{"schedule":"vp-linear","T":1.0,"t_eps":0.001,"model":{"means":[[-0.2987,-0.6005,-2.0704],[-1.5756,-0.1757,0.3367],[-1.4746,-3.1807,-1.4882]],"logits":[0.3099,0.8279,0.5192],"W":[[-0.2292,-0.1118],[0.0333,-0.7877],[-0.3735,0.7274]],"log_std":[[-0.6594,-0.2276,-0.6908],[-0.0503,-0.7014,-0.7408],[-0.908,-0.2477,-0.8006]]},"x_T":[-0.0208,0.2384,0.5375],"z":[-1.6993,-0.2665],"loss":{"kind":"squared-distance","target":[-0.2987,-0.6005,-2.0704]}}"#

  static let fastMethods = ["adjointdeis-1", "adjointdeis-2m", "adjointdeis-2m-phi2", "dto", "adjointdeis-1/sde", "dto/sde"]

  /// Runs `method` on `problem` and applies the CLI's rule: a result is used only if finite.
  func outcome(_ method: any GradientMethod, _ problem: ToyProblem) throws -> GradientResult {
    let r = try method.gradient(problem)
    try r.checkFinite(method: method.label)
    return r
  }

  func assertClean(_ error: Error, _ context: String, file: StaticString = #filePath, line: UInt = #line) {
    if let e = error as? InvalidInput {
      XCTAssertFalse(e.field.isEmpty, context, file: file, line: line)
      XCTAssertFalse(e.reason.contains("\n"), "\(context): multi-line reason", file: file, line: line)
    } else if !(error is IntegrationError) {
      XCTFail("\(context): not a clean error: \(error)", file: file, line: line)
    }
  }

  func testGeneratedBadConfigsGiveErrorsOrFiniteResults() throws {
    let root = try JSONReader.parse(Self.base, source: "config")
    var rng = SeededGenerator(seed: 140)
    var counts = (refused: 0, accepted: 0, nonFinite: 0)
    for case_ in 0..<300 {
      var doc = root
      for _ in 0..<(1 + Int(rng.next() % 2)) { doc = JSONMutation.mutate(doc, &rng) }
      let text = JSONMutation.render(doc)
      let problem: ToyProblem
      do {
        problem = try ToyProblem(json: Data(text.utf8))
      } catch {
        assertClean(error, "case \(case_) config \(text)")
        counts.refused += 1
        continue
      }
      let method = try MethodSpec(Self.fastMethods[case_ % Self.fastMethods.count]).make(given: {
        var o = GradientOptions(); o.samplerSteps = 6; return o }())
      do {
        let r = try outcome(method, problem)
        XCTAssertTrue(r.x0.allSatisfy(\.isFinite) && r.gradXT.allSatisfy(\.isFinite) && r.gradTheta.allSatisfy(\.isFinite))
        counts.accepted += 1
      } catch {
        assertClean(error, "case \(case_) \(method.label) on \(text)")
        counts.nonFinite += 1
      }
    }
    XCTAssertGreaterThan(counts.refused, 100)
    XCTAssertGreaterThan(counts.accepted, 10)
  }

  func testGeneratedOptionSetsGiveErrorsOrFiniteResults() throws {
    let problem = try ToyProblem(json: Data(Self.base.utf8))
    var rng = SeededGenerator(seed: 141)
    // nil (not given) half the time, so that valid sets are common too
    func pick<T>(_ values: [T?]) -> T? { rng.next() % 2 == 0 ? nil : values[Int(rng.next() % UInt64(values.count))] }
    let names = GradientMethods.names
    var counts = (refused: 0, ran: 0)
    // 1000 sets: the registry's reversible samplers reject most of these options, so 500 sets ran only 10 gradients
    for case_ in 0..<1000 {
      var o = GradientOptions()
      o.sampler = pick([nil, .dpmSolver1, .dpmSolver2M, .sde])
      o.samplerSteps = pick([nil, -1, 0, 1, 3, 7, Budget.Limit.steps + 1, Int.max, Int.min])
      o.adjointSteps = pick([nil, -5, 0, 1, 3, 7, Int.max])
      o.states = pick([nil, .exact, .recorded, .resolved])
      o.weight = pick([nil, .paper, .phi2])
      o.grid = pick([nil, .lambda, .timeUniform, .timeQuadratic])
      o.noise = pick([nil, .seeded(UInt64.max), .given([]), .given([[1, 2, 3]]), .given([[.nan, 0, 0]])])
      o.rtol = pick([nil, .nan, -1, 0, .infinity, 1e-300, 1e-4])
      o.atol = pick([nil, 1e-4, .nan])
      o.checkpoint = pick([nil, .every(-1), .binomial(slots: 0), .every(2), .binomial(slots: 3)])
      let name = names[Int(rng.next() % UInt64(names.count))]
      let method: any GradientMethod
      do {
        method = try MethodSpec(name).make(given: o)
      } catch {
        assertClean(error, "case \(case_) \(name) \(o.set)")
        counts.refused += 1
        continue
      }
      // run only cheap accepted sets (rk45 and exact states at a loose tolerance)
      guard (o.samplerSteps ?? 20) <= 20, (o.adjointSteps ?? 20) <= 20, (o.rtol ?? 1e-4) >= 1e-6 || method.name != "rk45" else { continue }
      if method.name == "rk45" || o.states == .exact, o.rtol == nil || o.atol == nil { continue }
      do {
        _ = try outcome(method, problem)
        counts.ran += 1
      } catch {
        assertClean(error, "case \(case_) \(method.label)")
      }
    }
    XCTAssertGreaterThan(counts.refused, 100)
    XCTAssertGreaterThan(counts.ran, 10)
  }

  /// Issue 14 item 6: extreme but finite configs made adjointdeis-1/2m/dto print null (rk45 refused).
  func testExtremeConfigsAreRefusedNotPrintedAsNaN() throws {
    let cases = [
      ("log_std 700", Self.base.replacingOccurrences(of: "[-0.6594,", with: "[700,")),
      ("mean 1e154", Self.base.replacingOccurrences(of: "\"means\":[[-0.2987,", with: "\"means\":[[1e154,")),
      ("target 1e308", Self.base.replacingOccurrences(of: "\"target\":[-0.2987,", with: "\"target\":[1e308,")),
    ]
    for (what, text) in cases {
      let problem = try ToyProblem(json: Data(text.utf8))
      for name in ["adjointdeis-1", "adjointdeis-2m", "dto"] {
        let method = try MethodSpec(name).make()
        XCTAssertThrowsError(try outcome(method, problem), "\(what) \(name)") { error in
          guard let e = error as? InvalidInput else { return XCTFail("\(what) \(name): \(error)") }
          XCTAssertTrue(["x0", "loss", "grad_xT", "grad_z", "grad_theta"].contains(e.field), "\(e)")
        }
      }
    }
  }

  func testStepCountsAndPathMemoryAreBounded() throws {
    XCTAssertThrowsError(try MethodSpec("adjointdeis-1").make(given: { var o = GradientOptions(); o.samplerSteps = Int.max; return o }()))
    var o = GradientOptions()
    o.samplerSteps = Budget.Limit.steps
    let method = try MethodSpec("dto").make(given: o)
    // 10^7 steps of a 10^4-dimensional path need ~1.6 TB: refused in validate, before anything is allocated
    XCTAssertThrowsError(try Budget.checkPathMemory(steps: Budget.Limit.steps, dimension: 10_000)) {
      XCTAssertEqual(($0 as? InvalidInput)?.field, "sampler-steps")
    }
    XCTAssertNoThrow(try Budget.checkPathMemory(steps: 1000, dimension: 3))
    _ = method
  }
}
