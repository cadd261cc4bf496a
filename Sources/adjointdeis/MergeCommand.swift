import ArgumentParser
import DiffusionCore
import Foundation

/// `adjointdeis merge DIR`: checks every shard in DIR/shards/ and writes the unsharded run's outputs into DIR.
struct MergeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "merge",
    abstract: "Merge the shards of a sharded study (DIR/shards/I-of-N/) into the outputs the unsharded run writes to DIR.",
    discussion: """
      Refuses, naming them, when a shard is missing, incomplete (killed before its COMPLETE marker), damaged, or of
      another study, options, input file content or binary. Re-reads the study's inputs (paths relative to the
      directory the shards ran in) and checks they did not change since.
      """)

  @Argument(help: "The --out directory the shards were run with.") var directory: String

  func run() throws {
    let root = URL(fileURLWithPath: directory, isDirectory: true).standardizedFileURL
    let shards = try ShardStore.load(root)
    let manifest = shards[0].manifest  // invariant: load returns at least one shard or throws
    if manifest.code != CodeVersion.current {
      ShardArguments.log("note: the shards were run by another binary (\(manifest.code)); this one is \(CodeVersion.current)")
    }
    // Relative input paths are relative to where the shards ran.
    if FileManager.default.fileExists(atPath: manifest.directory) {
      guard FileManager.default.changeCurrentDirectoryPath(manifest.directory) else {
        throw InvalidInput(manifest.directory, "cannot change into the directory the shards ran in")
      }
    }
    let now = try ShardManifest.hashInputs(manifest.inputs.keys.sorted())
    for (path, hash) in manifest.inputs where now[path] != hash {
      throw InvalidInput(path, "the input file changed since the shards ran")
    }
    let arguments = manifest.arguments + ["--out", root.path]
    switch manifest.study {
    case "convergence":
      try ConvergenceCommand.parse(arguments).merge(shards, into: root)
    case "network-study":
      try NetworkStudyCommand.parse(arguments).run(mode: .merge(shards))
    case "morph":
      try MorphCommand.parse(arguments).run(mode: .merge(shards))
    default:
      throw InvalidInput("shards", "merging a \(manifest.study) study is not supported by this binary")
    }
    ShardArguments.log("merged \(shards.count) shards of \(manifest.study) into \(root.path)")
  }
}
