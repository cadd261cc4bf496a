import Foundation

/// Where shard I of N puts its results: `DIR/shards/I-of-N/`, holding its result files, `manifest.json` (with every
/// file's SHA-256) and `COMPLETE` (the manifest's SHA-256), written last. All of it is written into a hidden folder
/// unique to this process and renamed into place at the end, so a shard killed mid-way leaves only a hidden
/// `.I-of-N.*.partial` folder that `load` ignores, and two shards never write the same file.
public enum ShardStore {
  public static let marker = "COMPLETE"
  public static let manifestName = "manifest.json"

  public static func folder(_ root: URL) -> URL { root.appendingPathComponent("shards", isDirectory: true) }

  /// Writes one shard's files and manifest; returns the shard's folder.
  @discardableResult
  public static func write(files: [(name: String, data: Data)], manifest: ShardManifest, to root: URL) throws -> URL {
    let shard = try Shard(index: manifest.shard, count: manifest.count)
    let shards = folder(root)
    let fm = FileManager.default
    let unique = "\(ProcessInfo.processInfo.hostName).\(ProcessInfo.processInfo.processIdentifier).\(UUID().uuidString.prefix(8))"
    let temporary = shards.appendingPathComponent(".\(shard.name).\(unique).partial", isDirectory: true)
    let final = shards.appendingPathComponent(shard.name, isDirectory: true)
    do {
      try fm.createDirectory(at: shards, withIntermediateDirectories: true)
      sweepStalePartials(in: shards)
      TemporaryFiles.register(temporary)  // removed on failure, at exit and on SIGINT/SIGTERM/SIGHUP
      if fm.fileExists(atPath: temporary.path) { try fm.removeItem(at: temporary) }
      try fm.createDirectory(at: temporary, withIntermediateDirectories: false)
    } catch {
      TemporaryFiles.unregister(temporary)
      throw InvalidInput(shards.path, "cannot create the shard folder: \(error.localizedDescription)")
    }
    do {
      return try fill(temporary, files: files, manifest: manifest, shard: shard, final: final, unique: unique)
    } catch {
      // a full disk or any other failure: no .partial folder left behind
      try? fm.removeItem(at: temporary)
      TemporaryFiles.unregister(temporary)
      throw error
    }
  }

  private static func fill(_ temporary: URL, files: [(name: String, data: Data)], manifest: ShardManifest, shard: Shard,
                           final: URL, unique: String) throws -> URL {
    let fm = FileManager.default
    let shards = temporary.deletingLastPathComponent()
    var manifest = manifest
    for (name, data) in files {
      guard !name.isEmpty, !name.contains("/"), name != marker, name != manifestName else {  // invariant: callers name files
        throw InvalidInput(name, "not a valid shard file name")
      }
      try write(data, to: temporary.appendingPathComponent(name))
      manifest.files[name] = SHA256.hex(data)
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    let manifestData = try encoder.encode(manifest)
    try write(manifestData, to: temporary.appendingPathComponent(manifestName))
    try write(Data((SHA256.hex(manifestData) + "\n").utf8), to: temporary.appendingPathComponent(marker))
    // Replace an earlier result of the same shard: move it aside, move the new one in, delete the old one.
    let old = shards.appendingPathComponent(".\(shard.name).\(unique).old", isDirectory: true)
    if fm.fileExists(atPath: final.path) {
      guard rename(final.path, old.path) == 0 else { throw InvalidInput(final.path, "cannot move the earlier result aside (errno \(errno))") }
    }
    guard rename(temporary.path, final.path) == 0 else {
      throw InvalidInput(final.path, "cannot rename the finished shard into place (errno \(errno))")
    }
    TemporaryFiles.unregister(temporary)
    try? fm.removeItem(at: old)
    return final
  }

  /// Removes `.I-of-N.HOST.PID.XXXXXXXX.partial` (and `.old`) folders that a process of this host left and that no
  /// longer runs (SIGKILL, a node crash): nothing else would ever remove them. Other hosts' folders are left alone
  /// (their processes cannot be checked from here).
  static func sweepStalePartials(in shards: URL) {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: shards.path) else { return }
    let host = ProcessInfo.processInfo.hostName, own = ProcessInfo.processInfo.processIdentifier
    for entry in entries where entry.hasPrefix(".") && (entry.hasSuffix(".partial") || entry.hasSuffix(".old")) {
      let pieces = entry.split(separator: ".", omittingEmptySubsequences: false)
      // "", "I-of-N", host pieces..., PID, XXXXXXXX, "partial"
      guard pieces.count >= 6, let pid = Int32(pieces[pieces.count - 3]), pid != own,
            pieces[2..<(pieces.count - 3)].joined(separator: ".") == host, !Errno.processAlive(pid) else { continue }
      try? FileManager.default.removeItem(at: shards.appendingPathComponent(entry))
    }
  }

  private static func write(_ data: Data, to url: URL) throws {
    do {
      try data.write(to: url)
    } catch {
      throw InvalidInput(url.path, "cannot write: \(error.localizedDescription)")
    }
  }

  /// One complete, verified shard.
  public struct Loaded: Sendable {
    public var manifest: ShardManifest
    public var folder: URL
    public var name: String { "\(manifest.shard)-of-\(manifest.count)" }

    /// A result file, checked against the SHA-256 its manifest recorded.
    public func file(_ name: String) throws -> Data {
      guard let expected = manifest.files[name] else { throw InvalidInput("shard \(self.name)", "has no file \(name)") }
      let url = folder.appendingPathComponent(name)
      let data = try InputFile.read(url, limit: InputFile.tensorLimit)  // regular files only: a FIFO must not block
      guard SHA256.hex(data) == expected else { throw InvalidInput(url.path, "its content does not match the manifest's hash") }
      return data
    }
  }

  /// Every shard of the run in `root`, in index order, after checking that all N are present, complete, intact and
  /// of the same study, options, inputs and code. Otherwise one error naming every missing, incomplete and
  /// mismatched shard.
  public static func load(_ root: URL) throws -> [Loaded] {
    let shards = folder(root)
    let fm = FileManager.default
    guard let entries = try? fm.contentsOfDirectory(atPath: shards.path) else {
      throw InvalidInput(shards.path, "no shards folder (run the shards with --shard I/N --out \(root.path) first)")
    }
    var loaded: [Loaded] = []
    var problems: [String] = []
    let partial = entries.filter { $0.hasPrefix(".") && $0.hasSuffix(".partial") }.sorted()
    for entry in entries.sorted() where !entry.hasPrefix(".") {
      let parts = entry.split(separator: "-")
      guard parts.count == 3, parts[1] == "of", let i = Int(parts[0]), let n = Int(parts[2]), (try? Shard(index: i, count: n)) != nil else {
        problems.append("unexpected entry '\(entry)'")
        continue
      }
      let dir = shards.appendingPathComponent(entry, isDirectory: true)
      guard let markerData = try? InputFile.read(dir.appendingPathComponent(marker)) else {
        problems.append("\(entry) incomplete (no \(marker) marker)")
        continue
      }
      guard let manifestData = try? InputFile.read(dir.appendingPathComponent(manifestName)),
            String(decoding: markerData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == SHA256.hex(manifestData) else {
        problems.append("\(entry) damaged (its manifest does not match its \(marker) marker)")
        continue
      }
      guard let manifest = try? JSONDecoder().decode(ShardManifest.self, from: manifestData), manifest.shard == i, manifest.count == n else {
        problems.append("\(entry) damaged (unreadable manifest, or one of another shard)")
        continue
      }
      loaded.append(Loaded(manifest: manifest, folder: dir))
    }
    if let first = loaded.first {
      let counts = Set(loaded.map(\.manifest.count))
      if counts.count > 1 {
        problems.append("shard counts differ (" + counts.sorted().map { n in
          "\(n): " + loaded.filter { $0.manifest.count == n }.map(\.name).joined(separator: ", ") }.joined(separator: "; ") + ")")
      } else {
        let present = Set(loaded.map(\.manifest.shard))
        let missing = (0..<first.manifest.count).filter { !present.contains($0) }.map { "\($0)-of-\(first.manifest.count)" }
        if !missing.isEmpty { problems.append("missing " + missing.joined(separator: ", ")) }
        for other in loaded.dropFirst() {
          let fields = other.manifest.mismatches(first.manifest)
          if !fields.isEmpty { problems.append("\(other.name) differs from \(first.name) in " + fields.joined(separator: ", ")) }
        }
      }
    } else if problems.isEmpty {
      problems.append("no shards in \(shards.path)")
    }
    if !problems.isEmpty {
      let note = partial.isEmpty ? "" : " (left by killed runs: \(partial.joined(separator: ", ")))"
      throw InvalidInput(shards.path, problems.joined(separator: "; ") + note)
    }
    return loaded.sorted { $0.manifest.shard < $1.manifest.shard }
  }
}
