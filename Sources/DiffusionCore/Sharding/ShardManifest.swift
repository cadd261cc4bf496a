import Foundation

/// What a shard records about itself in `manifest.json`. The fields above the line must agree between all shards
/// of one run (`merge` refuses otherwise); the ones below are information for people.
public struct ShardManifest: Codable, Equatable, Sendable {
  public var format: Int = CodeVersion.shardFormat
  /// The subcommand (`convergence`, `network-study`, ...).
  public var study: String
  public var shard: Int
  public var count: Int
  /// The subcommand's arguments as given, without `--shard` and `--out`.
  public var arguments: [String]
  /// The working directory the arguments' relative paths are relative to.
  public var directory: String
  /// Every input file the run read, by the path given, with its SHA-256.
  public var inputs: [String: String]
  /// `CodeVersion.current` of the binary that ran the shard.
  public var code: String
  /// Runs in the whole study and in this shard.
  public var totalRuns: Int
  public var runs: Int
  /// Every result file of the shard with its SHA-256 (filled in by `ShardStore.write`).
  public var files: [String: String] = [:]
  // ---- information only
  public var host: String = ProcessInfo.processInfo.hostName
  public var seconds: Double = 0

  public init(study: String, shard: Shard, arguments: [String], directory: String = FileManager.default.currentDirectoryPath,
              inputs: [String: String], code: String = CodeVersion.current, totalRuns: Int, runs: Int) {
    self.study = study
    self.shard = shard.index
    self.count = shard.count
    self.arguments = arguments
    self.directory = directory
    self.inputs = inputs
    self.code = code
    self.totalRuns = totalRuns
    self.runs = runs
  }

  /// The fields that differ from `other` among those all shards of one run must share.
  public func mismatches(_ other: ShardManifest) -> [String] {
    var out: [String] = []
    if format != other.format { out.append("format") }
    if study != other.study { out.append("study (\(study) vs \(other.study))") }
    if count != other.count { out.append("shard count") }
    if arguments != other.arguments { out.append("options (\(arguments.joined(separator: " ")))") }
    if inputs != other.inputs { out.append("input files (\(inputs.keys.sorted().joined(separator: ", ")))") }
    if code != other.code { out.append("code version (\(code))") }
    if totalRuns != other.totalRuns { out.append("run count") }
    return out
  }

  /// The SHA-256 of each input file, read now; a directory stands for every file in it (recursively).
  public static func hashInputs(_ paths: [String]) throws -> [String: String] {
    var out: [String: String] = [:]
    var files: [String] = []
    for path in paths {
      var isDirectory: ObjCBool = false
      if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
        let inside = (FileManager.default.subpaths(atPath: path) ?? []).sorted().map { (path as NSString).appendingPathComponent($0) }
        files += inside.filter { var d: ObjCBool = false; return FileManager.default.fileExists(atPath: $0, isDirectory: &d) && !d.boolValue }
      } else {
        files.append(path)
      }
    }
    for path in files {
      let data: Data
      // through the input-file gate: a FIFO or device among the inputs is refused instead of blocking the hash
      do { data = try InputFile.read(URL(fileURLWithPath: path), limit: InputFile.tensorLimit) } catch let e as InvalidInput {
        throw InvalidInput(path, "cannot read input file: \(e.reason)")
      }
      out[path] = SHA256.hex(data)
    }
    return out
  }
}
