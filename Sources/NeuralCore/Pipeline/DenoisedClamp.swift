import DiffusionCore

/// What diffusers does to its x_0 prediction before the update (docs/diffusers-loop.md#clamp): nothing,
/// `clip_sample` (clamp to [-r, r]) or dynamic `thresholding` (per image: s = clamp(quantile(|x_0|, ratio), 1,
/// sample_max_value), then clamp(x_0, -s, s) / s). Its VJP is the VJP of torch's ops: the clamp passes the
/// cotangent where -r <= x <= r (inclusive, torch.clamp's backward), and thresholding also differentiates s through
/// the clamp of the quantile and the quantile's linear interpolation between two sorted |x_0| entries.
public enum DenoisedClamp: Sendable, Equatable {
  case none
  case clip(range: Double)
  case threshold(ratio: Double, maxValue: Double)

  /// The clamped x_0 of `batch` images of `count / batch` numbers each.
  public func apply(_ x: [Double], batch: Int) -> [Double] {
    switch self {
    case .none: return x
    case let .clip(r): return x.map { min(max($0, -r), r) }
    case .threshold:
      let d = x.count / batch
      var out = x
      for b in 0..<batch {
        let s = threshold(x[(b * d)..<((b + 1) * d)]).s
        for i in (b * d)..<((b + 1) * d) { out[i] = min(max(x[i], -s), s) / s }
      }
      return out
    }
  }

  /// `g^T d clamp(x)/dx` for the cotangent `g` on the clamped values.
  public func vjp(_ x: [Double], batch: Int, cotangent g: [Double]) -> [Double] {
    switch self {
    case .none: return g
    case let .clip(r): return (0..<x.count).map { x[$0] >= -r && x[$0] <= r ? g[$0] : 0 }
    case let .threshold(_, maxValue):
      let d = x.count / batch
      var out = [Double](repeating: 0, count: x.count)
      for b in 0..<batch {
        let range = (b * d)..<((b + 1) * d)
        let t = threshold(x[range])
        let s = t.s
        // D = clamp(x, -s, s) / s: dD/dx = 1/s inside; dL/ds sums -g x / s^2 inside (outside, clamp and division cancel)
        var gs = 0.0
        for i in range where x[i] >= -s && x[i] <= s {
          out[i] = g[i] / s
          gs -= g[i] * x[i] / (s * s)
        }
        // s = clamp(q, 1, max): passes where 1 <= q <= max; q = lerp(sorted[lo], sorted[hi], w) of |x|
        guard t.q >= 1 && t.q <= maxValue else { continue }
        for (index, weight) in [(t.lo, 1 - t.w), (t.hi, t.w)] {
          let i = range.lowerBound + index
          out[i] += gs * weight * (x[i] > 0 ? 1 : (x[i] < 0 ? -1 : 0))
        }
      }
      return out
    }
  }

  /// torch.quantile(|x|, ratio) (linear interpolation at rank ratio (n - 1)) and s = clamp(q, 1, sample_max_value)
  /// (torch.clamp: the lower bound first, so a sample_max_value below 1 wins);
  /// `lo`, `hi`: the positions in `x` (0-based within the image) of the two sorted entries, `w` the weight of `hi`.
  func threshold(_ x: ArraySlice<Double>) -> (s: Double, q: Double, lo: Int, hi: Int, w: Double) {
    guard case let .threshold(ratio, maxValue) = self else { return (1, 1, 0, 0, 0) }  // invariant: called for .threshold only
    let base = x.startIndex
    let order = x.indices.sorted { (abs(x[$0]), $0) < (abs(x[$1]), $1) }.map { $0 - base }
    let rank = ratio * Double(x.count - 1)
    let below = Int(rank.rounded(.down)), above = Int(rank.rounded(.up))
    let w = rank - Double(below)
    let a = abs(x[base + order[below]]), b = abs(x[base + order[above]])
    let q = w < 0.5 ? a + w * (b - a) : b - (b - a) * (1 - w)  // torch.lerp
    return (min(max(q, 1), maxValue), q, order[below], order[above], w)
  }
}
