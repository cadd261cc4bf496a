import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The one way the project writes an output file.
///
/// - A symbolic link is followed to its final target; the target is replaced and the link kept.
/// - A character device or FIFO (`/dev/null`, `/dev/stdout`, a named pipe) is written through, never replaced.
///   Block devices, sockets and directories are refused.
/// - A regular file (or a new one) is written whole: into `.NAME.PID.tmp` beside it, flushed to disk, then renamed
///   over it; an existing file keeps its permissions. On any failure the temporary file is removed and the target is
///   untouched; on SIGINT/SIGTERM `TemporaryFiles` removes it. Stale temporaries of dead processes are swept first.
///
/// Every failure is an `InvalidInput` naming the path and saying why (e.g. "No space left on device").
public enum OutputFile {
  public static func write(_ text: String, to url: URL) throws {
    try write(Data(text.utf8), to: url)
  }

  public static func write(_ data: Data, to url: URL) throws {
    let target = try destination(url)
    switch try FileKind.of(target.path, follow: false) {
    case .characterDevice, .fifo:
      try writeThrough(data, to: target, named: url.path)
    default:
      TemporaryFiles.sweepStale(for: target)
      let temporary = TemporaryFiles.temporary(for: target)
      TemporaryFiles.register(temporary)
      defer { TemporaryFiles.unregister(temporary) }
      do {
        try writeNew(data, to: temporary, mode: permissions(of: target))
        try rename(temporary, over: target)
      } catch {
        unlink(temporary.path)
        throw InvalidInput(url.path, reason(error))
      }
    }
  }

  /// Moves a finished file (written elsewhere on the same file system, e.g. by `OutputFolder`) to `url` with the same
  /// rules as `write`: through a device or FIFO, to a symbolic link's target, replacing a regular file in one rename.
  public static func place(_ finished: URL, at url: URL) throws {
    let target = try destination(url)
    switch try FileKind.of(target.path, follow: false) {
    case .characterDevice, .fifo:
      try writeThrough(try InputFile.read(finished, limit: Int.max), to: target, named: url.path)
      unlink(finished.path)
    default:
      if Glibc.rename(finished.path, target.path) != 0 {
        let code = errno
        guard code == EXDEV else { throw InvalidInput(url.path, "cannot move into place: \(Errno.text(code))") }
        try write(try InputFile.read(finished, limit: Int.max), to: target)  // another file system: copy whole
        unlink(finished.path)
      }
    }
  }

  /// Checks, before any work, that `url` can be written: its directory exists and it is not a directory, block
  /// device or socket. Creates nothing.
  public static func checkWritable(_ url: URL) throws {
    _ = try destination(url)
  }

  /// The path to write: symbolic links followed to their final target (which may not exist yet), checked to be a
  /// writable kind in an existing directory.
  public static func destination(_ url: URL) throws -> URL {
    guard !url.path.isEmpty, !url.lastPathComponent.isEmpty else { throw InvalidInput(url.path, "the path is empty") }
    let target = try resolvingLinks(url)
    let kind = try FileKind.of(target.path, follow: false)
    switch kind {
    case .missing, .regular, .characterDevice, .fifo: break
    case .directory: throw InvalidInput(url.path, "is a directory, expected a file path")
    default: throw InvalidInput(url.path, "is \(kind.phrase); refusing to write to it")
    }
    if kind == .missing || kind == .regular {
      let directory = target.deletingLastPathComponent()
      let parent = try FileKind.of(directory.path, follow: true)
      guard parent == .directory else {
        throw InvalidInput(url.path, parent == .missing ? "the directory \(directory.path) does not exist"
                                                        : "\(directory.path) is \(parent.phrase), not a directory")
      }
    }
    return target
  }

  /// Follows symbolic links at the last component until a non-link (or a missing path); at most 40 hops.
  public static func resolvingLinks(_ url: URL) throws -> URL {
    var current = url.standardizedFileURL
    for _ in 0..<40 {
      guard try FileKind.of(current.path, follow: false) == .symbolicLink else { return current }
      let link: String
      do { link = try FileManager.default.destinationOfSymbolicLink(atPath: current.path) } catch {
        throw InvalidInput(url.path, "cannot read the symbolic link \(current.path)")
      }
      current = link.hasPrefix("/")
        ? URL(fileURLWithPath: link).standardizedFileURL
        : current.deletingLastPathComponent().appendingPathComponent(link).standardizedFileURL
    }
    throw InvalidInput(url.path, "too many levels of symbolic links")
  }

  // MARK: - System calls

  static func writeThrough(_ data: Data, to target: URL, named name: String) throws {
    let fd = open(target.path, O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { throw InvalidInput(name, "cannot open for writing: \(Errno.text(errno))") }
    defer { close(fd) }
    if let code = writeAll(fd, data) { throw InvalidInput(name, "cannot write: \(Errno.text(code))") }
  }

  /// Creates `url` (which must not be in use by anyone else: it is this process's temporary), writes, syncs, closes.
  static func writeNew(_ data: Data, to url: URL, mode: mode_t) throws {
    unlink(url.path)  // a leftover of this PID (a recycled PID of a killed run)
    let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
    guard fd >= 0 else { throw SystemError(errno, "cannot create a temporary file") }
    if let code = writeAll(fd, data) {
      close(fd)
      throw SystemError(code, "cannot write")
    }
    if fsync(fd) != 0 {
      let code = errno
      close(fd)
      if code != EINVAL && code != EROFS { throw SystemError(code, "cannot write") }  // EINVAL: no sync on this file
      return
    }
    if close(fd) != 0 { throw SystemError(errno, "cannot write") }
  }

  static func rename(_ from: URL, over to: URL) throws {
    if Glibc.rename(from.path, to.path) != 0 { throw SystemError(errno, "cannot rename the temporary file into place") }
  }

  /// An existing regular file's permission bits; for a new file, read-write for all (the umask applies).
  static func permissions(of target: URL) -> mode_t {
    var s = stat()
    guard lstat(target.path, &s) == 0, s.st_mode & S_IFMT == S_IFREG else { return 0o666 }
    return s.st_mode & 0o7777
  }

  /// Writes every byte, retrying short writes and EINTR; the errno on failure.
  static func writeAll(_ fd: Int32, _ data: Data) -> Int32? {
    data.withUnsafeBytes { buffer -> Int32? in
      guard var pointer = buffer.baseAddress else { return nil }
      var left = buffer.count
      while left > 0 {
        let n = Glibc.write(fd, pointer, min(left, 1 << 30))
        if n < 0 {
          if errno == EINTR { continue }
          return errno
        }
        if n == 0 { return EIO }
        pointer += n
        left -= n
      }
      return nil
    }
  }

  static func reason(_ error: Error) -> String {
    if let e = error as? SystemError { return e.description }
    if let e = error as? InvalidInput { return e.reason }
    return ErrorText.oneLine(error)
  }
}

/// A failed system call: what was attempted and the errno's text.
struct SystemError: Error, CustomStringConvertible {
  let code: Int32
  let action: String
  init(_ code: Int32, _ action: String) {
    self.code = code
    self.action = action
  }
  var description: String { "\(action): \(Errno.text(code))" }
}
