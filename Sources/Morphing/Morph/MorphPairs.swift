import DiffusionCore
import ToyModels

/// P pairs `(x_a, x_b)` of exact samples from two different components ("identities") of a mixture, seeded.
public struct MorphPairs: Sendable {
  /// P x d each.
  public let xA: [Double]
  public let xB: [Double]
  /// The components the samples came from.
  public let classA: [Int]
  public let classB: [Int]
  public let dimension: Int
  public var count: Int { classA.count }

  /// Pair p: a component a uniform over K, b uniform over the other K - 1, then one sample of each.
  public static func draw(mixture: GaussianMixture, count: Int, seed: UInt64) throws -> MorphPairs {
    try Check.positive(count, "pairs")
    let K = mixture.componentCount
    guard K >= 2 else { throw InvalidInput("data", "morphing needs at least two components (identities), got K = \(K)") }
    var rng = SeededGenerator(seed: seed)
    var xA: [Double] = [], xB: [Double] = [], classA: [Int] = [], classB: [Int] = []
    for _ in 0..<count {
      let a = Int(rng.next() % UInt64(K))
      var b = Int(rng.next() % UInt64(K - 1))
      if b >= a { b += 1 }
      xA += try mixture.sample(component: a, count: 1, generator: &rng)
      xB += try mixture.sample(component: b, count: 1, generator: &rng)
      classA.append(a)
      classB.append(b)
    }
    return MorphPairs(xA: xA, xB: xB, classA: classA, classB: classB, dimension: mixture.dataDimension)
  }

  public init(xA: [Double], xB: [Double], classA: [Int], classB: [Int], dimension: Int) {
    self.xA = xA
    self.xB = xB
    self.classA = classA
    self.classB = classB
    self.dimension = dimension
  }

  /// The first n pairs.
  public func prefix(_ n: Int) -> MorphPairs {
    let n = min(n, count), d = dimension
    return MorphPairs(xA: Array(xA[0..<(n * d)]), xB: Array(xB[0..<(n * d)]), classA: Array(classA[0..<n]),
                      classB: Array(classB[0..<n]), dimension: d)
  }
}
