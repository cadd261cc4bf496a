import Foundation
import XCTest

@testable import DiffusionCore

final class ShardTests: XCTestCase {
  func testParsesIOfNAndRejectsBadShards() throws {
    XCTAssertEqual(try Shard(parsing: "0/4"), try Shard(index: 0, count: 4))
    XCTAssertEqual(try Shard(parsing: "3/4").name, "3-of-4")
    XCTAssertEqual(try Shard(parsing: "0/1").description, "0/1")
    let bad: [(String, String)] = [
      ("5/4", "must be in 0...3"), ("4/4", "must be in 0...3"), ("-1/4", "must be in 0...3"), ("0/0", "at least 1"),
      ("a/4", "two integers"), ("1/b", "two integers"), ("1", "expected I/N"), ("1/2/3", "expected I/N"), ("", "expected I/N"),
      (" 1/4", "two integers"), ("1/1000000", "at most"),
    ]
    for (text, reason) in bad {
      XCTAssertThrowsError(try Shard(parsing: text), text) { error in
        guard let e = error as? InvalidInput else { return XCTFail("\(text): \(error)") }
        XCTAssertEqual(e.field, "shard")
        XCTAssertTrue(e.reason.contains(reason), "\(text): \(e.reason)")
      }
    }
  }

  /// The blocks are contiguous, disjoint, in shard order and cover every run, for equal and for unequal weights,
  /// and for more shards than runs; equal weights give block sizes that differ by at most one.
  func testRangesPartitionTheRunList() throws {
    let weightLists: [[Double]] = [
      Array(repeating: 1, count: 36), (0..<40).map { Double([5, 10, 20, 40, 80][$0 % 5]) }, [1, 1, 1], [], [0, .nan, 3, -1, 7],
    ]
    for weights in weightLists {
      for n in [1, 2, 3, 4, 7, 50] {
        var next = 0
        for i in 0..<n {
          let r = try Shard(index: i, count: n).range(weights: weights)
          XCTAssertEqual(r.lowerBound, next, "n = \(n), shard \(i), weights \(weights.count)")
          next = r.upperBound
        }
        XCTAssertEqual(next, weights.count, "n = \(n): the shards do not cover the runs")
      }
    }
    for n in [2, 3, 4, 5, 7] {
      let sizes = try (0..<n).map { try Shard(index: $0, count: n).range(runs: 36).count }
      XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1, "n = \(n): \(sizes)")
    }
    // Weighted: the heaviest shard carries at most its fair share plus one run's weight.
    let weights = (0..<40).map { Double([5, 10, 20, 40, 80][$0 % 5]) }
    let total = weights.reduce(0, +)
    for n in [2, 3, 4] {
      for i in 0..<n {
        let load = try Shard(index: i, count: n).range(weights: weights).map { weights[$0] }.reduce(0, +)
        XCTAssertLessThanOrEqual(load, total / Double(n) + 80, "n = \(n), shard \(i)")
      }
    }
  }

  /// FIPS 180-2 test vectors (one block, two blocks, empty).
  func testSHA256KnownVectors() {
    XCTAssertEqual(SHA256.hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    XCTAssertEqual(SHA256.hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    XCTAssertEqual(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                   "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    XCTAssertEqual(SHA256.hex(String(repeating: "a", count: 1000)), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
  }

  func testCodeVersionIsStable() {
    XCTAssertFalse(CodeVersion.current.isEmpty)
    XCTAssertNotEqual(CodeVersion.current, "unknown")
    XCTAssertEqual(CodeVersion.current, CodeVersion.current)
  }
}

final class ShardStoreTests: XCTestCase {
  var root: URL!

  override func setUpWithError() throws {
    root = FileManager.default.temporaryDirectory.appendingPathComponent("shard-store-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

  func manifest(_ i: Int, of n: Int, code: String = "build-id:test", arguments: [String] = ["--steps", "5,10"]) throws -> ShardManifest {
    ShardManifest(study: "convergence", shard: try Shard(index: i, count: n), arguments: arguments, directory: "/",
                  inputs: ["c.json": "00"], code: code, totalRuns: 10, runs: 3)
  }

  func write(_ i: Int, of n: Int, code: String = "build-id:test", text: String? = nil) throws {
    try ShardStore.write(files: [("runs.csv", Data((text ?? "shard \(i)\n").utf8))], manifest: try manifest(i, of: n, code: code), to: root)
  }

  func loadError() -> String {
    do { _ = try ShardStore.load(root); return "" } catch { return "\(error)" }
  }

  func testCompleteShardsLoadInOrderWithVerifiedFiles() throws {
    for i in [2, 0, 1] { try write(i, of: 3) }
    let shards = try ShardStore.load(root)
    XCTAssertEqual(shards.map(\.name), ["0-of-3", "1-of-3", "2-of-3"])
    XCTAssertEqual(String(decoding: try shards[1].file("runs.csv"), as: UTF8.self), "shard 1\n")
    // Rewriting a shard replaces it whole.
    try write(1, of: 3, text: "again\n")
    XCTAssertEqual(String(decoding: try ShardStore.load(root)[1].file("runs.csv"), as: UTF8.self), "again\n")
    // A file changed after the shard finished is refused.
    try Data("tampered\n".utf8).write(to: ShardStore.folder(root).appendingPathComponent("0-of-3/runs.csv"))
    XCTAssertThrowsError(try ShardStore.load(root)[0].file("runs.csv")) { XCTAssertTrue("\($0)".contains("does not match")) }
  }

  func testAFailedShardWriteLeavesNoPartialFolderAndDeadRunsPartialsAreSwept() throws {
    // a write that fails half-way (here: an invalid file name after the first file) removes its hidden folder
    XCTAssertThrowsError(try ShardStore.write(files: [("runs.csv", Data("x\n".utf8)), ("a/b", Data())],
                                              manifest: try manifest(0, of: 2), to: root))
    let shards = ShardStore.folder(root)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: shards.path), [])
    XCTAssertEqual(TemporaryFiles.registered, [])
    // one a killed process of this host left (PID 2147483646 does not exist) is removed by the next shard write; one
    // of another host is not (its process cannot be checked from here)
    let host = ProcessInfo.processInfo.hostName
    for name in [".0-of-2.\(host).2147483646.abcdefgh.partial", ".0-of-2.other-host.2147483646.abcdefgh.partial"] {
      try FileManager.default.createDirectory(at: shards.appendingPathComponent(name), withIntermediateDirectories: true)
    }
    try write(1, of: 2)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: shards.path).sorted(),
                   [".0-of-2.other-host.2147483646.abcdefgh.partial", "1-of-2"])
  }

  func testMissingIncompleteAndKilledShardsAreNamed() throws {
    try write(0, of: 4)
    try write(3, of: 4)
    // A shard killed before its COMPLETE marker: an incomplete folder under its final name (e.g. copied by hand) ...
    try write(1, of: 4)
    try FileManager.default.removeItem(at: ShardStore.folder(root).appendingPathComponent("1-of-4/COMPLETE"))
    // ... and the hidden partial folder a killed writer leaves behind, which merge must not accept.
    let partial = ShardStore.folder(root).appendingPathComponent(".2-of-4.host.123.partial")
    try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
    try Data("half a row".utf8).write(to: partial.appendingPathComponent("runs.csv"))
    let message = loadError()
    XCTAssertTrue(message.contains("1-of-4 incomplete"), message)
    XCTAssertTrue(message.contains("missing 1-of-4, 2-of-4"), message)
    XCTAssertTrue(message.contains(".2-of-4.host.123.partial"), message)
    XCTAssertFalse(message.contains("3-of-4"), message)
  }

  func testMismatchedShardsAreNamedAndRefused() throws {
    try write(0, of: 3)
    try write(1, of: 3, code: "build-id:other")
    try ShardStore.write(files: [("runs.csv", Data())], manifest: try manifest(2, of: 3, arguments: ["--steps", "5"]), to: root)
    let message = loadError()
    XCTAssertTrue(message.contains("1-of-3 differs from 0-of-3 in code version"), message)
    XCTAssertTrue(message.contains("2-of-3 differs from 0-of-3 in options"), message)
    try write(3, of: 5)
    XCTAssertTrue(loadError().contains("shard counts differ"), loadError())
  }

  func testEmptyOrMissingFolderIsAnError() throws {
    XCTAssertTrue(loadError().contains("no shards folder"))
    try FileManager.default.createDirectory(at: ShardStore.folder(root), withIntermediateDirectories: true)
    XCTAssertTrue(loadError().contains("no shards"))
  }

  /// Shards written at the same time (and the same shard twice) never mix their files.
  func testConcurrentWritersDoNotCorruptEachOther() throws {
    let root = self.root!
    let n = 6
    let errors = ErrorBox()
    DispatchQueue.concurrentPerform(iterations: 2 * n) { k in
      do {
        let i = k % n
        let text = String(repeating: "shard \(i)\n", count: 2_000)
        let m = ShardManifest(study: "convergence", shard: try Shard(index: i, count: n), arguments: [], directory: "/",
                              inputs: [:], code: "x", totalRuns: n, runs: 1)
        try ShardStore.write(files: [("runs.csv", Data(text.utf8))], manifest: m, to: root)
      } catch {
        errors.add("\(error)")
      }
    }
    // The same shard written twice at once: one of the two renames may find the other's folder in place; it must
    // fail cleanly or win, never leave a mixture.
    let shards = try ShardStore.load(root)
    XCTAssertEqual(shards.count, n)
    for s in shards {
      XCTAssertEqual(String(decoding: try s.file("runs.csv"), as: UTF8.self), String(repeating: "shard \(s.manifest.shard)\n", count: 2_000))
    }
    XCTAssertLessThanOrEqual(errors.count, n, errors.all.joined(separator: "\n"))
  }
}

final class ErrorBox: @unchecked Sendable {
  private let lock = NSLock()
  private var items: [String] = []
  func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
  var count: Int { lock.lock(); defer { lock.unlock() }; return items.count }
  var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}
