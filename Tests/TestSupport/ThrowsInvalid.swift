import DiffusionCore
import XCTest

/// Asserts that `expression` throws an `InvalidInput` naming `field` (with `suffix`, a field ending in `field`, for
/// file paths under a temporary directory): a test that expects an error checks it is the right one.
public func XCTAssertThrowsInvalid<T>(_ expression: @autoclosure () throws -> T, field: String, suffix: Bool = false, _ message: String = "",
                               file: StaticString = #filePath, line: UInt = #line) {
  XCTAssertThrowsError(try expression(), message, file: file, line: line) { error in
    guard let e = error as? InvalidInput else { return XCTFail("not an InvalidInput: \(error)", file: file, line: line) }
    if suffix {
      XCTAssertTrue(e.field.hasSuffix(field), "field '\(e.field)' does not end in '\(field)' (\(e))", file: file, line: line)
    } else {
      XCTAssertEqual(e.field, field, "\(e)", file: file, line: line)
    }
  }
}

/// "field: reason" of the `InvalidInput` that `body` throws, "no error", or "other error: ..." — for tests that
/// compare an error's whole text.
public func invalidInputReason<T>(_ body: () throws -> T) -> String {
  do {
    _ = try body()
    return "no error"
  } catch let e as InvalidInput {
    return "\(e.field): \(e.reason)"
  } catch {
    return "other error: \(error)"
  }
}
