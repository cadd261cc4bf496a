import Foundation

/// A reproducible random source: SplitMix64 seeding xoshiro256**, with standard-normal draws by Box-Muller.
/// Every random draw in the project comes from one of these, built from an explicit seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
  private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
  private var spareNormal: Double?

  public init(seed: UInt64) {
    var sm = seed
    func splitmix() -> UInt64 {
      sm &+= 0x9E37_79B9_7F4A_7C15
      var z = sm
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
  }

  public mutating func next() -> UInt64 {
    let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
    let t = s1 << 17
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
    s2 ^= t
    s3 = (s3 << 45) | (s3 >> 19)
    return result
  }

  /// Uniform in (0, 1), never exactly 0.
  public mutating func uniform() -> Double {
    (Double(next() >> 11) + 0.5) * 0x1.0p-53
  }

  /// A standard-normal draw.
  public mutating func normal() -> Double {
    if let z = spareNormal { spareNormal = nil; return z }
    let r = sqrt(-2 * log(uniform())), angle = 2 * Double.pi * uniform()
    spareNormal = r * sin(angle)
    return r * cos(angle)
  }

  /// n standard-normal draws.
  public mutating func normals(_ n: Int) -> [Double] { (0..<n).map { _ in normal() } }
}
