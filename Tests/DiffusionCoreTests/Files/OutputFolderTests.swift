import Foundation
import XCTest

@testable import DiffusionCore

/// `OutputFolder`: a run's files reach the target together at `commit`, or not at all.
final class OutputFolderTests: FileTestCase {
  func testNothingReachesTheTargetBeforeCommitThenAllFilesTogether() throws {
    let target = url("study")
    let folder = try OutputFolder(target, field: "out")
    XCTAssertEqual(names(), [".study.\(getpid()).tmp"], "only the staging folder, beside the target")
    XCTAssertEqual(TemporaryFiles.registered, [folder.staging.path])
    try folder.write("a,b\n", as: "study.csv")
    try folder.write("<svg/>", as: "plot.svg")
    XCTAssertFalse(FileManager.default.fileExists(atPath: target.path))
    let written = try folder.commit()
    XCTAssertEqual(written.map(\.lastPathComponent), ["plot.svg", "study.csv"])
    XCTAssertEqual(names(), ["study"])
    XCTAssertEqual(names(target), ["plot.svg", "study.csv"])
    XCTAssertEqual(TemporaryFiles.registered, [])
  }

  func testCommitIntoAnExistingFolderReplacesNamesakesAndKeepsOtherFiles() throws {
    let target = url("results")
    try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
    try "other study".write(to: target.appendingPathComponent("other.csv"), atomically: false, encoding: .utf8)
    try "old".write(to: target.appendingPathComponent("mine.csv"), atomically: false, encoding: .utf8)
    let folder = try OutputFolder(target, field: "out")
    try folder.write("new", as: "mine.csv")
    try folder.write("fresh", as: "mine.svg")
    XCTAssertEqual(try text(target.appendingPathComponent("mine.csv")), "old", "untouched before commit")
    try folder.commit()
    XCTAssertEqual(names(target), ["mine.csv", "mine.svg", "other.csv"])
    XCTAssertEqual(try text(target.appendingPathComponent("mine.csv")), "new")
    XCTAssertEqual(try text(target.appendingPathComponent("other.csv")), "other study")
    XCTAssertEqual(names(), ["results"])
  }

  func testARunThatFailsLeavesTheTargetAsItWas() throws {
    let target = url("morph")
    try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
    try "old table".write(to: target.appendingPathComponent("table.csv"), atomically: false, encoding: .utf8)
    let folder = try OutputFolder(target, field: "out")
    try folder.write("new table", as: "table.csv")
    // the third file fails (writes limited as on a full disk): the run ends with the error, nothing is committed
    try withFileSizeLimit(4096) {
      XCTAssertThrowsError(try folder.write(Data(count: 50_000), as: "grid.png")) { error in
        XCTAssertEqual((error as? InvalidInput)?.field, target.appendingPathComponent("grid.png").path, "named by its final path")
      }
      XCTAssertThrowsError(try folder.writing { try OutputFile.write(Data(count: 50_000), to: $0.appendingPathComponent("b.png")) }) {
        XCTAssertEqual(($0 as? InvalidInput)?.field, target.appendingPathComponent("b.png").path)
      }
    }
    TemporaryFiles.removeAll()  // what the CLI does on every exit
    XCTAssertEqual(names(), ["morph"], "no staging folder left")
    XCTAssertEqual(names(target), ["table.csv"])
    XCTAssertEqual(try text(target.appendingPathComponent("table.csv")), "old table")
  }

  func testDiscardRemovesTheStagedFiles() throws {
    let folder = try OutputFolder(url("out"), field: "out")
    try folder.write("x", as: "a.csv")
    folder.discard()
    XCTAssertEqual(names(), [])
    XCTAssertThrowsError(try folder.write("y", as: "b.csv"), "a finished folder takes no more files")
  }

  func testAFileInTheWayAndMissingParentsAreHandled() throws {
    try "not a folder".write(to: url("file"), atomically: false, encoding: .utf8)
    XCTAssertThrowsError(try OutputFolder(url("file"), field: "out")) { error in
      XCTAssertEqual((error as? InvalidInput)?.field, "out \(url("file").path)")
      XCTAssertTrue((error as? InvalidInput)?.reason.contains("expected a directory") ?? false, "\(error)")
    }
    let nested = try OutputFolder(url("a/b/c"), field: "out")  // parents created, the folder itself at commit
    try nested.write("x", as: "x.txt")
    try nested.commit()
    XCTAssertEqual(names(url("a/b/c")), ["x.txt"])
    XCTAssertThrowsError(try OutputFolder("", field: "out"))
  }

  func testASymbolicLinkToAFolderIsFollowed() throws {
    try FileManager.default.createDirectory(at: url("real"), withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: url("alias").path, withDestinationPath: "real")
    let folder = try OutputFolder(url("alias"), field: "out")
    try folder.write("x", as: "x.txt")
    try folder.commit()
    XCTAssertEqual(names(url("real")), ["x.txt"])
    XCTAssertEqual(fileKind(url("alias")), S_IFLNK)
  }

  func testAStagedFileOverADeviceOrLinkFollowsOutputFileRules() throws {
    try FileManager.default.createDirectory(at: url("out"), withIntermediateDirectories: true)
    try "old".write(to: url("real.csv"), atomically: false, encoding: .utf8)
    try FileManager.default.createSymbolicLink(atPath: url("out/linked.csv").path, withDestinationPath: url("real.csv").path)
    try FileManager.default.createSymbolicLink(atPath: url("out/null.csv").path, withDestinationPath: "/dev/null")
    let folder = try OutputFolder(url("out"), field: "out")
    try folder.write("new", as: "linked.csv")
    try folder.write("discarded", as: "null.csv")
    try folder.commit()
    XCTAssertEqual(try text(url("real.csv")), "new")
    XCTAssertEqual(fileKind(url("out/linked.csv")), S_IFLNK)
    XCTAssertEqual(fileKind(URL(fileURLWithPath: "/dev/null")), S_IFCHR)
    XCTAssertEqual(names(), ["out", "real.csv"])
  }

  func testAStaleStagingFolderOfADeadRunIsSwept() throws {
    let stale = url(".out.2147483646.tmp")
    try FileManager.default.createDirectory(at: stale, withIntermediateDirectories: true)
    try "partial".write(to: stale.appendingPathComponent("big.safetensors"), atomically: false, encoding: .utf8)
    let folder = try OutputFolder(url("out"), field: "out")
    XCTAssertEqual(names(), [".out.\(getpid()).tmp"])
    folder.discard()
  }
}
