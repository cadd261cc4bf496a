import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The process's standard streams. `FileHandle.standardError.write` traps (SIGILL) when the write fails (stderr
/// closed, /dev/full, a disk full); messages go through `StandardStreams.error` instead, which writes with write(2)
/// and drops what cannot be written: diagnostics are not the command's product, and its exit status still says how
/// it ended. A stream closed at start (`2>&-`) is reopened on /dev/full, so that the first file the command opens
/// does not get descriptor 0, 1 or 2 (stdout's output would land in it) and a write to closed stdout fails as an
/// error at exit (CommandLineRunner's flush check) instead of vanishing.
public enum StandardStreams {
  nonisolated(unsafe) private static var closed: Set<Int32> = []

  /// Reopens each of descriptors 0, 1, 2 that is closed (stdin on /dev/null, stdout and stderr on /dev/full).
  /// Call first thing, before any file is opened.
  public static func reopenClosed() {
    for fd: Int32 in [0, 1, 2] where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
      let opened = open(fd == 0 ? "/dev/null" : "/dev/full", fd == 0 ? O_RDONLY : O_WRONLY)
      // open returns the lowest free descriptor, which is fd itself (those below it are open or were reopened)
      if opened >= 0, opened != fd {
        dup2(opened, fd)
        close(opened)
      }
      closed.insert(fd)
    }
  }

  /// Whether stdout (1) or stderr (2) was closed when the process started.
  public static func wasClosed(_ fd: Int32) -> Bool { closed.contains(fd) }

  /// Writes `text` plus a newline to stderr; returns false if any of it could not be written.
  @discardableResult
  public static func error(_ text: String) -> Bool {
    let bytes = Array((text + "\n").utf8)
    var done = 0
    while done < bytes.count {
      let n = bytes[done...].withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
      if n > 0 {
        done += n
      } else if n < 0, errno == EINTR {
        continue
      } else {
        return false
      }
    }
    return true
  }
}
