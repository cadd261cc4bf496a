import DiffusionCore
import Foundation
import Integrators
import ToyModels

/// One unit of a sharded morph experiment: one model and one method (with the method's learning-rate tuning).
public struct MorphUnit: Sendable, Equatable {
  public var model: String
  public var method: MorphMethod
}

/// What one shard of the experiment produced: the calibration and, per model it touched, that model's result for
/// the shard's methods.
public struct MorphShardResult: Sendable {
  public var thresholds: [MatchThreshold]
  public var models: [MorphModelResult]
  public var seconds: Double
}

extension MorphExperiment {
  /// Every (model, method) in the config's order: the list a shard cuts.
  public var units: [MorphUnit] { config.models.flatMap { m in config.methods.map { MorphUnit(model: m, method: $0) } } }

  /// Estimated cost for balancing only (never changes a result), in mixture descent steps on one pair: a gradient
  /// method is tuned (every learning rate on the tuning pairs) and run on the evaluation pairs; a UNet evaluation
  /// costs about 30 mixture evaluations (the 55-minute run spent 50 minutes on 20 UNet pairs); a UNet that takes the
  /// mixture's rates only reruns the mixture's tuning. The baselines cost about one descent step per pair.
  public var unitWeights: [Double] {
    let steps = Double(config.settings.optimizationSteps)
    let tuning = Double(config.learningRates.count * config.tuningPairs) * steps
    return units.map { u in
      let unet = u.model == "unet"
      let pairs = Double(unet ? config.unetPairs : config.pairs), scale = unet ? 30.0 : 1.0
      guard u.method.isGradient else { return pairs * scale }
      let tuned = unet && config.unetLearningRates == "mixture" ? tuning : tuning * scale
      return tuned + pairs * steps * scale
    }
  }

  /// Runs one shard's units. Each model's units run as the experiment restricted to that model and those methods,
  /// which computes exactly what the whole run computes for them: the calibration and pairs come from their seeds,
  /// and each method is tuned and run on its own. A UNet that takes the mixture's learning rates runs the mixture
  /// first for the same methods (its result is dropped), as the whole run does (also for DiM and the search alone,
  /// so that the report says where the rates came from exactly as the whole run does).
  public func run<Network: NoisePredictor>(shard: Shard, unet: Network?) throws -> MorphShardResult {
    let start = DispatchTime.now().uptimeNanoseconds
    let mine = Array(units[shard.range(weights: unitWeights)])
    var thresholds: [MatchThreshold]? = nil
    var models: [MorphModelResult] = []
    for model in config.models {
      let methods = mine.filter { $0.model == model }.map(\.method)
      guard !methods.isEmpty else { continue }
      var c = config
      c.methods = methods
      c.models = [model]
      if model == "unet", config.unetLearningRates == "mixture",
         let m = config.models.firstIndex(of: "mixture"), let u = config.models.firstIndex(of: "unet"), m < u {
        c.models = ["mixture", "unet"]
      }
      let report = try MorphExperiment(config: c, recognizers: recognizers, data: data, log: log).run(unet: unet)
      guard let result = report.models.first(where: { $0.model == model }) else {  // invariant: c.models holds model
        throw InvalidInput("models", "the restricted run produced no \(model) result")
      }
      thresholds = thresholds ?? report.thresholds
      models.append(result)
    }
    if thresholds == nil {  // a shard with no units still records the calibration, so every shard can be checked
      var plain = data
      plain.condition = false
      let mixture = try ImageMixture.build(plain)
      thresholds = try recognizers.enumerated().map { i, r in
        try MatchThreshold.calibrate(r, mixture: mixture, fmr: config.fmr, impostorPairs: config.impostorPairs,
                                     genuinePairs: config.genuinePairs, seed: config.calibrationSeed &+ UInt64(i))
      }
    }
    return MorphShardResult(thresholds: thresholds ?? [], models: models, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
  }

  /// The whole experiment's report from every shard's result (in shard order): what `run(unet:)` returns, except
  /// `seconds`, the sum of the shards' times.
  public func merged(_ shards: [(name: String, result: MorphShardResult)]) throws -> MorphReport {
    guard let first = shards.first else { throw InvalidInput("shards", "no shards") }
    for s in shards.dropFirst() where s.result.thresholds != first.result.thresholds {
      throw InvalidInput("shard \(s.name)", "its recognizer calibration differs from shard \(first.name)'s")
    }
    var models: [MorphModelResult] = []
    for model in config.models {
      let parts = shards.flatMap { s in s.result.models.filter { $0.model == model }.map { (s.name, $0) } }
      guard var merged = parts.first?.1 else { throw InvalidInput("shards", "no shard holds a result of \(model)") }
      merged.outcomes = []
      merged.verdicts = []
      merged.tuning = []
      for (_, part) in parts {
        merged.outcomes += part.outcomes
        merged.verdicts += part.verdicts
        merged.tuning += part.tuning
      }
      let methods = merged.outcomes.map(\.method)
      guard methods == config.methods else {
        throw InvalidInput("shards", "\(model): the shards hold methods \(methods.map(\.rawValue)), the config \(config.methods.map(\.rawValue)) (from \(parts.map(\.0)))")
      }
      models.append(merged)
    }
    return MorphReport(config: config, thresholds: first.result.thresholds, models: models, seconds: shards.map(\.result.seconds).reduce(0, +))
  }
}
