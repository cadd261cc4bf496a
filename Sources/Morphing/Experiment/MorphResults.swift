import Foundation

/// One learning rate tried on the tuning pairs.
public struct TuningRow: Sendable, Equatable {
  public var model: String
  public var method: MorphMethod
  public var learningRate: Double
  /// Mean final morph loss and MMPMR (loss recognizer) on the tuning pairs; nil when the descent diverged.
  public var meanLoss: Double?
  public var mmpmr: Double?
  public var failure: String?
}

/// Everything one model produced.
public struct MorphModelResult: Sendable {
  public var model: String
  public var pairs: MorphPairs
  public var outcomes: [MorphOutcome]
  /// verdicts[i][r]: outcome i judged by recognizer r.
  public var verdicts: [[MorphVerdict]]
  public var tuning: [TuningRow]
  /// Where the learning rates came from ("tuned on this model" or "tuned on mixture").
  public var ratesFrom: String
}

/// The whole experiment.
public struct MorphReport: Sendable {
  public var config: MorphConfig
  public var thresholds: [MatchThreshold]
  public var models: [MorphModelResult]
  public var seconds: Double
}
