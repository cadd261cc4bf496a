import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The list of files a multi-file commit moves (`OutputFolder.commit`), kept in its staging folder as
/// `.commit-journal`: a first line `adjointdeis-commit 1`, then one relative path per line. It is written to a
/// temporary name, flushed to disk and renamed, so it exists whole or not at all; its existence means "roll forward".
enum CommitJournal {
  static let name = ".commit-journal"
  static let header = "adjointdeis-commit 1"

  static func write(_ names: [String], in staging: URL) throws {
    if let bad = names.first(where: { $0.contains("\n") || $0.isEmpty }) {
      throw InvalidInput(staging.path, "cannot journal the file name \(bad.debugDescription)")
    }
    let text = ([header] + names).joined(separator: "\n") + "\n"
    let temporary = staging.appendingPathComponent(name + ".tmp"), final = staging.appendingPathComponent(name)
    let fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw InvalidInput(staging.path, "cannot write the commit journal: \(Errno.text(errno))") }
    let bytes = Array(text.utf8)
    var done = 0
    while done < bytes.count {
      let n = bytes[done...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else {
        let code = errno
        close(fd)
        unlink(temporary.path)
        throw InvalidInput(staging.path, "cannot write the commit journal: \(Errno.text(code))")
      }
      done += n
    }
    let synced = fsync(fd) == 0
    close(fd)
    guard synced, rename(temporary.path, final.path) == 0 else {
      let code = errno
      unlink(temporary.path)
      throw InvalidInput(staging.path, "cannot write the commit journal: \(Errno.text(code))")
    }
  }

  /// The journaled names, or nil if there is no (complete) journal.
  static func read(in staging: URL) -> [String]? {
    guard let data = try? InputFile.read(staging.appendingPathComponent(name)), let text = String(data: data, encoding: .utf8) else {
      return nil
    }
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    guard lines.first == header, lines.last == "" else { return nil }
    lines.removeFirst()
    lines.removeLast()
    // relative paths below the folder only: a damaged or planted journal must not move files elsewhere
    guard lines.allSatisfy({ !$0.isEmpty && !$0.hasPrefix("/") && !$0.split(separator: "/").contains("..") }) else { return nil }
    return lines
  }
}
