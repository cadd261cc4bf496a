import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Opens and reads an input file with errors that say what is wrong: missing, a directory, a FIFO or device (refused:
/// reading those could block forever or never end), unreadable, or larger than the caller's limit (checked from the
/// size before any byte is read, and again while reading). Every error is an `InvalidInput` naming the file.
public enum InputFile {
  /// The default limit for configuration files (JSON): far above any real config, far below memory.
  public static let configLimit = 64 << 20
  /// The default limit for tensor files (safetensors).
  public static let tensorLimit = 16 << 30

  /// The whole file. `field` (e.g. "config") prefixes the path in errors: "config /x.json: is a directory".
  public static func read(_ url: URL, field: String? = nil, limit: Int = configLimit) throws -> Data {
    try read(path: url.path, field: field, limit: limit)
  }

  public static func read(path: String, field: String? = nil, limit: Int = configLimit) throws -> Data {
    let what = field.map { "\($0) \(path)" } ?? path
    let (fd, size) = try openRegular(path: path, field: field)
    defer { close(fd) }
    guard size <= limit else {
      throw InvalidInput(what, "is \(size) bytes, more than the limit of \(limit) bytes for this input")
    }
    var data = Data(count: size)
    var total = 0
    let failure: Int32? = data.withUnsafeMutableBytes { buffer -> Int32? in
      guard let base = buffer.baseAddress else { return nil }
      while total < size {
        let n = readBytes(fd, base + total, size - total)
        if n < 0 {
          if errno == EINTR { continue }
          return errno
        }
        if n == 0 { break }
        total += n
      }
      return nil
    }
    if let failure { throw InvalidInput(what, "cannot read: \(Errno.text(failure))") }
    if total < size { data.removeSubrange(total..<size) }  // the file shrank while being read
    // A file that grew while being read: take what follows, still within the limit.
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
      let n = chunk.withUnsafeMutableBytes { readBytes(fd, $0.baseAddress, $0.count) }
      if n < 0 {
        if errno == EINTR { continue }
        throw InvalidInput(what, "cannot read: \(Errno.text(errno))")
      }
      if n == 0 { break }
      guard data.count + n <= limit else {
        throw InvalidInput(what, "grew past the limit of \(limit) bytes for this input while being read")
      }
      data.append(contentsOf: chunk[0..<n])
    }
    return data
  }

  /// The first `count` bytes of the file (fewer if it is shorter), with the same checks as `read`: for sniffing a
  /// format without reading the whole file.
  public static func prefix(_ url: URL, count: Int, field: String? = nil) throws -> Data {
    let what = field.map { "\($0) \(url.path)" } ?? url.path
    let (fd, _) = try openRegular(path: url.path, field: field)
    defer { close(fd) }
    var bytes = [UInt8](repeating: 0, count: count)
    var total = 0
    while total < count {
      let n = bytes.withUnsafeMutableBytes { readBytes(fd, $0.baseAddress! + total, count - total) }  // invariant: count > 0 here
      if n < 0 {
        if errno == EINTR { continue }
        throw InvalidInput(what, "cannot read: \(Errno.text(errno))")
      }
      if n == 0 { break }
      total += n
    }
    return Data(bytes[0..<total])
  }

  /// Opens `path` for reading (without blocking on a FIFO) and checks that it is a regular file; returns the
  /// descriptor (the caller closes it) and the size.
  static func openRegular(path: String, field: String?) throws -> (fd: Int32, size: Int) {
    let what = field.map { "\($0) \(path)" } ?? path
    guard !path.isEmpty else { throw InvalidInput(field ?? "file", "the path is empty") }
    // O_NONBLOCK: opening a FIFO must not wait for a writer; for regular files it has no effect.
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else {
      let code = errno
      throw InvalidInput(what, code == ENOENT ? "no such file" : "cannot open: \(Errno.text(code))")
    }
    var s = stat()
    guard fstat(fd, &s) == 0 else {
      let code = errno
      close(fd)
      throw InvalidInput(what, "cannot examine: \(Errno.text(code))")
    }
    let kind = FileKind(mode: s.st_mode)
    guard kind == .regular else {
      close(fd)
      throw InvalidInput(what, "is \(kind.phrase), expected a regular file")
    }
    return (fd, Int(s.st_size))
  }

  /// The file as UTF-8 text.
  public static func text(_ url: URL, field: String? = nil, limit: Int = configLimit) throws -> String {
    let data = try read(url, field: field, limit: limit)
    guard let text = String(data: data, encoding: .utf8) else {
      throw InvalidInput(field.map { "\($0) \(url.path)" } ?? url.path, "is not UTF-8 text")
    }
    return text
  }
}

/// `read(2)`, named apart from `InputFile.read`.
private func readBytes(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
  read(fd, buffer, count)
}
