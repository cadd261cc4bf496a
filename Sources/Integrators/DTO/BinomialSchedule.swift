import DiffusionCore

/// Griewank's optimal reversal of a chain of steps with a fixed number of state slots (binomial checkpointing, the
/// Revolve schedule; docs/math.md#checkpointing). Generic: it knows states only through the two closures.
///
/// The chain: states x_0, ..., x_l, `advance` takes x_i to x_{i+1} (step i), and `reverseStep(x_i, i)` must run for
/// i = l-1 down to 0, in that order, each exactly once. x_0 sits in a slot from the start (it counts as one of the
/// s slots); the working state being advanced is not a slot. The least number of advances any such schedule needs
/// is p(l, s):
///
///     p(1, s) = 0,  p(l, 1) = l (l - 1) / 2,  p(l, s) = min_{1 <= m < l} (m + p(l - m, s - 1) + p(m, s)),
///
/// in closed form p(l, s) = t l - C(s + t, t - 1) with the repetition number t: C(s + t - 1, s) < l <= C(s + t, s).
/// `reverse` realizes it: exactly p(l, s) `advance` calls, never more than s states held. Its first advances run
/// x_0 -> x_{l-1} in order (storing the checkpoints on the way), so a caller who also needs x_l (a sampler's output)
/// gets it with one more advance before `reverseStep(x_{l-1}, l-1)`: 1 + p(l, s) advances in all, N for s = l.
public enum BinomialSchedule {
  /// What a reversal cost: the advances, and the most states held in slots at once (x_0 included) and their total
  /// `size`.
  public struct Reversal: Sendable, Equatable {
    public var advances = 0
    public var peakSlots = 0
    public var peakSize = 0
  }

  /// p(l, s) in closed form (Griewank 1992; docs/math.md#checkpointing (7.3)); 0 for l <= 1. Requires s >= 1
  /// (callers validate); slots beyond l - 1 change nothing (p = l - 1).
  public static func extraAdvances(steps l: Int, slots s: Int) -> Int {
    guard l > 1 else { return 0 }
    let s = min(s, l)
    let t = repetitionNumber(steps: l, slots: s)
    return t * l - binomial(s + t, t - 1)
  }

  /// The repetition number t: the least t with l <= C(s + t, s) (each step advanced at most t times).
  public static func repetitionNumber(steps l: Int, slots s: Int) -> Int {
    var t = 0, c = 1  // c = C(s + t, s)
    while c < l {
      t += 1
      c = c * (s + t) / t  // C(s + t, s) = C(s + t - 1, s) (s + t) / t, exact
    }
    return t
  }

  /// C(n, k) for 0 <= k <= n, 0 otherwise (the values here stay below l (s + t), far from overflow).
  static func binomial(_ n: Int, _ k: Int) -> Int {
    guard k >= 0, k <= n else { return 0 }
    let k = min(k, n - k)
    var c = 1
    for i in 0..<k { c = c * (n - i) / (i + 1) }
    return c
  }

  /// The first checkpoint of an optimal reversal: the least m minimizing m + p(l - m, s - 1) + p(m, s). The sum is
  /// convex in m (p is piecewise linear in l with nondecreasing slope t), so a bisection on its forward difference
  /// finds it. Requires l >= 2, s >= 2.
  static func split(steps l: Int, slots s: Int) -> Int {
    // docs/math.md#checkpointing (7.2)
    func cost(_ m: Int) -> Int { m + extraAdvances(steps: l - m, slots: s - 1) + extraAdvances(steps: m, slots: s) }
    var lo = 1, hi = l - 1  // the least m with cost(m + 1) >= cost(m) lies in lo...hi
    while lo < hi {
      let mid = (lo + hi) / 2
      if cost(mid + 1) >= cost(mid) { hi = mid } else { lo = mid + 1 }
    }
    return lo
  }

  /// Reverses the chain of `steps` steps from `start` = x_0 with `slots` slots, calling `advance` exactly
  /// p(steps, slots) times and `reverseStep` for i = steps-1 down to 0 (docs/math.md#checkpointing (7.2)). `size`
  /// weighs a held state (e.g. 1 + its history vectors) for `peakSize`. Throws for steps < 0 or slots < 1.
  public static func reverse<State>(
    steps l: Int, slots s: Int, start: State, size: (State) -> Int = { _ in 1 },
    advance: (inout State, Int) throws -> Void, reverseStep: (State, Int) throws -> Void
  ) throws -> Reversal {
    guard l >= 0 else { throw InvalidInput("steps", "a chain has at least 0 steps, got \(l)") }
    guard s >= 1 else { throw InvalidInput("slots", "a reversal needs at least 1 slot (for x_0), got \(s)") }
    let s = min(s, max(l, 1))  // more slots than states change nothing
    var r = Reversal()
    var held = 0, heldSize = 0
    func hold(_ x: State, _ sign: Int) {
      held += sign
      heldSize += sign * size(x)
      r.peakSlots = max(r.peakSlots, held)
      r.peakSize = max(r.peakSize, heldSize)
    }
    // Reverses steps base..<base+l from x_base (held in a slot by the caller) with s slots (x_base's included).
    func run(_ x: State, base: Int, steps l: Int, slots s: Int) throws {
      var l = l
      while l > 0 {
        if l == 1 { try reverseStep(x, base); return }
        if s == 1 {
          // one slot: advance from x_base to each state in turn, last first
          for i in stride(from: l - 1, through: 0, by: -1) {
            var w = x
            for j in 0..<i { try advance(&w, base + j); r.advances += 1 }
            try reverseStep(w, base + i)
          }
          return
        }
        let m = split(steps: l, slots: s)
        var w = x
        for j in 0..<m { try advance(&w, base + j); r.advances += 1 }
        hold(w, 1)
        try run(w, base: base + m, steps: l - m, slots: s - 1)
        hold(w, -1)
        l = m  // then the first m steps, with all s slots again
      }
    }
    hold(start, 1)
    try run(start, base: 0, steps: l, slots: s)
    hold(start, -1)
    return r
  }
}
