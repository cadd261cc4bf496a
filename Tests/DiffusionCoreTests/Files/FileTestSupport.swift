import Foundation
import XCTest

#if canImport(Glibc)
  import Glibc
#endif

/// A fresh directory per test, removed afterwards.
class FileTestCase: XCTestCase {
  var directory: URL!

  override func setUpWithError() throws {
    directory = URL(fileURLWithPath: NSTemporaryDirectory())
      .appendingPathComponent("adjointdeis-files-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: directory)
  }

  func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

  /// Every name in the test directory (hidden ones too), sorted.
  func names(_ dir: URL? = nil) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: (dir ?? directory).path)) ?? []).sorted()
  }

  func text(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }

  func makeFIFO(_ name: String) throws -> URL {
    let fifo = url(name)
    guard mkfifo(fifo.path, 0o600) == 0 else { throw XCTSkip("mkfifo failed: errno \(errno)") }
    return fifo
  }

  /// Reads a FIFO to its end on another thread (opening it blocks until a writer comes).
  func drain(_ fifo: URL) -> () -> Data {
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var received = Data()
    DispatchQueue.global().async {
      if let handle = FileHandle(forReadingAtPath: fifo.path) { received = handle.readDataToEndOfFile() }
      done.signal()
    }
    return {
      done.wait()
      return received
    }
  }

  func fileKind(_ url: URL) -> mode_t {
    var s = stat()
    lstat(url.path, &s)
    return s.st_mode & S_IFMT
  }

  /// Runs `body` with writes of regular files limited to `bytes` (RLIMIT_FSIZE): larger writes fail with EFBIG,
  /// the failure a full disk gives, without needing one. SIGXFSZ is ignored meanwhile so the write returns the error.
  func withFileSizeLimit(_ bytes: rlim_t, _ body: () throws -> Void) throws {
    var old = rlimit()
    getrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &old)
    let oldHandler = signal(SIGXFSZ, SIG_IGN)
    var limited = old
    limited.rlim_cur = bytes
    guard setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limited) == 0 else { throw XCTSkip("setrlimit failed") }
    defer {
      setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &old)
      signal(SIGXFSZ, oldHandler)
    }
    try body()
  }
}
