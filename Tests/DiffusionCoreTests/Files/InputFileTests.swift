import Foundation
import TestSupport
import XCTest

@testable import DiffusionCore

/// `InputFile`: clear errors for every kind of path that is not a readable regular file, and a size limit.
final class InputFileTests: FileTestCase {
  func reason<T>(_ body: () throws -> T) -> String { invalidInputReason(body) }

  func testReadsARegularFileAndFollowsLinks() throws {
    try "{\"a\": 1}".write(to: url("c.json"), atomically: false, encoding: .utf8)
    try FileManager.default.createSymbolicLink(atPath: url("l.json").path, withDestinationPath: "c.json")
    XCTAssertEqual(try InputFile.read(url("l.json")), Data("{\"a\": 1}".utf8))
    XCTAssertEqual(try InputFile.read(url("c.json"), limit: 8), Data("{\"a\": 1}".utf8), "exactly at the limit")
  }

  func testPrefixReadsTheFirstBytesThroughTheSameGate() throws {
    try Data([1, 2, 3, 4, 5]).write(to: url("five"))
    XCTAssertEqual(try InputFile.prefix(url("five"), count: 3), Data([1, 2, 3]))
    XCTAssertEqual(try InputFile.prefix(url("five"), count: 8), Data([1, 2, 3, 4, 5]), "a shorter file gives what it has")
    let fifo = try makeFIFO("fifo")
    // must return at once, not wait for a writer (a FIFO given as --target blocked in the PNG sniffing)
    XCTAssertEqual(reason { try InputFile.prefix(fifo, count: 8) }, "\(fifo.path): is a FIFO (named pipe), expected a regular file")
    XCTAssertEqual(reason { try InputFile.prefix(directory, count: 8) }, "\(directory.path): is a directory, expected a regular file")
  }

  func testEveryNonRegularKindIsAClearError() throws {
    let fifo = try makeFIFO("fifo")
    XCTAssertEqual(reason { try InputFile.read(directory, field: "config") }, "config \(directory.path): is a directory, expected a regular file")
    XCTAssertEqual(reason { try InputFile.read(URL(fileURLWithPath: "/dev/zero"), field: "config") },
                   "config /dev/zero: is a character device, expected a regular file")
    // must return at once, not wait for a writer
    XCTAssertEqual(reason { try InputFile.read(fifo, field: "config") }, "config \(fifo.path): is a FIFO (named pipe), expected a regular file")
    XCTAssertEqual(reason { try InputFile.read(url("none.json"), field: "config") }, "config \(url("none.json").path): no such file")
    XCTAssertEqual(reason { try InputFile.read(path: "", field: "config") }, "config: the path is empty")
    try "123456789".write(to: url("big.json"), atomically: false, encoding: .utf8)
    XCTAssertEqual(reason { try InputFile.read(url("big.json"), limit: 8) },
                   "\(url("big.json").path): is 9 bytes, more than the limit of 8 bytes for this input")
    try Data([0xff, 0xfe]).write(to: url("bin.txt"))
    XCTAssertThrowsError(try InputFile.text(url("bin.txt")))
  }

  func testFoundationFileErrorsBecomeOneLineWithoutTheRawDomainDump() throws {
    // Data(contentsOf:) on a directory: on Linux an NSCocoaErrorDomain error whose description is a raw dump
    do {
      _ = try Data(contentsOf: directory)
      XCTFail("reading a directory must fail")
    } catch {
      let text = ErrorText.oneLine(error)
      XCTAssertFalse(text.contains("NSCocoaErrorDomain"), text)
      XCTAssertFalse(text.contains("\n"), text)
    }
    do {
      _ = try Data(contentsOf: url("missing"))
    } catch {
      let text = ErrorText.oneLine(error)
      XCTAssertTrue(text.hasPrefix(url("missing").path + ": "), text)
      XCTAssertTrue(text.lowercased().contains("no such file"), text)
    }
    XCTAssertEqual(ErrorText.oneLine(InvalidInput("steps", "first line\nsecond line")), "steps: first line; second line")
  }
}
