// The shared test helpers (XCTAssertThrowsInvalid, JSONMutation) live in Tests/TestSupport, one copy for every test target.
@_exported import TestSupport
