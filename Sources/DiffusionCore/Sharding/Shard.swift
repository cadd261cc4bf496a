/// One part of a sharded run: shard `index` of `count` (0-based, as SLURM numbers the tasks of a job array).
/// A study enumerates its runs in one fixed order; `Shard.range` cuts that list into `count` contiguous blocks of
/// about equal estimated cost, so a shard's runs share their setup (one reference per seed) as far as possible.
public struct Shard: Sendable, Equatable, Hashable, CustomStringConvertible {
  public let index: Int
  public let count: Int

  public init(index: Int, count: Int) throws {
    guard count >= 1 else { throw InvalidInput("shard", "the shard count must be at least 1, got \(count)") }
    guard count <= 100_000 else { throw InvalidInput("shard", "at most 100000 shards, got \(count)") }
    guard (0..<count).contains(index) else {
      throw InvalidInput("shard", "the shard index must be in 0...\(count - 1) (0-based, like SLURM_ARRAY_TASK_ID), got \(index)")
    }
    self.index = index
    self.count = count
  }

  /// Parses `I/N`, e.g. `3/4` (the fourth of four shards).
  public init(parsing text: String) throws {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2 else { throw InvalidInput("shard", "expected I/N (e.g. 0/4), got '\(text)'") }
    guard let i = Int(parts[0]), let n = Int(parts[1]) else {
      throw InvalidInput("shard", "expected two integers I/N (e.g. 0/4), got '\(text)'")
    }
    try self.init(index: i, count: n)
  }

  /// `I-of-N`: the shard's folder name under `DIR/shards/`.
  public var name: String { "\(index)-of-\(count)" }
  public var description: String { "\(index)/\(count)" }

  /// The runs of this shard: a contiguous block of `0..<weights.count`. Run k belongs to the shard whose share of
  /// the total weight holds the midpoint of run k's weight, so the blocks are disjoint, cover every run, and carry
  /// about `total / count` each. Non-positive or non-finite weights count as 1.
  public func range(weights: [Double]) -> Range<Int> {
    let w = weights.map { $0.isFinite && $0 > 0 ? $0 : 1 }
    let total = w.reduce(0, +)
    var start = w.count, end = w.count
    var before = 0.0
    for (k, wk) in w.enumerated() {
      let owner = min(count - 1, Int(Double(count) * (before + wk / 2) / total))
      if owner >= index && start == w.count { start = k }
      if owner > index { end = k; break }
      before += wk
    }
    return start..<max(start, end)
  }

  /// Equal weights: `range(weights:)` for `runs` runs of the same cost.
  public func range(runs: Int) -> Range<Int> { range(weights: Array(repeating: 1, count: max(0, runs))) }
}
