import Convergence
import DiffusionCore
import Foundation
import Morphing
import NeuralCore
import ToyModels

/// The command line a shard records in its manifest, so `merge` can rebuild the same study: the subcommand's
/// arguments as given, without `--shard` and `--out` (which differ between shards and the merge).
enum ShardArguments {
  static func recorded(subcommand: String) -> [String] {
    var args = Array(CommandLine.arguments.dropFirst())
    if let i = args.firstIndex(of: subcommand) { args.removeSubrange(0...i) }
    var out: [String] = []
    var i = 0
    while i < args.count {
      let a = args[i]
      if a == "--shard" || a == "--out" { i += 2; continue }
      if a.hasPrefix("--shard=") || a.hasPrefix("--out=") { i += 1; continue }
      out.append(a)
      i += 1
    }
    return out
  }

  static func log(_ message: String) { StandardStreams.error(message) }

  /// A shard's output folder: created if needed and proved writable before any work starts. (A shard writes only
  /// DIR/shards/I-of-N/, atomically through `ShardStore`; the whole and merged runs stage DIR through `OutputFolder`.)
  static func writableDirectory(_ path: String) throws -> URL {
    guard !path.isEmpty else { throw InvalidInput("out", "the path is empty") }
    let url = URL(fileURLWithPath: path, isDirectory: true)
    do {
      try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
      let probe = url.appendingPathComponent(".write-test-\(ProcessInfo.processInfo.processIdentifier)")
      try Data().write(to: probe)
      try FileManager.default.removeItem(at: probe)
    } catch {
      throw InvalidInput("out", "cannot write to \(path): \(ErrorText.oneLine(error))")
    }
    return url
  }
}

extension ConvergenceCommand {
  /// Runs one shard of the study and writes it to DIR/shards/I-of-N/ (atomically; nothing else in DIR).
  func runShard(_ study: ConvergenceStudy<GaussianMixture>, _ shard: Shard, directory: URL) throws {
    let started = Date()
    let inputs = try ShardManifest.hashInputs([config])
    let indices = study.runIndices(shard)
    let result = try study.run(shard: shard) { message in
      let elapsed = Date().timeIntervalSince(started)
      if elapsed > 2 { ShardArguments.log(String(format: "[%6.1f s] %@", elapsed, message)) }
    }
    var manifest = ShardManifest(study: Self.configuration.commandName ?? "convergence", shard: shard,
                                 arguments: ShardArguments.recorded(subcommand: "convergence"), inputs: inputs,
                                 totalRuns: study.runList.count, runs: indices.count)
    manifest.seconds = Date().timeIntervalSince(started)
    let folder = try ShardStore.write(files: try result.shardFiles(indices: indices), manifest: manifest, to: directory)
    ShardArguments.log(String(format: "%@ shard %@: runs %d..<%d of %d in %.1f s; wrote %@", study.name, shard.description,
                              indices.lowerBound, indices.upperBound, manifest.totalRuns, manifest.seconds, folder.path))
  }

  /// `merge` for a convergence study: rebuilds the study from the recorded options and writes what the unsharded
  /// run writes.
  func merge(_ shards: [ShardStore.Loaded], into directory: URL) throws {
    let study = try makeStudy()
    let parts = try shards.map { (name: $0.name, runs: try $0.file(StudyResult<GaussianMixture>.shardRunsFile),
                                  references: try $0.file(StudyResult<GaussianMixture>.shardReferencesFile)) }
    let result = try StudyResult.merged(study: study, shards: parts)
    try Self.writeOutputs(result, to: try OutputFolder(directory, field: "out"))
    print(try result.summary().markdown)
  }
}

/// What a study command does: everything, one shard, or the merge of all shards.
enum StudyMode {
  case whole
  case shard(Shard)
  case merge([ShardStore.Loaded])
}

extension NetworkStudyCommand {
  static let epsReportFile = "eps-report.md"

  func runShard<Network: NoisePredictor>(_ comparison: NetworkComparison<Network>, _ shard: Shard, epsReport: String?, directory: URL) throws {
    let started = Date()
    let model = URL(fileURLWithPath: self.model)
    let inputs = try ShardManifest.hashInputs([data, model.appendingPathComponent("config.json").path,
                                               model.appendingPathComponent("diffusion_pytorch_model.safetensors").path])
    let partial = try comparison.run(shard: shard) { message in
      ShardArguments.log(String(format: "[%6.1f s] %@", Date().timeIntervalSince(started), message))
    }
    var files = try comparison.shardFiles(partial, shard: shard)
    if let epsReport { files.append((Self.epsReportFile, Data(epsReport.utf8))) }
    var manifest = ShardManifest(study: Self.configuration.commandName ?? "network-study", shard: shard,
                                 arguments: ShardArguments.recorded(subcommand: "network-study"), inputs: inputs,
                                 totalRuns: comparison.runCount, runs: shard.range(weights: comparison.runWeights).count)
    manifest.seconds = Date().timeIntervalSince(started)
    let folder = try ShardStore.write(files: files, manifest: manifest, to: directory)
    ShardArguments.log(String(format: "%@ shard %@: %d of %d runs in %.1f s; wrote %@", name, shard.description, manifest.runs,
                              manifest.totalRuns, manifest.seconds, folder.path))
  }

  func merge<Network: NoisePredictor>(_ comparison: NetworkComparison<Network>, _ shards: [ShardStore.Loaded]) throws
    -> (NetworkComparisonResult<Network>, String) {
    let parts = try shards.map { s in
      (name: s.name, files: Dictionary(uniqueKeysWithValues: try s.manifest.files.keys.sorted().map { ($0, try s.file($0)) }))
    }
    guard let report = parts.first?.files[Self.epsReportFile] else { throw InvalidInput("shards", "shard 0 has no \(Self.epsReportFile)") }
    return (try comparison.merged(shards: parts), String(decoding: report, as: UTF8.self))
  }
}

extension MorphCommand {
  func runShard<Network: NoisePredictor>(_ experiment: MorphExperiment<Recognizer>, _ c: MorphConfig, _ shard: Shard, unet: Network?) throws {
    let started = Date()
    var paths = [config, c.data.path] + c.recognizers.map(\.path)
    if c.models.contains("unet"), let u = c.unet { paths.append(u.path) }
    let inputs = try ShardManifest.hashInputs(paths)
    let result = try experiment.run(shard: shard, unet: unet)
    var manifest = ShardManifest(study: Self.configuration.commandName ?? "morph", shard: shard,
                                 arguments: ShardArguments.recorded(subcommand: "morph"), inputs: inputs,
                                 totalRuns: experiment.units.count, runs: shard.range(weights: experiment.unitWeights).count)
    manifest.seconds = Date().timeIntervalSince(started)
    let folder = try ShardStore.write(files: [(MorphShardResult.fileName, try result.json())], manifest: manifest, to: URL(fileURLWithPath: out))
    ShardArguments.log(String(format: "morph shard %@: %d of %d (model, method) units in %.1f s; wrote %@", shard.description, manifest.runs,
                              manifest.totalRuns, manifest.seconds, folder.path))
  }
}
