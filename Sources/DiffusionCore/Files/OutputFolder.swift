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
/// target does not exist yet (one rename), otherwise each file is renamed over its namesake (files of other runs in
/// the folder stay) under a journal: the list of files is written into the staging folder first (`.commit-journal`,
/// itself by a rename), and from then on the commit only goes forward. A run killed before the journal exists leaves
/// the target as it was (the next run sweeps its staging folder); one killed after it (SIGKILL, a power cut) leaves
/// the journal, and the next run that opens this folder finishes the renames (`recover`) before anything else: the
/// folder ends all-old or all-new, never a mix of two runs. SIGINT/SIGTERM/SIGHUP wait for a commit in progress
/// (`TemporaryFiles.uninterruptible`), so the signal clean-up never races with it.
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
    // finish a commit a killed run left half-done inside the target (the ones beside it: makeStaging's sweep)
    if kind == .directory { TemporaryFiles.sweepStale(for: target.appendingPathComponent(Self.insideName)) }
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

  /// The files written so far, as paths relative to the folder ("a.csv", "unet/config.json"; sorted). Hidden names
  /// (a writer's temporary, the journal) are left out.
  public var stagedNames: [String] { Self.files(in: staging) }

  /// The non-hidden files under `folder`, relative paths, sorted; subfolders are descended, not listed.
  static func files(in folder: URL, prefix: String = "") -> [String] {
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { !$0.hasPrefix(".") }
    var out: [String] = []
    for name in names {
      let url = folder.appendingPathComponent(name)
      if (try? FileKind.of(url.path, follow: false)) == .directory {
        out += files(in: url, prefix: prefix + name + "/")
      } else {
        out.append(prefix + name)
      }
    }
    return out.sorted()
  }

  /// Moves every staged file into the target; returns their final URLs (sorted by name). Signals wait until it is done.
  @discardableResult
  public func commit() throws -> [URL] {
    guard !finished else { return [] }
    return try TemporaryFiles.uninterruptible { try commitStaged() }
  }

  private func commitStaged() throws -> [URL] {
    let what = "\(field) \(target.path)"
    let names = stagedNames
    let finals = names.map { target.appendingPathComponent($0) }
    if try FileKind.of(target.path, follow: false) == .missing {
      if Glibc.rename(staging.path, target.path) == 0 {  // the whole folder at once
        finished = true
        TemporaryFiles.unregister(staging)
        return finals
      }
      try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
    }
    // First check that nothing in the way is a directory (or a file where a subfolder goes), so that the journal is
    // only written for renames that will not stop half-way on a predictable error.
    for (name, final) in zip(names, finals) {
      do {
        var folder = final.deletingLastPathComponent()
        while folder.path.count > target.path.count {
          let kind = try FileKind.of(folder.path, follow: true)
          guard kind == .directory || kind == .missing else { throw InvalidInput(folder.path, "is \(kind.phrase), expected a directory") }
          folder = folder.deletingLastPathComponent()
        }
        if try FileKind.of(final.deletingLastPathComponent().path, follow: true) == .directory { _ = try OutputFile.destination(final) }
      } catch let e as InvalidInput { throw InvalidInput(what, "\(name): \(e.reason)") }
    }
    try CommitJournal.write(names, in: staging)
    // From here the commit only goes forward: the staging folder is no longer a temporary to remove on failure.
    TemporaryFiles.unregister(staging)
    finished = true
    try Self.rollForward(staging: staging, target: target, names: names, field: what)
    return finals
  }

  /// Moves each of `names` that is still in `staging` to the target (creating subfolders), then removes `staging`
  /// with its journal. Repeatable: a name already moved is skipped.
  static func rollForward(staging: URL, target: URL, names: [String], field: String) throws {
    for name in names {
      let source = staging.appendingPathComponent(name), final = target.appendingPathComponent(name)
      guard try FileKind.of(source.path, follow: false) != .missing else { continue }
      do {
        try FileManager.default.createDirectory(at: final.deletingLastPathComponent(), withIntermediateDirectories: true)
        try OutputFile.place(source, at: final)
      } catch {
        throw InvalidInput(field, "\(name): \(ErrorText.reason(error)) (the commit resumes on the next run into this folder)")
      }
    }
    try? FileManager.default.removeItem(at: staging)
  }

  /// Finishes the commit a dead run left in `staging` (a `.NAME.PID.tmp` folder holding a journal): beside its target
  /// (`.T.PID.tmp` next to T) or inside it (`T/.adjointdeis-output.PID.tmp`). Returns false if `staging` has no
  /// journal (then it is an unfinished run's leftover, to be removed).
  static func recover(staging: URL) -> Bool {
    guard let names = CommitJournal.read(in: staging) else { return false }
    let parent = staging.deletingLastPathComponent()
    let name = staging.lastPathComponent  // .NAME.PID.tmp
    let pieces = name.dropFirst().split(separator: ".", omittingEmptySubsequences: false)
    guard pieces.count >= 3 else { return false }
    let targetName = pieces.dropLast(2).joined(separator: ".")
    let target = targetName == insideName ? parent : parent.appendingPathComponent(targetName)
    try? rollForward(staging: staging, target: target, names: names, field: target.path)
    return true
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
