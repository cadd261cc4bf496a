import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What is at a path, from `lstat` (the path itself) or `stat` (following symbolic links).
public enum FileKind: Equatable, Sendable {
  case missing, regular, directory, symbolicLink, characterDevice, blockDevice, fifo, socket

  /// The kind at `path`; `follow` resolves symbolic links. A path that cannot be examined (other than missing)
  /// throws, naming the path.
  public static func of(_ path: String, follow: Bool) throws -> FileKind {
    var s = stat()
    let result = follow ? stat(path, &s) : lstat(path, &s)
    if result != 0 {
      let code = errno
      if code == ENOENT || code == ENOTDIR { return .missing }
      throw InvalidInput(path, "cannot examine: \(Errno.text(code))")
    }
    return FileKind(mode: s.st_mode)
  }

  init(mode: mode_t) {
    switch mode & S_IFMT {
    case S_IFREG: self = .regular
    case S_IFDIR: self = .directory
    case S_IFLNK: self = .symbolicLink
    case S_IFCHR: self = .characterDevice
    case S_IFBLK: self = .blockDevice
    case S_IFIFO: self = .fifo
    default: self = .socket
    }
  }

  /// "a directory", "a FIFO", ... for error messages.
  public var phrase: String {
    switch self {
    case .missing: return "missing"
    case .regular: return "a regular file"
    case .directory: return "a directory"
    case .symbolicLink: return "a symbolic link"
    case .characterDevice: return "a character device"
    case .blockDevice: return "a block device"
    case .fifo: return "a FIFO (named pipe)"
    case .socket: return "a socket"
    }
  }
}

/// The text of a C `errno`, e.g. "No space left on device".
public enum Errno {
  public static func text(_ code: Int32) -> String {
    guard let message = strerror(code) else { return "errno \(code)" }
    return String(cString: message)
  }

  /// Whether process `pid` exists (signal 0 probes without sending; EPERM means it exists but is not ours).
  public static func processAlive(_ pid: Int32) -> Bool {
    guard pid > 0 else { return false }
    return kill(pid, 0) == 0 || errno == EPERM
  }
}
