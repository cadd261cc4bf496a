import ArgumentParser
import DiffusionCore
import Foundation
import NeuralCore
import ToyModels

/// `adjointdeis recognizer`: trains the CNN identity recognizer (CosFace) on labelled samples of an image mixture,
/// whose components are the identities.
struct RecognizerCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "recognizer",
    abstract: "Train a CNN identity recognizer on the components of an image-shaped Gaussian mixture (CosFace, Adam).",
    discussion: """
      Each training batch holds exact samples of the unconditioned mixture, labelled by their component. Prints the
      loss and accuracy every 50 steps, then the accuracy on 2000 fresh held-out samples, and writes DIR/config.json
      and DIR/model.safetensors (float64), each file written whole. Runs in float64.
      """)

  @Option(help: "The data: an image-mixture JSON config (examples/network/image-mixture.json); must be unconditioned.") var data: String
  @Option(help: "Channels w of the first convolution (the others have 2w).") var width: Int
  @Option(help: "Seed of the initial weights.") var seed: UInt64
  @Option(help: "Adam steps.") var steps: Int
  @Option(help: "Images per step.") var batch: Int = 64
  @Option(help: "Adam learning rate.") var lr: Double = 2e-3
  @Option(help: "The output directory (created if missing).") var out: String
  @Option(help: "Size e of the identity embedding.") var embeddingDim: Int = 32
  @Option(help: "CosFace scale.") var scale: Double = 16
  @Option(help: "CosFace margin.") var margin: Double = 0.2
  @Option(help: "Seed of the training samples (default 1000 + --seed); the held-out set uses this seed + 1000000.") var dataSeed: UInt64?
  @Option(help: "OpenBLAS threads (0: its default).") var threads: Int = 0

  static let heldOutCount = 2000

  func run() throws {
    try Budget.count(threads, "threads", minimum: 0, maximum: Budget.Limit.threads)
    try Budget.count(steps, "steps", maximum: Budget.Limit.steps)
    try Budget.count(batch, "batch", maximum: Budget.Limit.batch)
    setBLASThreads(threads)
    let dataConfig = try ImageMixtureConfig.load(from: URL(fileURLWithPath: data))
    guard !dataConfig.condition else {
      throw InvalidInput("data", "\(data) is a conditioned mixture (\"condition\": true); the recognizer trains on the unconditioned one")
    }
    let mixture = try ImageMixture.build(dataConfig)
    let config = try RecognizerConfig(imageSize: dataConfig.size, width: width, embeddingDimension: embeddingDim,
                                      classes: dataConfig.K, seed: seed, scale: scale, margin: margin)
    let training = try RecognizerTraining(steps: steps, batch: batch, learningRate: lr)
    let folder = try OutputFolder(out, field: "out")  // both files appear together at the end, or none
    let directory = folder.target
    let dataSeed = self.dataSeed ?? (1000 &+ seed)
    var recognizer = try Recognizer(config: config)
    log("training \(recognizer.parameterCount) parameters on the \(dataConfig.K) components of the \(dataConfig.size)x\(dataConfig.size) mixture, batch \(batch), data seed \(dataSeed)")
    var rng = SeededGenerator(seed: dataSeed)
    let start = Date()
    let final = try training.train(
      &recognizer, sample: { _ in try mixture.sampleLabeled(count: batch, z: [], generator: &rng) },
      log: { step, loss, accuracy in log(String(format: "step %5d  loss %.4f  accuracy %.3f", step, loss, accuracy)) })
    let seconds = Date().timeIntervalSince(start)
    var heldOutRNG = SeededGenerator(seed: dataSeed &+ 1_000_000)
    let test = try mixture.sampleLabeled(count: Self.heldOutCount, z: [], generator: &heldOutRNG)
    let heldOut = try recognizer.classificationLoss(test.x, labels: test.labels, batch: Self.heldOutCount)
    try folder.writing { try recognizer.save(to: $0) }
    try folder.commit()
    print(String(format: "trained %d steps in %.1f s: last batch loss %.4f accuracy %.3f", steps, seconds, final.loss, final.accuracy))
    print(String(format: "held-out (%d samples, seed %llu): loss %.4f accuracy %.4f", Self.heldOutCount, dataSeed &+ 1_000_000,
                 heldOut.loss, heldOut.accuracy))
    let (genuine, impostor) = try Self.cosineStatistics(recognizer, test.x, test.labels)
    print(String(format: "held-out cos(v, P_label) mean %.4f min %.4f; cos(v, P_other) mean %.4f max %.4f",
                 genuine.mean, genuine.extreme, impostor.mean, impostor.extreme))
    print("wrote \(directory.appendingPathComponent(Recognizer.configFile).path) and \(Recognizer.weightsFile)")
  }

  /// The cosines of held-out embeddings to their own identity's prototype (mean, min) and to the others' (mean, max).
  static func cosineStatistics(_ r: Recognizer, _ x: [Double], _ labels: [Int]) throws
    -> (genuine: (mean: Double, extreme: Double), impostor: (mean: Double, extreme: Double))
  {
    let B = labels.count, e = r.embeddingDimension, K = r.config.classes
    let v = try r.embed(x, batch: B)
    guard let slot = r.slot("head.prototypes") else { throw InvalidInput("head.prototypes", "missing") }
    let P = (0..<K).map { k -> [Double] in
      let row = Array(r.parameters[(slot.offset + k * e)..<(slot.offset + (k + 1) * e)])
      let norm = row.map { $0 * $0 }.reduce(0, +).squareRoot()
      return row.map { $0 / norm }
    }
    var genuine: [Double] = [], impostor: [Double] = []
    for b in 0..<B {
      for k in 0..<K {
        let c = (0..<e).map { v[b * e + $0] * P[k][$0] }.reduce(0, +)
        if k == labels[b] { genuine.append(c) } else { impostor.append(c) }
      }
    }
    let mean = { (a: [Double]) in a.reduce(0, +) / Double(a.count) }
    return ((mean(genuine), genuine.min()!), (mean(impostor), impostor.max()!))
  }

  func log(_ message: String) {
    StandardStreams.error(message)
  }
}
