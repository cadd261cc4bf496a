import Reports
import ArgumentParser
import Convergence
import DiffusionCore
import Foundation
import Integrators
import Morphing
import NeuralCore
import ToyModels

/// `adjointdeis morph`: the guided-morphing experiment (DiM, Morph-PIPE-like search, gradient descent on (x_T, z)
/// with every gradient method) on the analytic image mixture and on the trained UNet.
struct MorphCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "morph",
    abstract: "Guided morphing on the image mixture: MMPMR, loss, NFE and gradient agreement per method.",
    discussion: """
      Reads a JSON config (examples/morph/morph.json: data, unet, recognizers, pairs, methods, learning rates, ...),
      checks every input before work starts, and writes table.csv, table.md, summary.md, morphs.csv, paths.csv,
      tuning.csv, calibration.csv and grid-<model>.png into --out (each file written whole). The options below
      override the config for quick runs.
      """)

  @Option(help: "The experiment config (JSON).") var config: String
  @Option(help: "The output directory (created if missing).") var out: String
  @Option(help: "Override: evaluation pairs.") var pairs: Int?
  @Option(help: "Override: pairs for the UNet.") var unetPairs: Int?
  @Option(help: "Override: gradient-descent steps.") var steps: Int?
  @Option(help: "Override: comma-separated models (mixture, mixture-conditional, unet).") var models: String?
  @Option(help: "Override: comma-separated methods (dim, morph-pipe, or gradient methods as in `gradient --solver`, e.g. adjointdeis-1/sde).")
  var methods: MorphMethodList?
  @Option(help: "Override: the sampling grid.") var spacing: GridSpacing?
  @Option(help: "Override: the gradient step.") var update: DescentUpdate?
  @Option(help: "Override: where x_T may go.") var constraint: NoiseConstraint?
  @Option(help: "Override: comma-separated learning rates to tune over.") var learningRates: String?
  @Option(help: "OpenBLAS threads (0: its default).") var threads: Int = 0
  @Option(help: "Run only shard I of N (0-based) into DIR/shards/I-of-N/; then `adjointdeis merge DIR`.") var shard: String?

  func run() throws {
    try run(mode: try shard.map(Shard.init(parsing:)).map(StudyMode.shard) ?? .whole)
  }

  /// The whole experiment, one shard of it, or the merge of its shards.
  func run(mode: StudyMode) throws {
    try Budget.count(threads, "threads", minimum: 0, maximum: Budget.Limit.threads)
    setBLASThreads(threads)
    var c = try MorphConfig.load(from: URL(fileURLWithPath: config))
    if let pairs { c.pairs = pairs; c.unetPairs = min(c.unetPairs, pairs) }
    if let unetPairs { c.unetPairs = unetPairs }
    if let steps { c.settings.optimizationSteps = steps }
    if let models { c.models = try OptionList.items(models, option: "models") }
    if let methods { c.methods = methods.methods }
    if let spacing { c.settings.spacing = spacing }
    if let update { c.settings.update = update }
    if let constraint { c.settings.constraint = constraint }
    if let learningRates {
      c.learningRates = try OptionList.numbers(learningRates, option: "learning-rates")
    }
    try c.validate()
    // Checked now, not after the experiment. The whole and merged runs stage DIR and move their files in together;
    // a shard writes only DIR/shards/I-of-N/ (ShardStore) and never stages DIR.
    var folder: OutputFolder? = nil
    if case .shard = mode { _ = try ShardArguments.writableDirectory(out) } else { folder = try OutputFolder(out, field: "out") }
    let data = try ImageMixtureConfig.load(from: c.data)
    try data.schedule.validate(tEps: c.settings.tEps, T: c.settings.T)
    let recognizers = try c.recognizers.map { try Recognizer.load(from: $0) }
    for (url, r) in zip(c.recognizers, recognizers) where r.config.imageSize != data.size || r.config.classes != data.K {
      throw InvalidInput("recognizers", "'\(url.path)' was built for \(r.config.classes) identities of \(r.config.imageSize)x\(r.config.imageSize) images, but the data have K = \(data.K) of \(data.size)x\(data.size)")
    }
    var unet: UNetFloat32Predictor? = nil
    if c.models.contains("unet"), let directory = c.unet {
      let model = try UNet2DModel<Float>.load(directory: directory)
      try NetworkData.check(model.config, fits: data)
      unet = UNetFloat32Predictor(try UNetNoisePredictor<Float>(model: model, schedule: data.schedule, height: data.size, width: data.size))
    }
    let start = Date()
    let experiment = try MorphExperiment(config: c, recognizers: recognizers, data: data) { line in
      StandardStreams.error(String(format: "[%7.1f s] %@", Date().timeIntervalSince(start), line))
    }
    let report: MorphReport
    switch mode {
    case .shard(let s): return try runShard(experiment, c, s, unet: unet)
    case .merge(let shards): report = try experiment.merged(try shards.map { ($0.name, try MorphShardResult(json: try $0.file(MorphShardResult.fileName), what: $0.name)) })
    case .whole: report = try experiment.run(unet: unet)
    }
    try folder?.writing { try report.write(to: $0, imageSide: data.size) }
    try folder?.commit()
    print(report.tableMarkdown())
    print("wrote \(out) in \(ReportFormat.fixed(report.seconds, decimals: 1)) s")
  }
}
