import DiffusionCore

/// The rounds of `bench unet` and what may be concluded from them. A round times NeuralCore and PyTorch back to back
/// (the order alternating from round to round, so a drift in machine load favours neither); the 1-minute load
/// average is read before and after it. A round that starts with the load above `contendedLoad` shared the cores
/// with other work: its ratios are reported, marked contended, and left out of the headline medians.
public struct BenchRounds: Sendable {
  /// One round: seconds per pass (medians over the runs) and the load around it.
  public struct Round: Sendable, Equatable {
    public var oursForward: Double, oursFull: Double
    public var theirsForward: Double?, theirsFull: Double?
    public var loadBefore: Double, loadAfter: Double
    public init(oursForward: Double, oursFull: Double, theirsForward: Double?, theirsFull: Double?, loadBefore: Double, loadAfter: Double) {
      (self.oursForward, self.oursFull, self.theirsForward, self.theirsFull) = (oursForward, oursFull, theirsForward, theirsFull)
      (self.loadBefore, self.loadAfter) = (loadBefore, loadAfter)
    }
    public var forwardRatio: Double? { theirsForward.map { oursForward / $0 } }
    public var fullRatio: Double? { theirsFull.map { oursFull / $0 } }
  }

  /// At least this many rounds: one round's ratio is an anecdote, and the spread needs three.
  public static let minimumRounds = 3
  /// The load (1-minute average) above which a round counts as contended, as the issue defines a quiet machine.
  public static let defaultContendedLoad = 0.3

  public let contendedLoad: Double
  public private(set) var rounds: [Round] = []

  public init(contendedLoad: Double = defaultContendedLoad) { self.contendedLoad = contendedLoad }

  /// The options' checks: rounds >= 3, runs >= 1, a finite non-negative load threshold, a settle time in [0, 3600] s.
  public static func validate(rounds: Int, runs: Int, contendedLoad: Double, settleSeconds: Double) throws {
    if rounds < minimumRounds { throw InvalidInput("rounds", "must be at least \(minimumRounds) (got \(rounds)): the spread between rounds needs three") }
    if runs < 1 { throw InvalidInput("runs", "must be at least 1 (got \(runs))") }
    if !contendedLoad.isFinite || contendedLoad < 0 { throw InvalidInput("contended-load", "must be a finite load average >= 0 (got \(contendedLoad))") }
    if !settleSeconds.isFinite || settleSeconds < 0 || settleSeconds > 3600 {
      throw InvalidInput("settle", "must be between 0 and 3600 seconds (got \(settleSeconds))")
    }
  }

  public mutating func append(_ round: Round) { rounds.append(round) }

  public func isContended(_ round: Round) -> Bool { !(round.loadBefore <= contendedLoad) }

  /// The rounds the headline uses: the uncontended ones; when every round was contended, all of them (and
  /// `allContended` says so, so the table can be marked).
  public var headlineRounds: [Round] {
    let quiet = rounds.filter { !isContended($0) }
    return quiet.isEmpty ? rounds : quiet
  }
  public var allContended: Bool { !rounds.isEmpty && rounds.allSatisfy(isContended) }

  /// Median of the headline rounds' values.
  public func median(_ value: (Round) -> Double?) -> Double? { Self.median(headlineRounds.compactMap(value)) }

  /// (min, max) of the headline rounds' values, the round-to-round spread.
  public func spread(_ value: (Round) -> Double?) -> (Double, Double)? {
    let v = headlineRounds.compactMap(value)
    guard let lo = v.min(), let hi = v.max() else { return nil }
    return (lo, hi)
  }

  public static func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let v = values.sorted()
    return v.count % 2 == 1 ? v[v.count / 2] : 0.5 * (v[v.count / 2 - 1] + v[v.count / 2])
  }

  /// Whether round k (0-based) runs PyTorch first: odd rounds do, so the two sides alternate which goes first.
  public static func pytorchFirst(round k: Int) -> Bool { k % 2 == 1 }
}
