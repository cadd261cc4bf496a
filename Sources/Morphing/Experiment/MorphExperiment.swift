import Reports
import DiffusionCore
import Foundation
import Integrators
import NeuralCore
import ToyModels

/// The guided-morphing experiment (issue: "success rate against NFE"): calibrate the recognizers, draw the pairs,
/// then for every model run DiM, the Morph-PIPE-like search and gradient descent with every gradient method,
/// with learning rates chosen on separate tuning pairs.
public struct MorphExperiment<Embedding: IdentityEmbedding>: Sendable {
  public let config: MorphConfig
  public let recognizers: [Embedding]
  public let data: ImageMixtureConfig
  public let log: @Sendable (String) -> Void

  public init(config: MorphConfig, recognizers: [Embedding], data: ImageMixtureConfig, log: @escaping @Sendable (String) -> Void = { _ in }) throws {
    try config.validate()
    try config.checkMemory(dataDimension: data.dataDimension)
    guard recognizers.count == config.recognizers.count else {
      throw InvalidInput("recognizers", "expected \(config.recognizers.count) recognizers, got \(recognizers.count)")
    }
    for (i, r) in recognizers.enumerated() where r.inputDimension != data.dataDimension {
      throw InvalidInput("recognizers", "recognizer \(i) takes d = \(r.inputDimension) but the data have d = \(data.dataDimension)")
    }
    self.config = config
    self.recognizers = recognizers
    self.data = data
    self.log = log
  }

  var lossRecognizer: Embedding { recognizers[config.lossRecognizer] }

  /// Runs everything. `unet` is the trained network (needed when `models` names it).
  public func run<Network: NoisePredictor>(unet: Network?) throws -> MorphReport {
    let start = DispatchTime.now().uptimeNanoseconds
    if config.models.contains("unet") {
      guard let unet else { throw InvalidInput("unet", "the unet model needs a network") }
      guard unet.dataDimension == data.dataDimension, unet.conditionDimension == 0 else {
        throw InvalidInput("unet", "the network must be unconditioned with d = \(data.dataDimension) (got d = \(unet.dataDimension), m = \(unet.conditionDimension))")
      }
    }
    var plain = data
    plain.condition = false
    let mixture = try ImageMixture.build(plain)
    var thresholds: [MatchThreshold] = []
    for (i, r) in recognizers.enumerated() {
      let t = try MatchThreshold.calibrate(r, mixture: mixture, fmr: config.fmr, impostorPairs: config.impostorPairs,
                                           genuinePairs: config.genuinePairs, seed: config.calibrationSeed &+ UInt64(i))
      log("recognizer \(i): threshold \(t.threshold) at FMR \(t.measuredFMR), genuine match rate \(t.genuineMatchRate)")
      thresholds.append(t)
    }
    let pairs = try MorphPairs.draw(mixture: mixture, count: config.pairs, seed: config.pairSeed)
    let tuningPairs = try MorphPairs.draw(mixture: mixture, count: config.tuningPairs, seed: config.tuningSeed)
    var results: [MorphModelResult] = []
    var mixtureRates: [MorphMethod: Double]? = nil
    for name in config.models {
      let result: MorphModelResult
      switch name {
      case "mixture":
        result = try runModel(name, model: mixture, pairs: pairs, tuning: tuningPairs, thresholds: thresholds, rates: nil,
                              condition: { _ in [] }, referenceEvery: config.settings.referenceEvery,
                              referenceTolerance: config.settings.referenceTolerance, rk45Tolerance: config.settings.rk45Tolerance)
        mixtureRates = Dictionary(uniqueKeysWithValues: result.outcomes.compactMap { o in o.learningRate.map { (o.method, $0) } })
      case "mixture-conditional":
        var conditional = data
        conditional.condition = true
        conditional.zDimension = data.K
        try conditional.validate()
        let model = try ImageMixture.build(conditional)
        result = try runModel(name, model: model, pairs: pairs, tuning: tuningPairs, thresholds: thresholds, rates: nil,
                              condition: { ImageMixture.classCondition($0, conditional) }, referenceEvery: config.settings.referenceEvery,
                              referenceTolerance: config.settings.referenceTolerance, rk45Tolerance: config.settings.rk45Tolerance)
      default:
        guard let unet else { throw InvalidInput("unet", "the unet model needs a network") }
        let rates = config.unetLearningRates == "mixture" ? mixtureRates : nil
        // the network was trained on the unconditioned mixture: its mean and covariance are the linear part's statistics
        let network = try WithDataStatistics(unet, statistics: mixture.dataStatistics(z: []))
        result = try runModel(name, model: network, pairs: pairs.prefix(config.unetPairs), tuning: tuningPairs, thresholds: thresholds,
                              rates: rates, condition: { _ in [] }, referenceEvery: config.unetReferenceEvery,
                              referenceTolerance: config.unetReferenceTolerance, rk45Tolerance: config.unetRK45Tolerance)
      }
      results.append(result)
    }
    return MorphReport(config: config, thresholds: thresholds, models: results,
                       seconds: Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
  }

  /// One model: tune (unless rates are given), then every method on the evaluation pairs, judged by every recognizer.
  func runModel<M: NoisePredictor>(
    _ name: String, model: M, pairs: MorphPairs, tuning: MorphPairs, thresholds: [MatchThreshold], rates given: [MorphMethod: Double]?,
    condition: (Int) -> [Double], referenceEvery: Int, referenceTolerance: Double, rk45Tolerance: Double
  ) throws -> MorphModelResult {
    var settings = config.settings
    settings.referenceEvery = referenceEvery
    settings.referenceTolerance = referenceTolerance
    settings.rk45Tolerance = rk45Tolerance
    let schedule = data.schedule
    var rates = given ?? [:]
    var tuningRows: [TuningRow] = []
    let gradientMethods = config.methods.filter(\.isGradient)
    if given == nil && !gradientMethods.isEmpty {
      let problem = try MorphProblem(model: model, schedule: schedule, pairs: tuning, recognizer: lossRecognizer, settings: settings,
                                     condition: condition)
      for method in gradientMethods {
        var best: (loss: Double, lr: Double)? = nil
        for lr in config.learningRates {
          var row = TuningRow(model: name, method: method, learningRate: lr)
          do {
            let o = try problem.optimize(method, learningRate: lr, trackReference: false)
            let meanLoss = o.loss.reduce(0, +) / Double(o.loss.count)
            guard meanLoss.isFinite else { throw InvalidInput("loss", "non-finite") }
            row.meanLoss = meanLoss
            row.mmpmr = try MorphVerdict.judge(lossRecognizer, threshold: thresholds[config.lossRecognizer].threshold, morphs: o.morphs,
                                               xA: tuning.xA, xB: tuning.xB, pairs: tuning.count).mmpmr
            if best == nil || meanLoss < best!.loss { best = (meanLoss, lr) }
          } catch {
            row.failure = "\(error)"
          }
          tuningRows.append(row)
          log("\(name) tune \(method.rawValue) lr \(lr): mean loss \(row.meanLoss.map { String($0) } ?? "failed")")
        }
        guard let best else { throw InvalidInput("learning_rates", "every rate diverged for \(method.rawValue) on \(name)") }
        rates[method] = best.lr
      }
    }
    let problem = try MorphProblem(model: model, schedule: schedule, pairs: pairs, recognizer: lossRecognizer, settings: settings,
                                   condition: condition)
    var outcomes: [MorphOutcome] = []
    for method in config.methods {
      let outcome: MorphOutcome
      switch method {
      case .dim: outcome = try problem.dim()
      case .morphPipe: outcome = try problem.morphPipe()
      default:
        guard let lr = rates[method] else { throw InvalidInput("learning_rates", "no learning rate for \(method.rawValue) on \(name)") }
        outcome = try problem.optimize(method, learningRate: lr, trackReference: true)
      }
      log("\(name) \(method.rawValue): mean loss \(outcome.loss.reduce(0, +) / Double(outcome.loss.count)), \(outcome.seconds) s")
      outcomes.append(outcome)
    }
    let verdicts = try outcomes.map { o in
      try recognizers.enumerated().map { i, r in
        try MorphVerdict.judge(r, threshold: thresholds[i].threshold, morphs: o.morphs, xA: pairs.xA, xB: pairs.xB, pairs: pairs.count)
      }
    }
    return MorphModelResult(model: name, pairs: pairs, outcomes: outcomes, verdicts: verdicts, tuning: tuningRows,
                            ratesFrom: given == nil ? "tuned on \(name)" : "tuned on mixture")
  }
}
