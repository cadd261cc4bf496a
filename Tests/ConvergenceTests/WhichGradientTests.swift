import DiffusionCore
import ToyModels
import XCTest

@testable import Convergence

/// The which-gradient report reads study CSVs back: memory classes from the stored states' growth, network calls
/// with sampling, the decision table within a call budget, exact-state methods left out of it.
final class WhichGradientTests: XCTestCase {
  /// One row in the study CSV's columns: (solver, N, nfe_eps, nfe_vjp, stored, rel_err_a_x).
  func csv(_ rows: [(String, Int, Int, Int, Int, Double)]) -> String {
    let columns = StudyResult<GaussianMixture>.csvColumns
    var text = columns.joined(separator: ",") + "\n"
    for (solver, n, eps, vjp, stored, error) in rows {
      let values: [String: String] = [
        "study": "s", "kind": "ode", "model": "m", "seed": "0", "path": "0", "solver": solver, "M": "\(n)", "nfe_eps": "\(eps)",
        "nfe_vjp": "\(vjp)", "stored_states": "\(stored)", "rel_err_a_x": "\(error)", "rel_err_a_z": "0.5", "rel_err_a_theta": "0.5",
        "status": "ok",
      ]
      text += columns.map { values[$0] ?? "" }.joined(separator: ",") + "\n"
    }
    return text
  }

  func testMemoryClassesAndDecisionTable() throws {
    let text = csv([
      ("rev", 20, 40, 20, 4, 0.02), ("rev", 80, 160, 80, 4, 0.001), ("rev", 320, 640, 320, 4, 1e-5),
      ("dto", 20, 20, 20, 20, 0.03), ("dto", 80, 80, 80, 80, 0.002), ("dto", 320, 320, 320, 320, 1e-4),
      ("bin", 20, 40, 20, 4, 0.03), ("bin", 80, 200, 80, 6, 0.002), ("bin", 320, 900, 320, 8, 1e-4),
      ("adj/exact", 20, 400, 20, 300, 1e-6), ("adj/exact", 80, 400, 80, 300, 1e-7), ("adj/exact", 320, 400, 320, 300, 1e-8),
    ])
    let report = try WhichGradient(csv: [("x.csv", text)])
    XCTAssertEqual(report.memoryClass(report.series("s", "rev")), .constant)
    XCTAssertEqual(report.memoryClass(report.series("s", "dto")), .linear)
    XCTAssertEqual(report.memoryClass(report.series("s", "bin")), .sublinear)
    let table = report.decisionTable(budget: 500, target: 0.01)
    // O(1): rev at N = 80 (240 calls; N = 320 costs 960); exact states are not a choice even at 400 calls and 1e-8
    XCTAssertTrue(table.contains("| O(1) | rev at N = 80: 0.001 (240 calls); 1% first reached by rev at 240 calls |"), table)
    XCTAssertTrue(table.contains("| O(N) | dto at N = 80: 0.002 (160 calls);"), table)
    XCTAssertTrue(table.contains("| O(log N) to O(sqrt N) | bin at N = 80: 0.002 (280 calls);"), table)
    XCTAssertFalse(table.contains("adj/exact"), table)
    XCTAssertTrue(report.overview(steps: 20).contains("| rev | 0.02 (60, 4) |"), report.overview(steps: 20))
    XCTAssertThrowsError(try WhichGradient(csv: [("y.csv", "study,seed,path,status\ns,0,0,ok")])) { XCTAssertEqual(($0 as? InvalidInput)?.field, "y.csv") }
  }
}
