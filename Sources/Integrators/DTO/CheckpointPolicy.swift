import DiffusionCore
import Foundation

/// Which states discretize-then-optimize keeps for its reverse pass (docs/math.md#checkpointing).
///
/// Counting N sampler steps and one eps per step: `.all` holds the N states x_0..x_{N-1} and needs no recomputation
/// (N eps, N VJPs); `.every(k)` holds every k-th state (with the eps history its next step needs) and recomputes each
/// segment when the reverse pass reaches it (O(k + N/k) states, up to N - ceil(N/k) more eps); `.binomial(slots: S)`
/// holds at most S states and follows Griewank's optimal reversal (`BinomialSchedule`): 1 + p(N, S) eps in all,
/// the fewest any schedule with S slots can spend.
public enum CheckpointPolicy: Sendable, Equatable, CustomStringConvertible {
  case all
  case every(Int)
  case binomial(slots: Int)

  /// Parses the option text: `K` (every K-th state) or `binomial:S` (S slots). `option` names the field in errors.
  public init(parsing text: String, option: String = "checkpoint") throws {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    if trimmed.hasPrefix("binomial:") {
      let value = trimmed.dropFirst("binomial:".count)
      guard let s = Int(value) else { throw InvalidInput(option, "expected binomial:S with S an integer number of slots, got '\(text)'") }
      self = .binomial(slots: s)
    } else if let k = Int(trimmed) {
      self = .every(k)
    } else {
      throw InvalidInput(option, "expected K (keep every K-th state) or binomial:S (S state slots), got '\(text)'")
    }
    try validate(option: option)
  }

  /// Throws unless the interval or the slot count is at least 1.
  public func validate(option: String = "checkpoint") throws {
    switch self {
    case .all: return
    case let .every(k): if k < 1 { throw InvalidInput(option, "must be at least 1, got \(k)") }
    case let .binomial(s): if s < 1 { throw InvalidInput(option, "binomial needs at least 1 slot, got \(s)") }
    }
  }

  /// Throws unless the policy fits a sampler of `steps` steps: S slots for N steps need S <= N (N slots hold every
  /// state the VJPs need: full storage).
  public func validate(steps: Int, option: String = "checkpoint") throws {
    try validate(option: option)
    if case let .binomial(s) = self, s > steps {
      throw InvalidInput(option, "binomial:\(s) has more slots than the \(steps) states a \(steps)-step sampler stores (at most binomial:\(steps), full storage)")
    }
  }

  /// The most states x_n the reverse pass keeps at once for N steps (docs/math.md#checkpointing): N under `.all`,
  /// S under `.binomial`, and under `.every(k)` with c = ceil(N/k) checkpoints and a last segment of L states
  /// max(c + L - 1, c + k - 2) (a segment's states beside the checkpoints still ahead of it); what a memory budget must
  /// allow for, each state with at most k - 1 eps outputs of a k-step rule.
  public func keptStates(steps n: Int) -> Int {
    switch self {
    case .all: return n
    case let .every(k):
      guard k < n else { return n }
      let c = (n + k - 1) / k, last = n - (c - 1) * k
      return max(c + last - 1, c + k - 2)
    case let .binomial(s): return min(s, n)
    }
  }

  /// The option text (`K`, `binomial:S`; `all` for full storage, which has no option text).
  public var description: String {
    switch self {
    case .all: return "all"
    case let .every(k): return "\(k)"
    case let .binomial(s): return "binomial:\(s)"
    }
  }
}
