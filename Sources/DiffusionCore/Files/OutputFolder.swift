import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// All-or-nothing output for a run that writes several files into one folder.
///
/// `init` (call it before any work) resolves the folder (following a symbolic link), creates its parent if missing,
/// and creates the staging folder `.NAME.PID.tmp` beside it, which proves the place writable and is removed on failure
/// or SIGINT/SIGTERM (`TemporaryFiles`). The run writes its files into `staging` (with `write` or any writer given
/// `url(_:)`); `commit` then moves them into place together: the staging folder is renamed to the target if the
/// target does not exist yet, otherwise each file is renamed over its namesake (files of other runs in the folder stay).
/// Nothing reaches the target before `commit`, so a run that fails or is killed leaves the target as it was.
public final class OutputFolder: @unchecked Sendable {
  /// The folder the files end up in (symbolic links resolved).
  public let target: URL
  /// Where the run writes them meanwhile.
  public let staging: URL
  /// The option or field that named the folder, for errors.
  public let field: String
  private var finished = false

  public convenience init(_ path: String, field: String) throws {
    guard !path.isEmpty else { throw InvalidInput(field, "the path is empty") }
    try self.init(URL(fileURLWithPath: path, isDirectory: true), field: field)
  }

  public init(_ url: URL, field: String) throws {
    self.field = field
    let what = "\(field) \(url.path)"
    let target: URL
    do { target = try OutputFile.resolvingLinks(url) } catch let e as InvalidInput { throw InvalidInput(what, e.reason) }
    self.target = target
    let kind = try FileKind.of(target.path, follow: false)
    guard kind == .directory || kind == .missing else { throw InvalidInput(what, "is \(kind.phrase), expected a directory") }
    let parent = target.deletingLastPathComponent()
    do {
      try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
    } catch {
      throw InvalidInput(what, "cannot create the parent directory \(parent.path): \(ErrorText.reason(error))")
    }
    // Beside the target; inside it when it exists and its parent is not writable (`--out .` in a read-only parent, `/`)
    // or lies on another file system (a mount point): `commit` must only rename, since a copy across file systems can
    // run out of space half-way and leave a partial set of files.
    var staging = TemporaryFiles.temporary(for: target)
    let crossDevice = kind == .directory && Self.device(of: target.path) != Self.device(of: parent.path)
    var code = target.path == "/" || crossDevice ? EACCES : Self.makeStaging(staging, sweeping: target)
    if code != 0 && kind == .directory {
      let inside = target.appendingPathComponent(Self.insideName)
      staging = TemporaryFiles.temporary(for: inside)
      code = Self.makeStaging(staging, sweeping: inside)
    }
    self.staging = staging
    if code != 0 { throw InvalidInput(what, "cannot write in \(parent.path): \(Errno.text(code))") }
    if kind == .directory && access(target.path, W_OK) != 0 {
      let code = errno
      discard()
      throw InvalidInput(what, "cannot write in it: \(Errno.text(code))")
    }
  }

  /// The staging folder's name when it has to be inside the target: `.adjointdeis-output.PID.tmp`.
  static let insideName = "adjointdeis-output"

  /// Sweeps stale staging folders of `target`, creates `staging` and registers it; 0 or the errno.
  private static func makeStaging(_ staging: URL, sweeping target: URL) -> Int32 {
    TemporaryFiles.sweepStale(for: target)
    TemporaryFiles.register(staging)
    try? FileManager.default.removeItem(at: staging)  // a leftover of a killed run with this (recycled) PID
    guard mkdir(staging.path, 0o777) == 0 else {
      let code = errno
      TemporaryFiles.unregister(staging)
      return code
    }
    return 0
  }

  /// Where to write the file `name` (a plain file name) until `commit`.
  public func url(_ name: String) -> URL { staging.appendingPathComponent(name) }

  public func write(_ data: Data, as name: String) throws {
    guard !finished else { throw InvalidInput("\(field) \(target.path)", "the output folder was already committed") }
    try writing { _ in try OutputFile.write(data, to: url(name)) }
  }

  /// Runs a writer that takes a directory (e.g. `result.write(to:)`) on the staging folder; errors name the file's
  /// final path (in the target), not its staging path.
  public func writing<T>(_ body: (URL) throws -> T) throws -> T {
    do {
      return try body(staging)
    } catch let e as InvalidInput where e.field.contains(staging.path) {
      throw InvalidInput(e.field.replacingOccurrences(of: staging.path, with: target.path), e.reason)
    }
  }

  public func write(_ text: String, as name: String) throws { try write(Data(text.utf8), as: name) }

  /// The names written so far (sorted).
  public var stagedNames: [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: staging.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
  }

  /// Moves every staged file into the target; returns their final URLs (sorted by name).
  @discardableResult
  public func commit() throws -> [URL] {
    guard !finished else { return [] }
    let what = "\(field) \(target.path)"
    let names = stagedNames
    let finals = names.map { target.appendingPathComponent($0) }
    if try FileKind.of(target.path, follow: false) == .missing {
      // sweep a hidden file a writer may have left (none should exist: writers clean up), then one rename
      if Glibc.rename(staging.path, target.path) == 0 {
        finished = true
        TemporaryFiles.unregister(staging)
        return finals
      }
      try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
    }
    // First check that nothing in the way is a directory, so the moves below do not stop half-way on a predictable error.
    for (name, final) in zip(names, finals) {
      do { _ = try OutputFile.destination(final) } catch let e as InvalidInput { throw InvalidInput(what, "\(name): \(e.reason)") }
    }
    for (name, final) in zip(names, finals) {
      do { try OutputFile.place(url(name), at: final) } catch let e as InvalidInput { throw InvalidInput(what, "\(name): \(e.reason)") }
    }
    discard()
    return finals
  }

  /// The file system (st_dev) holding `path`; nil when it cannot be examined.
  static func device(of path: String) -> UInt64? {
    var s = stat()
    return stat(path, &s) == 0 ? UInt64(s.st_dev) : nil
  }

  /// Removes the staging folder and whatever is in it.
  public func discard() {
    finished = true
    try? FileManager.default.removeItem(at: staging)
    TemporaryFiles.unregister(staging)
  }
}
