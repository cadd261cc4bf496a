import Convergence
import DiffusionCore
import Foundation
import Integrators
import ToyModels
import XCTest

/// Issue 14 item 5: `convergence --seeds 1000000000` was accepted; every count of a study has a stated maximum,
/// checked in `validate` before any work (and before `top * fineFactor` could overflow).
final class StudyBudgetTests: XCTestCase {
  static let config = #"{"schedule":"vp-linear","T":1.0,"t_eps":0.001,"model":{"means":[[-0.3,0.6],[1.5,0]],"logits":[0.3,0.8],"log_std":[[-0.6,-0.2],[0,-0.7]]},"x_T":[0.02,-0.5],"loss":{"kind":"squared-distance","target":[1,2]}}"#

  func study(_ kind: StudyKind, steps: [Int]) throws -> ConvergenceStudy<GaussianMixture> {
    let base = StudyProblem<GaussianMixture>(try ToyProblem(json: Data(Self.config.utf8)))
    return try ConvergenceStudy(name: "budget", kind: kind, problem: base, variant: { try base.randomVariant(seed: $0) },
                                solvers: [MethodSpec("adjointdeis-1/recorded")], steps: steps)
  }

  func assertField(_ s: ConvergenceStudy<GaussianMixture>, _ field: String, line: UInt = #line) {
    XCTAssertThrowsError(try s.validate(), line: line) { XCTAssertEqual(($0 as? InvalidInput)?.field, field, "\($0)", line: line) }
  }

  func testCountsHaveStatedMaxima() throws {
    var s = try study(.ode, steps: [5, 10])
    XCTAssertNoThrow(try s.validate())
    s.seeds = 1_000_000_000
    assertField(s, "seeds")
    XCTAssertThrowsError(try study(.ode, steps: [5, Budget.Limit.steps + 1])) {  // the initializer validates
      XCTAssertEqual(($0 as? InvalidInput)?.field, "steps")
    }
    s = try study(.sde, steps: [5, 10])
    s.paths = Budget.Limit.paths + 1
    assertField(s, "paths")
    s.paths = 1
    s.fineFactor = Int.max / 2  // 10 * fineFactor overflows Int: refused, not trapped
    assertField(s, "fine-factor")
    s.fineFactor = Budget.Limit.fineSteps / 5
    assertField(s, "fine-factor")
    // issue 14 item 12: --floor nan ran the whole study, wrote its files, then failed
    s = try study(.ode, steps: [5, 10])
    s.rule.floor = .nan
    assertField(s, "floor")
  }
}
