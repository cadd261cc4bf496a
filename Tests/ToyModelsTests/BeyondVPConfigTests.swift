import DiffusionCore
import Foundation
import XCTest

@testable import ToyModels

/// The config keys of flow matching and EDM (docs/math.md#beyond-vp, #natural-grids): valid files round-trip with
/// their grid parameters; each bad value is one `InvalidInput` naming the key.
final class BeyondVPConfigTests: XCTestCase {
  /// A valid 2-d config with `edit`'s keys replaced.
  func config(_ edit: [String: Any]) -> [String: Any] {
    var c: [String: Any] = [
      "schedule": "flow-matching", "T": 1.0, "t_eps": 0.001,
      "model": ["means": [[1.0, 0.0], [-1.0, 0.5]], "logits": [0.1, -0.2], "W": [[0.5], [-0.5]], "log_std": [[-0.5, -0.2], [0.0, -1.0]]],
      "x_T": [0.3, -0.7], "z": [0.4], "loss": ["kind": "squared-distance", "target": [1.0, 1.0]],
    ]
    for (k, v) in edit { c[k] = v }
    return c
  }

  func data(_ c: [String: Any]) throws -> Data { try JSONSerialization.data(withJSONObject: c) }

  /// The field of the one-line `InvalidInput` the config raises (nil when it parses).
  func field(of c: [String: Any]) -> String? {
    do {
      _ = try ToyProblem(json: data(c))
      return nil
    } catch let e as InvalidInput {
      XCTAssertFalse(e.description.contains("\n"), "one line: \(e)")
      return e.field
    } catch {
      XCTFail("not an InvalidInput: \(error)")
      return nil
    }
  }

  func testNewSchedulesParseAndRoundTrip() throws {
    for edit: [String: Any] in [
      ["schedule": "flow-matching", "T": 1.0, "shift": 3.0],
      ["schedule": "flow-matching", "T": 1.0, "use_dynamic_shifting": true, "mu": 0.5, "shift_terminal": 0.02, "t_eps": 0.02],
      ["schedule": "edm", "T": 80.0, "t_eps": 0.002, "rho": 5.0],
      ["schedule": "ve", "T": 10.0, "t_eps": 0.01],
    ] {
      let p = try ToyProblem(json: data(config(edit)))
      XCTAssertEqual(try ToyProblem(json: p.jsonData()), p, "\(edit)")
    }
    let dynamic = try ToyProblem(json: data(config(["schedule": "flow-matching", "use_dynamic_shifting": true, "mu": 0.5])))
    XCTAssertEqual(dynamic.schedule.grids.effectiveShift, exp(0.5))
  }

  func testBadValuesNameTheirKey() {
    XCTAssertEqual(field(of: config(["schedule": "rectified"])), "schedule")
    XCTAssertEqual(field(of: config(["schedule": "flow-matching", "T": 1.5])), "T")
    XCTAssertEqual(field(of: config(["schedule": "flow-matching", "t_eps": 0.0])), "t_eps")
    XCTAssertEqual(field(of: config(["schedule": "edm", "T": 0.002, "t_eps": 80.0])), "t_eps")  // sigma_min >= sigma_max
    XCTAssertEqual(field(of: config(["schedule": "edm", "T": 80.0, "t_eps": 80.0])), "t_eps")
    XCTAssertEqual(field(of: config(["schedule": "flow-matching", "shift": 0.0])), "shift")
    XCTAssertEqual(field(of: config(["schedule": "flow-matching", "shift": -2.0])), "shift")
    XCTAssertEqual(field(of: config(["schedule": "vp-linear", "shift": 3.0])), "shift")
    XCTAssertEqual(field(of: config(["schedule": "edm", "T": 80.0, "t_eps": 0.002, "mu": 1.0])), "mu")
    XCTAssertEqual(field(of: config(["schedule": "flow-matching", "mu": 1.0])), "mu")
    XCTAssertEqual(field(of: config(["schedule": "flow-matching", "use_dynamic_shifting": true])), "mu")
    XCTAssertEqual(field(of: config(["schedule": "flow-matching", "use_dynamic_shifting": 1])), "use_dynamic_shifting")
    XCTAssertEqual(field(of: config(["schedule": "flow-matching", "shift_terminal": 1.5])), "shift_terminal")
    XCTAssertEqual(field(of: config(["schedule": "edm", "T": 80.0, "t_eps": 0.002, "rho": 0.0])), "rho")
  }
}
