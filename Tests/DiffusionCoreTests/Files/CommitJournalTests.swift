import Foundation
import XCTest

@testable import DiffusionCore

/// A multi-file commit into an existing folder is journaled: a run killed after the journal was written is finished
/// by the next run into the folder (all-new); one killed before it leaves the folder as it was (all-old).
final class CommitJournalTests: FileTestCase {
  /// A dead run's staging folder (PID 2147483646 does not exist) beside or inside `target`, holding `files`.
  func deadStaging(_ target: URL, inside: Bool = false, files: [String: String]) throws -> URL {
    let staging = inside ? target.appendingPathComponent(".\(OutputFolder.insideName).2147483646.tmp")
                         : target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).2147483646.tmp")
    for (name, text) in files {
      let url = staging.appendingPathComponent(name)
      try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try text.write(to: url, atomically: false, encoding: .utf8)
    }
    return staging
  }

  func oldFolder(_ name: String) throws -> URL {
    let target = url(name)
    try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
    for file in ["a.csv", "b.svg", "keep.txt"] { try "old \(file)".write(to: target.appendingPathComponent(file), atomically: false, encoding: .utf8) }
    return target
  }

  func contents(_ folder: URL) throws -> [String: String] {
    var out: [String: String] = [:]
    for name in OutputFolder.files(in: folder) { out[name] = try text(folder.appendingPathComponent(name)) }
    return out
  }

  func testAKilledCommitWithItsJournalIsFinishedByTheNextRun() throws {
    let target = try oldFolder("study")
    let staging = try deadStaging(target, files: ["a.csv": "new a", "b.svg": "new b"])
    try CommitJournal.write(["a.csv", "b.svg"], in: staging)
    // the kill came after the first rename: a.csv is new, b.svg still old
    try FileManager.default.removeItem(at: target.appendingPathComponent("a.csv"))
    try FileManager.default.moveItem(at: staging.appendingPathComponent("a.csv"), to: target.appendingPathComponent("a.csv"))
    XCTAssertEqual(try contents(target), ["a.csv": "new a", "b.svg": "old b.svg", "keep.txt": "old keep.txt"], "the mix a kill left")
    let next = try OutputFolder(target, field: "out")
    XCTAssertEqual(try contents(target), ["a.csv": "new a", "b.svg": "new b", "keep.txt": "old keep.txt"], "all-new before the next run starts")
    XCTAssertEqual(names(), [".study.\(getpid()).tmp", "study"], "the dead run's staging folder is gone")
    next.discard()
  }

  func testAKilledRunWithoutAJournalLeavesTheFolderAsItWas() throws {
    let target = try oldFolder("study")
    _ = try deadStaging(target, files: ["a.csv": "new a", "b.svg": "new b"])
    let next = try OutputFolder(target, field: "out")
    XCTAssertEqual(try contents(target), ["a.csv": "old a.csv", "b.svg": "old b.svg", "keep.txt": "old keep.txt"])
    XCTAssertEqual(names(), [".study.\(getpid()).tmp", "study"])
    next.discard()
  }

  func testAJournalInsideTheTargetIsFinishedToo() throws {
    let target = try oldFolder("out")
    let staging = try deadStaging(target, inside: true, files: ["b.svg": "new b", "sub/c.json": "new c"])
    try CommitJournal.write(["b.svg", "sub/c.json"], in: staging)
    let next = try OutputFolder(target, field: "out")
    XCTAssertEqual(try contents(target), ["a.csv": "old a.csv", "b.svg": "new b", "keep.txt": "old keep.txt", "sub/c.json": "new c"])
    XCTAssertEqual(names(target), ["a.csv", "b.svg", "keep.txt", "sub"])
    next.discard()
  }

  func testAnIncompleteJournalIsNoJournal() throws {
    let staging = url(".x.2147483646.tmp")
    try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
    try "adjointdeis-commit 1\na.csv".write(to: staging.appendingPathComponent(CommitJournal.name), atomically: false, encoding: .utf8)
    XCTAssertNil(CommitJournal.read(in: staging), "no final newline: cut short")
    try CommitJournal.write(["a.csv", "sub/b.csv"], in: staging)
    XCTAssertEqual(CommitJournal.read(in: staging), ["a.csv", "sub/b.csv"])
    try CommitJournal.write(["a.csv", "../outside.csv"], in: staging)
    XCTAssertNil(CommitJournal.read(in: staging), "a path leaving the folder is no journal")
  }

  func testCommitOfSubfoldersIntoAnExistingFolder() throws {
    let target = try oldFolder("pipeline")
    let folder = try OutputFolder(target, field: "out")
    try FileManager.default.createDirectory(at: folder.url("unet"), withIntermediateDirectories: true)
    try "{}".write(to: folder.url("unet/config.json"), atomically: false, encoding: .utf8)
    try folder.write("new a", as: "a.csv")
    XCTAssertEqual(folder.stagedNames, ["a.csv", "unet/config.json"])
    let written = try folder.commit()
    XCTAssertEqual(written.map { $0.path }, [target.appendingPathComponent("a.csv").path, target.appendingPathComponent("unet/config.json").path])
    XCTAssertEqual(try contents(target), ["a.csv": "new a", "b.svg": "old b.svg", "keep.txt": "old keep.txt", "unet/config.json": "{}"])
    XCTAssertEqual(names(), ["pipeline"])
    XCTAssertEqual(TemporaryFiles.registered, [])
  }

  func testAFileWhereASubfolderGoesIsRefusedBeforeAnyRename() throws {
    let target = try oldFolder("pipeline")
    try "a file".write(to: target.appendingPathComponent("unet"), atomically: false, encoding: .utf8)
    let folder = try OutputFolder(target, field: "out")
    try folder.write("new a", as: "a.csv")
    try FileManager.default.createDirectory(at: folder.url("unet"), withIntermediateDirectories: true)
    try "{}".write(to: folder.url("unet/config.json"), atomically: false, encoding: .utf8)
    XCTAssertThrowsError(try folder.commit()) { XCTAssertTrue("\($0)".contains("unet/config.json"), "\($0)") }
    XCTAssertEqual(try text(target.appendingPathComponent("a.csv")), "old a.csv", "nothing moved")
    folder.discard()
  }
}
