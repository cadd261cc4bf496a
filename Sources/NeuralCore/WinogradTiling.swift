/// A Winograd algorithm F(m x m, 3x3) as `Conv2D` runs it: `points` = (m + 2)^2 matrix products between transforms
/// of the weights, the input tiles and the output tiles, and the adjoints of those transforms for the reverse pass.
/// Buffers hold `points` matrices laid out (xi, channel, tile), `xiStride` apart.
protocol WinogradTiling {
  init(inChannels: Int, outChannels: Int, height: Int, width: Int)
  var inChannels: Int { get }
  var outChannels: Int { get }
  var tilesPerImage: Int { get }
  /// (m + 2)^2, the number of matrix products.
  static var points: Int { get }
  /// Distinguishes this algorithm's transformed weights in `WinogradWeightCache`.
  static var cacheTag: Int { get }
  func transformWeights<S: BLASScalar>(_ w: UnsafePointer<S>, _ u: UnsafeMutablePointer<S>)
  func accumulateWeightGradient<S: BLASScalar>(_ du: UnsafePointer<S>, _ dw: UnsafeMutablePointer<S>)
  func transformInput<S: BLASScalar>(_ x: UnsafePointer<S>, batch: Int, _ b0: Int, _ n: Int, _ v: UnsafeMutablePointer<S>)
  func transformOutput<S: BLASScalar>(_ m: UnsafePointer<S>, bias: UnsafePointer<S>, batch: Int, _ b0: Int, _ n: Int, _ y: UnsafeMutablePointer<S>)
  func transformOutputGradient<S: BLASScalar>(_ dy: UnsafePointer<S>, batch: Int, _ b0: Int, _ n: Int, _ dm: UnsafeMutablePointer<S>)
  func transformInputGradient<S: BLASScalar>(_ dv: UnsafePointer<S>, batch: Int, _ b0: Int, _ n: Int, _ dx: UnsafeMutablePointer<S>)
}

extension WinogradTiling {
  /// The distance between consecutive xi matrices of `count` numbers: padded by two cache lines so that the
  /// streams a transform reads or writes do not fall into the same cache sets (a power-of-two distance would make
  /// them collide and thrash).
  static func xiStride(_ count: Int) -> Int { count + 32 }
  var weightStride: Int { Self.xiStride(outChannels * inChannels) }

  /// Images per chunk so that the transformed input and output stay near 8M numbers together.
  func chunk(batch: Int) -> Int {
    max(1, min(batch, (8 << 20) / max(1, Self.points * (inChannels + outChannels) * tilesPerImage)))
  }
}
