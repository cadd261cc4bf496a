import DiffusionCore
import Foundation
import XCTest

#if canImport(Glibc)
  import Glibc
#endif

/// Messages to a full or closed stderr are dropped with a false return, not a trap (FileHandle's write traps).
final class StandardStreamsTests: XCTestCase {
  /// `body` with stderr (descriptor 2) replaced by `replacement` (nil: closed); stderr is restored afterwards.
  func withStandardError<T>(_ replacement: String?, _ body: () -> T) throws -> T {
    let saved = dup(2)
    XCTAssertGreaterThanOrEqual(saved, 0)
    defer {
      dup2(saved, 2)
      close(saved)
    }
    if let replacement {
      let fd = open(replacement, O_WRONLY)
      XCTAssertGreaterThanOrEqual(fd, 0)
      dup2(fd, 2)
      close(fd)
    } else {
      close(2)
    }
    return body()
  }

  func testFullStandardErrorDropsTheMessage() throws {
    XCTAssertFalse(try withStandardError("/dev/full") { StandardStreams.error("to /dev/full") })
  }

  func testClosedStandardErrorDropsTheMessage() throws {
    XCTAssertFalse(try withStandardError(nil) { StandardStreams.error("to a closed stderr") })
  }

  func testWritableStandardErrorTakesTheMessage() throws {
    XCTAssertTrue(try withStandardError("/dev/null") { StandardStreams.error("to /dev/null") })
  }
}
