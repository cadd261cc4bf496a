/// The guidance losses a user of an image model picks (docs/math.md#losses), each a sum over pixels, so that the loss
/// of a batch of B images is the sum of B per-image losses and its gradient is per image:
/// - `squaredDistance`: `L = 0.5 |x_0 - target|^2`;
/// - `maskedSquaredDistance`: `L = 0.5 sum_i m_i (x_{0,i} - target_i)^2` (inpainting-style: m = 1 where the pixel is
///   to match, 0 where it is free);
/// - `linear`: `L = <w, x_0>` (w given as `target`).
public struct PixelLoss: GuidanceLoss, Equatable {
  public enum Kind: String, CaseIterable, Sendable {
    case squaredDistance = "squared-distance"
    case maskedSquaredDistance = "masked-squared-distance"
    case linear

    public static func named(_ name: String) throws -> Kind { try parse(name, option: "loss", what: "loss") }
  }

  public let kind: Kind
  /// The target (or w), B x d.
  public let target: [Double]
  /// The mask m, B x d (all ones except for the masked loss).
  public let mask: [Double]
  /// d, the size of one image.
  public let dimension: Int

  public init(kind: Kind, target: [Double], mask: [Double]? = nil, dimension: Int) throws {
    try Check.positive(dimension, "loss dimension")
    guard target.count % dimension == 0, !target.isEmpty else {
      throw InvalidInput("target", "expected a multiple of \(dimension) numbers, got \(target.count)")
    }
    try Check.finite(target, "target")
    if kind == .maskedSquaredDistance {
      guard let mask else { throw InvalidInput("mask", "the masked-squared-distance loss needs --mask") }
      try Check.count(mask, target.count, "mask")
      try Check.finite(mask, "mask")
      if let i = mask.firstIndex(where: { $0 < 0 }) { throw InvalidInput("mask", "entry \(i) is negative (\(mask[i]))") }
      self.mask = mask
    } else {
      if mask != nil { throw InvalidInput("mask", "only the masked-squared-distance loss takes a mask") }
      self.mask = [Double](repeating: 1, count: target.count)
    }
    self.kind = kind
    self.target = target
    self.dimension = dimension
  }

  /// The loss of each of the B images.
  public func perSample(_ x0: [Double]) -> [Double] {
    (0..<(target.count / dimension)).map { p in
      var s = 0.0
      for i in (p * dimension)..<((p + 1) * dimension) {
        switch kind {
        case .linear: s += target[i] * x0[i]
        case .squaredDistance, .maskedSquaredDistance:
          let r = x0[i] - target[i]
          s += 0.5 * mask[i] * r * r
        }
      }
      return s
    }
  }

  public func value(_ x0: [Double]) -> Double { perSample(x0).reduce(0, +) }

  public func gradient(_ x0: [Double]) -> [Double] {
    switch kind {
    case .linear: return target
    case .squaredDistance, .maskedSquaredDistance: return (0..<x0.count).map { mask[$0] * (x0[$0] - target[$0]) }
    }
  }
}
