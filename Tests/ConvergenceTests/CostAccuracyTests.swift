import DiffusionCore
import XCTest

@testable import Convergence

/// The cost-accuracy report reads the study CSV back (quoted fields included) and finds the fewest VJPs per target.
final class CostAccuracyTests: XCTestCase {
  let csv = """
    study,kind,model,seed,path,solver,M,h_max_lambda,nfe_eps,nfe_vjp,gradient_nfe_eps,gradient_nfe_vjp,wall_time_s,rel_err_a_x,cosine_a_x,norm_ratio_a_x,rel_err_a_z,cosine_a_z,norm_ratio_a_z,rel_err_a_theta,cosine_a_theta,norm_ratio_a_theta,status,failure_reason
    s,ode,m,0,0,a,10,1,0,10,0,10,0,0.5,0.99,1,0.4,1,1,0.3,1,1,ok,
    s,ode,m,0,0,a,20,1,0,20,0,20,0,0.05,0.9995,1,0.04,1,1,0.03,1,1,ok,
    s,ode,m,0,0,a,40,1,0,40,0,40,0,0.005,0.99999,1,0.004,1,1,0.003,1,1,ok,
    s,ode,m,1,0,a,20,1,0,20,0,20,0,9,0,1,9,1,1,9,1,1,ok,
    s,ode,m,0,0,b,10,1,0,40,0,40,0,0.2,0.9,1,,,,,,,failed,"budget, exhausted"
    s,ode,m,0,0,b,20,1,0,80,0,80,0,0.2,0.9,1,0.1,1,1,0.1,1,1,ok,
    """

  func testTablesFromCSV() throws {
    let report = try CostAccuracy(csv: [("x.csv", csv)])
    XCTAssertEqual(report.runs.count, 4)  // seed 1 and the failed run left out
    let md = report.markdown(steps: [20])
    XCTAssertTrue(md.contains("| a | 1 | 0.05 | 0.04 | 0.03 |"), md)
    XCTAssertTrue(md.contains("| b | 4 | 0.2 | 0.1 | 0.1 |"), md)
    XCTAssertTrue(md.contains("| a | 20 | 40 | > 40 | 20 |"), md)  // 10%: M=20; 1%: M=40; 0.1%: never; cosine: M=20
    XCTAssertTrue(md.contains("| b | > 80 | > 80 | > 80 | > 80 |"), md)
    XCTAssertEqual(CostAccuracy.fields(#"a,"b, ""c""",d"#), ["a", #"b, "c""#, "d"])
    XCTAssertThrowsError(try CostAccuracy(csv: [("y.csv", "study,seed\ns,0")])) { XCTAssertEqual(($0 as? InvalidInput)?.field, "y.csv") }
  }
}
