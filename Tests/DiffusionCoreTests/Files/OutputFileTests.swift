import Foundation
import XCTest

@testable import DiffusionCore

#if canImport(Glibc)
  import Glibc
#endif

/// `OutputFile`: whole-file replacement of regular files, write-through of devices and FIFOs, symbolic links followed,
/// no temporary file left behind on failure, stale temporaries of dead processes swept.
final class OutputFileTests: FileTestCase {
  func testWritesANewFileAndReplacesAnExistingOneKeepingItsPermissions() throws {
    let target = url("out.csv")
    try OutputFile.write("first\n", to: target)
    XCTAssertEqual(try text(target), "first\n")
    chmod(target.path, 0o640)
    try OutputFile.write("second\n", to: target)
    XCTAssertEqual(try text(target), "second\n")
    XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: target.path)[.posixPermissions] as? Int), 0o640)
    XCTAssertEqual(names(), ["out.csv"], "no temporary file left")
    XCTAssertEqual(TemporaryFiles.registered, [])
  }

  func testDevNullIsWrittenThroughAndStaysADevice() throws {
    let null = URL(fileURLWithPath: "/dev/null")
    XCTAssertEqual(fileKind(null), S_IFCHR)
    try OutputFile.write(Data(repeating: 7, count: 100_000), to: null)
    XCTAssertEqual(fileKind(null), S_IFCHR, "/dev/null must stay a character device")
    XCTAssertFalse(FileManager.default.fileExists(atPath: "/dev/.null.\(getpid()).tmp"))
  }

  func testDevFullFailsWithTheSystemsReason() throws {
    let full = URL(fileURLWithPath: "/dev/full")
    guard fileKind(full) == S_IFCHR else { throw XCTSkip("no /dev/full") }
    XCTAssertThrowsError(try OutputFile.write("x", to: full)) { error in
      let e = error as? InvalidInput
      XCTAssertEqual(e?.field, "/dev/full")
      XCTAssertTrue(e?.reason.contains("No space left on device") ?? false, "\(error)")
    }
    XCTAssertEqual(fileKind(full), S_IFCHR)
  }

  func testAFIFOIsWrittenThroughAndStaysAFIFO() throws {
    let fifo = try makeFIFO("pipe")
    let received = drain(fifo)
    let payload = Data((0..<200_000).map { UInt8($0 % 251) })  // more than a pipe buffer
    try OutputFile.write(payload, to: fifo)
    XCTAssertEqual(received(), payload)
    XCTAssertEqual(fileKind(fifo), S_IFIFO)
    XCTAssertEqual(names(), ["pipe"])
  }

  func testASymbolicLinkIsFollowedItsTargetReplacedAndTheLinkKept() throws {
    try FileManager.default.createDirectory(at: url("real"), withIntermediateDirectories: true)
    try "old".write(to: url("real/data.csv"), atomically: false, encoding: .utf8)
    try FileManager.default.createSymbolicLink(atPath: url("link1").path, withDestinationPath: "real/data.csv")
    try FileManager.default.createSymbolicLink(atPath: url("link2").path, withDestinationPath: url("link1").path)
    try OutputFile.write("new", to: url("link2"))
    XCTAssertEqual(fileKind(url("link1")), S_IFLNK)
    XCTAssertEqual(fileKind(url("link2")), S_IFLNK)
    XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: url("link1").path), "real/data.csv")
    XCTAssertEqual(try text(url("real/data.csv")), "new")
    XCTAssertEqual(names(url("real")), ["data.csv"], "the temporary file was made beside the target and renamed")
    // a dangling link: its target is created
    try FileManager.default.createSymbolicLink(atPath: url("dangling").path, withDestinationPath: "real/fresh.csv")
    try OutputFile.write("fresh", to: url("dangling"))
    XCTAssertEqual(try text(url("real/fresh.csv")), "fresh")
    XCTAssertEqual(fileKind(url("dangling")), S_IFLNK)
  }

  func testALinkLoopIsAnError() throws {
    try FileManager.default.createSymbolicLink(atPath: url("a").path, withDestinationPath: "b")
    try FileManager.default.createSymbolicLink(atPath: url("b").path, withDestinationPath: "a")
    XCTAssertThrowsError(try OutputFile.write("x", to: url("a"))) { error in
      XCTAssertTrue("\(error)".contains("too many levels of symbolic links"), "\(error)")
    }
  }

  func testDirectoriesAndMissingFoldersAreRefusedNamingThePath() throws {
    XCTAssertThrowsError(try OutputFile.write("x", to: directory)) { error in
      XCTAssertTrue((error as? InvalidInput)?.reason.contains("is a directory") ?? false, "\(error)")
    }
    XCTAssertThrowsError(try OutputFile.write("x", to: url("missing/out.csv"))) { error in
      XCTAssertEqual((error as? InvalidInput)?.field, url("missing/out.csv").path)
      XCTAssertTrue((error as? InvalidInput)?.reason.contains("does not exist") ?? false, "\(error)")
    }
    XCTAssertNoThrow(try OutputFile.checkWritable(url("fine.csv")))
    XCTAssertThrowsError(try OutputFile.checkWritable(directory))
    XCTAssertEqual(names(), [], "checkWritable creates nothing")
  }

  func testAFailedWriteLeavesNoTemporaryFileAndTheTargetUntouched() throws {
    let target = url("weights.safetensors")
    try OutputFile.write("the previous version", to: target)
    try withFileSizeLimit(4096) {
      XCTAssertThrowsError(try OutputFile.write(Data(count: 100_000), to: target)) { error in
        XCTAssertEqual((error as? InvalidInput)?.field, target.path)
        XCTAssertTrue((error as? InvalidInput)?.reason.contains("cannot write") ?? false, "\(error)")
      }
    }
    XCTAssertEqual(names(), ["weights.safetensors"], "the temporary file is removed")
    XCTAssertEqual(try text(target), "the previous version")
    XCTAssertEqual(TemporaryFiles.registered, [])
  }

  func testStaleTemporariesOfDeadProcessesAreSweptOthersKept() throws {
    let target = url("out.csv")
    let dead = url(".out.csv.2147483646.tmp")  // no such process (above any pid_max)
    let alive = url(".out.csv.\(getppid()).tmp")  // the test runner's parent: alive
    let other = url(".other.csv.2147483646.tmp")  // another target's
    let odd = url(".out.csv.12ab.tmp")  // not a PID
    for u in [dead, alive, other, odd] { try "junk".write(to: u, atomically: false, encoding: .utf8) }
    try FileManager.default.createDirectory(at: url(".out.csv.2147483645.tmp"), withIntermediateDirectories: true)
    try OutputFile.write("ok", to: target)
    // sorted: where the live parent's PID falls among the names depends on the machine
    XCTAssertEqual(names(), [".other.csv.2147483646.tmp", ".out.csv.12ab.tmp", ".out.csv.\(getppid()).tmp", "out.csv"].sorted())
  }

  func testTemporaryFilesRemoveAllRemovesRegisteredFilesAndFolders() throws {
    let file = url(".x.1.tmp"), folder = url(".y.1.tmp")
    TemporaryFiles.register(file)
    TemporaryFiles.register(folder)
    try "partial".write(to: file, atomically: false, encoding: .utf8)
    try FileManager.default.createDirectory(at: folder.appendingPathComponent("inner"), withIntermediateDirectories: true)
    TemporaryFiles.removeAll()
    XCTAssertEqual(names(), [])
    XCTAssertEqual(TemporaryFiles.registered, [])
  }
}
