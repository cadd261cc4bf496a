import ArgumentParser
import Convergence
import DiffusionCore
import Foundation
import NeuralCore
import ToyModels

/// `adjointdeis network-study`: the convergence study on a trained UNet and on the analytic mixture of its data.
struct NetworkStudyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "network-study",
    abstract: "Convergence of the adjoint solvers on a trained UNet versus the analytic mixture it was trained on.",
    discussion: """
      Both models get the same x_T (N(0, I) from --seed), z (class --class when conditioned), loss
      0.5 |x_0 - mu_k|^2 (k = --target-component), solvers and M; each is measured against its own RK45 reference.
      The network is evaluated in float64 (or --dtype float32). Writes DIR/NAME.csv, DIR/NAME-error-a_x.svg (a_theta, and a_z when
      conditioned), DIR/NAME-summary.md (orders side by side, network-vs-analytic gradient distance, eps error per
      noise level).
      """)

  @Option(help: "The data: the image-mixture JSON config the network was trained on.") var data: String
  @Option(help: "The trained network: a diffusers model directory (config.json + diffusion_pytorch_model.safetensors).") var model: String
  @Option(help: "Output directory (created if missing).") var out: String
  @Option(help: "The study's name (file prefix).") var name: String = "network"
  @Option(help: "Comma-separated solvers (default: adjointdeis-1 and -2m on exact and recorded states).") var solvers: MethodList?
  @Option(help: "Comma-separated, strictly increasing step counts M.") var steps: String = "5,10,20,40,80,160,320"
  @Option(help: "rtol = atol of both RK45 references.") var referenceTolerance: Double = 1e-10
  @Option(help: "Errors below this are round-off and left out of the order fit.") var floor: Double = 1e-11
  @Option(help: "The sampler's final time t_eps.") var tEps: Double = 1e-3
  @Option(name: .customLong("T"), help: "The sampler's start time T.") var T: Double = 1
  @Option(help: "Seed of x_T ~ N(0, I).") var seed: UInt64 = 0
  @Option(help: "The loss target: the mean of this mixture component.") var targetComponent: Int = 0
  @Option(name: .customLong("class"), help: "Conditioned data: the class whose one-hot z is used.") var classIndex: Int = 0
  @Option(help: "Exact samples per noise level for the eps error.") var epsSamples: Int = 64
  @Option(help: "OpenBLAS threads (0: its default).") var threads: Int = 0
  @Option(help: "The network's precision: float64 | float32.") var dtype: String = "float64"
  @Option(help: "Compare the two models' RK45 reference gradients over this many x_T seeds (seed, seed+1, ...) instead of running the study; writes DIR/NAME-distance.md.")
  var distanceSeeds: Int = 0
  @Option(help: "Run only shard I of N (0-based) into DIR/shards/I-of-N/; then `adjointdeis merge DIR`.") var shard: String?
  @Flag(help: "Hand the mixture's mean and covariance (at the class's z) to both studies: the data statistics of --linear-part methods, which the network cannot supply (docs/gaussian-linear-part.md).")
  var dataStatistics = false

  func run() throws {
    let shardValue = try shard.map(Shard.init(parsing:))
    if shardValue != nil && distanceSeeds > 0 { throw InvalidInput("shard", "--distance-seeds runs are not sharded") }
    try run(mode: shardValue.map(StudyMode.shard) ?? .whole)
  }

  /// The whole study, one shard of it, or the merge of its shards.
  func run(mode: StudyMode) throws {
    try Budget.count(threads, "threads", minimum: 0, maximum: Budget.Limit.threads)
    try Budget.count(epsSamples, "eps-samples", maximum: Budget.Limit.batch)
    try Budget.count(distanceSeeds, "distance-seeds", minimum: 0, maximum: Budget.Limit.seeds)
    setBLASThreads(threads)
    try OptionList.fileName(name, option: "name")
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw InvalidInput("model", "'\(model)' is not a model directory")
    }
    switch dtype {
    case "float64": break
    case "float32":
      let dataConfig = try ImageMixtureConfig.load(from: URL(fileURLWithPath: data))
      let unet = try UNet2DModel<Float>.load(directory: URL(fileURLWithPath: model))
      try NetworkData.check(unet.config, fits: dataConfig)
      return try study(mode: mode, UNetFloat32Predictor(try UNetNoisePredictor<Float>(
        model: unet, schedule: dataConfig.schedule, height: dataConfig.size, width: dataConfig.size)), parameterCount: unet.parameterCount,
        channels: unet.config.blockOutChannels)
    default: throw InvalidInput("dtype", "expected float64 or float32, got '\(dtype)'")
    }
    let dataConfig = try ImageMixtureConfig.load(from: URL(fileURLWithPath: data))
    let unet = try UNet2DModel<Double>.load(directory: URL(fileURLWithPath: model))
    try NetworkData.check(unet.config, fits: dataConfig)
    let network = UNetFloat64Predictor(try UNetNoisePredictor<Double>(model: unet, schedule: dataConfig.schedule, height: dataConfig.size, width: dataConfig.size))
    try study(mode: mode, network, parameterCount: unet.parameterCount, channels: unet.config.blockOutChannels)
  }

  func study<Network: NoisePredictor>(mode: StudyMode, _ network: Network, parameterCount: Int, channels: [Int]) throws {
    let dataConfig = try ImageMixtureConfig.load(from: URL(fileURLWithPath: data))
    let mixture = try ImageMixture.build(dataConfig)
    guard (0..<dataConfig.K).contains(targetComponent) else {
      throw InvalidInput("target-component", "must be in 0..<\(dataConfig.K), got \(targetComponent)")
    }
    guard (0..<dataConfig.K).contains(classIndex) else { throw InvalidInput("class", "must be in 0..<\(dataConfig.K), got \(classIndex)") }
    var rng = SeededGenerator(seed: seed)
    let xT = rng.normals(mixture.dataDimension)
    let z = ImageMixture.classCondition(classIndex, dataConfig)
    let loss = try SquaredDistanceLoss(target: mixture.means[targetComponent])
    var comparison = try NetworkComparison(
      name: name, mixture: mixture, network: network, T: T, tEps: tEps, xT: xT, z: z, loss: loss, solvers: solvers?.specs,
      steps: ConvergenceCommand.integers(steps), referenceTolerance: referenceTolerance, floor: floor,
      networkLabel: "unet-\(parameterCount)-\(dtype)",
      networkDescription: "UNet2DModel (\(parameterCount) parameters, block_out_channels \(channels)) from \(model), \(dtype), trained on the same mixture")
    if dataStatistics {
      let statistics = try mixture.dataStatistics(z: z)
      comparison.toy.statistics = statistics
      comparison.network.statistics = statistics
    }
    let started = Date()
    if case .shard(let s) = mode {  // a shard writes only DIR/shards/I-of-N/ (ShardStore), never stages DIR
      let directory = try ShardArguments.writableDirectory(out)
      let report = s.index == 0 ? try EpsErrorReport.measure(network: network, mixture: mixture, data: dataConfig, samples: epsSamples, seed: 12_345).markdown : nil
      return try runShard(comparison, s, epsReport: report, directory: directory)
    }
    let folder = try OutputFolder(out, field: "out")  // all files appear together at the end, or none
    if distanceSeeds > 0 {
      let distance = try ReferenceDistance.measure(
        mixture: mixture, network: network, T: T, tEps: tEps, z: z, loss: loss, seeds: (0..<UInt64(distanceSeeds)).map { seed + $0 },
        tolerance: referenceTolerance) { log(String(format: "[%6.1f s] %@", Date().timeIntervalSince(started), $0)) }
      let text = "# \(name): network versus analytic reference gradients over x_T seeds\n\nLoss 0.5 |x_0 - mu_\(targetComponent)|^2, t in [\(tEps), \(T)].\n\n" + distance.markdown
      try folder.write(text, as: "\(name)-distance.md")
      try folder.commit()
      print(text)
      return
    }
    let reportMarkdown: String
    let result: NetworkComparisonResult<Network>
    if case .merge(let shards) = mode {
      (result, reportMarkdown) = try merge(comparison, shards)
    } else {
      reportMarkdown = try EpsErrorReport.measure(network: network, mixture: mixture, data: dataConfig, samples: epsSamples, seed: 12_345).markdown
      log(reportMarkdown)
      result = try comparison.run { message in
        log(String(format: "[%6.1f s] %@", Date().timeIntervalSince(started), message))
      }
    }
    var extra = "\n## Eps error of the network against the analytic eps, per noise level\n\n" + reportMarkdown
    if let weights = try? SafeTensorsFile.read(URL(fileURLWithPath: model).appendingPathComponent("diffusion_pytorch_model.safetensors")) {
      extra += "\nTraining (from the weights' metadata): step \(weights.metadata["step"] ?? "?"), "
        + "\(weights.metadata["training_seconds"].flatMap(Double.init).map { String(format: "%.0f s", $0) } ?? "?") of training.\n"
    }
    _ = try folder.writing { try result.write(to: $0, extraMarkdown: extra) }
    for url in try folder.commit() { log("wrote \(url.path)") }
    log(String(format: "%@: done in %.1f s", name, Date().timeIntervalSince(started)))
    print(try result.ordersMarkdown(quantities: mixture.conditionDimension > 0 ? [.x, .z, .theta] : [.x, .theta]))
    print(result.distanceMarkdown)
  }

  func log(_ message: String) {
    StandardStreams.error(message)
  }
}
