import DiffusionCore
import Foundation
import Integrators

/// The experiment's JSON config (`examples/morph/morph.json`); paths are relative to the config file.
/// Every problem is an `InvalidInput` naming the key, raised before any work starts.
public struct MorphConfig: Sendable, Equatable {
  /// The image-mixture data config, the trained UNet directory, the recognizer directories.
  public var data: URL
  public var unet: URL?
  public var recognizers: [URL]
  /// Which recognizer the morph loss uses (the others only judge, as the paper's black-box recognizers).
  public var lossRecognizer = 0
  /// "mixture" (analytic, unconditioned: x_T only), "mixture-conditional" (analytic, z = class one-hot: (x_T, z)),
  /// "unet" (the trained network, unconditioned).
  public var models = ["mixture", "mixture-conditional", "unet"]
  public var methods = MorphMethod.allCases
  public var pairs = 100
  public var pairSeed: UInt64 = 11
  /// The UNet runs on the first `unetPairs` evaluation pairs (its cost is ~10^3 times the mixture's).
  public var unetPairs = 100
  public var tuningPairs = 8
  public var tuningSeed: UInt64 = 12
  /// The learning rates tried on the tuning pairs; the one with the smallest mean final loss is used.
  public var learningRates: [Double] = [0.003, 0.01, 0.03, 0.1]
  /// "mixture": the UNet reuses the rates chosen on the unconditioned mixture (same data); "tune": tuned on the UNet.
  public var unetLearningRates = "mixture"
  public var settings = MorphSettings()
  public var unetReferenceEvery = 10
  public var unetReferenceTolerance = 1e-6
  public var unetRK45Tolerance = 1e-4
  public var fmr = 1e-3
  public var impostorPairs = 20000
  public var genuinePairs = 2000
  public var calibrationSeed: UInt64 = 13
  /// Pairs shown in the PNG grid.
  public var gridRows = 6

  public init(data: URL, unet: URL?, recognizers: [URL]) {
    self.data = data
    self.unet = unet
    self.recognizers = recognizers
  }

  public static let modelNames = ["mixture", "mixture-conditional", "unet"]

  public func validate() throws {
    guard pairs >= 1 else { throw InvalidInput("pairs", "the pair set is empty (pairs = \(pairs))") }
    try validateCounts()
    try settings.validate()
    guard !recognizers.isEmpty else { throw InvalidInput("recognizers", "needs at least one recognizer directory") }
    guard (0..<recognizers.count).contains(lossRecognizer) else {
      throw InvalidInput("loss_recognizer", "must index the recognizers (0..<\(recognizers.count)), got \(lossRecognizer)")
    }
    guard !models.isEmpty else { throw InvalidInput("models", "needs at least one model") }
    for m in models where !Self.modelNames.contains(m) {
      throw InvalidInput("models", "unknown model '\(m)' (expected \(Self.modelNames.joined(separator: ", ")))")
    }
    if models.contains("unet") && unet == nil { throw InvalidInput("unet", "the unet model needs a model directory") }
    guard !methods.isEmpty else { throw InvalidInput("methods", "needs at least one method") }
    guard (1...pairs).contains(unetPairs) else { throw InvalidInput("unet_pairs", "must be in 1...\(pairs), got \(unetPairs)") }
    guard tuningPairs >= 1 else { throw InvalidInput("tuning_pairs", "must be at least 1, got \(tuningPairs)") }
    guard tuningSeed != pairSeed else { throw InvalidInput("tuning_seed", "must differ from pair_seed: rates are chosen on separate pairs") }
    guard !learningRates.isEmpty else { throw InvalidInput("learning_rates", "needs at least one rate") }
    for lr in learningRates where !(lr.isFinite && lr > 0 && lr < 1e6) {
      throw InvalidInput("learning_rates", "every rate must be in (0, 1e6), got \(lr)")
    }
    guard ["mixture", "tune"].contains(unetLearningRates) else {
      throw InvalidInput("unet_learning_rates", "expected \"mixture\" or \"tune\", got '\(unetLearningRates)'")
    }
    if unetLearningRates == "mixture" && models.contains("unet") && !models.contains("mixture") && methods.contains(where: \.isGradient) {
      throw InvalidInput("unet_learning_rates", "\"mixture\" needs the mixture model in models")
    }
    guard unetReferenceEvery >= 0 else { throw InvalidInput("unet_reference_every", "must be >= 0") }
    for (k, v) in [("unet_reference_tolerance", unetReferenceTolerance), ("unet_rk45_tolerance", unetRK45Tolerance)] {
      guard v.isFinite, v > 0, v < 1 else { throw InvalidInput(k, "must be in (0, 1), got \(v)") }
    }
    // 1/fmr impostor pairs are needed: fmr below 1/limit would need more than the limit (and 1/5e-324 is inf)
    let smallest = 1 / Double(Budget.Limit.calibrationPairs)
    guard fmr.isFinite, fmr >= smallest, fmr < 1 else { throw InvalidInput("fmr", "must be in [\(smallest), 1), got \(fmr)") }
    guard impostorPairs >= Int((1 / fmr).rounded(.up)) else {
      throw InvalidInput("impostor_pairs", "needs at least 1/fmr = \(Int((1 / fmr).rounded(.up))), got \(impostorPairs)")
    }
    guard genuinePairs >= 1 else { throw InvalidInput("genuine_pairs", "must be at least 1") }
    guard gridRows >= 1 else { throw InvalidInput("grid_rows", "must be at least 1") }
  }
}
