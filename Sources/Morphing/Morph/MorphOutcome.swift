import Integrators

/// One point of an optimization path: pair p at step k, its loss, and its gradient against the reference gradient.
public struct PathPoint: Sendable, Equatable {
  public var step: Int
  public var pair: Int
  public var loss: Double
  /// cos(g, g_ref) and |g| / |g_ref| over the joint (x_T, z) gradient (nil where the reference was not computed).
  public var cosine: Double?
  public var normRatio: Double?
}

/// What one method produced for all pairs of a run.
public struct MorphOutcome: Sendable {
  public let method: MorphMethod
  /// The morphs x_0, P x d.
  public var morphs: [Double]
  /// The final morph loss of each pair (the loss recognizer).
  public var loss: [Double]
  /// Model evaluations per morph (counted: every batched call is one evaluation of each pair), including encoding.
  public var evaluations: EvaluationCount
  /// Wall-clock seconds for all pairs (encoding included).
  public var seconds: Double
  public var path: [PathPoint] = []
  public var learningRate: Double? = nil
  /// Gradient methods: |x_T| at the end over |x_T| at the DiM start, per pair (how far the descent left the
  /// standard-normal shell |x_T| ~ sqrt(d)).
  public var noiseNormRatio: [Double]? = nil
  /// Morph-PIPE: the chosen blend weight of each pair.
  public var chosenWeight: [Double]? = nil
}
