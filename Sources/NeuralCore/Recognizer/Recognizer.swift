import DiffusionCore
import Foundation

/// A small CNN identity recognizer: the unit-vector embedding v(x) of a 1 x s x s image, trained (CosFace) to separate
/// the identities of a data set; the toy stand-in for a face recognizer. Float64 throughout.
///
/// Architecture (w = width, e = embedding dimension, K = classes; parameter names in brackets):
/// - conv 3x3, 1 -> w, padding 1 [conv1], SiLU                                   (w x s x s)
/// - conv 3x3, stride 2, w -> 2w, padding 1 [conv2], SiLU                        (2w x s/2 x s/2)
/// - conv 3x3, stride 2, 2w -> 2w, padding 1 [conv3], SiLU                       (2w x s/4 x s/4)
/// - flatten (2w (s/4)^2, channel-major per image) -> Linear -> u (e) [embed], then `v = u / |u|`.
/// - Training head only, not part of v: prototypes P (K x e) [head.prototypes];
///   `logit_k = scale (cos(v, P_k) - margin [k = y])` (CosFace), cross-entropy averaged over the batch.
///
/// Images are flat, B x s^2 row-major (pixel (i, j) of image b at `b s^2 + i s + j`); embeddings B x e.
public struct Recognizer: Sendable {
  public let config: RecognizerConfig
  public private(set) var parameters: [Double]
  let network: RecognizerNetwork

  /// Seeded initialization (see `RecognizerNetwork.initialParameters`).
  public init(config: RecognizerConfig) throws {
    try config.validate()
    self.config = config
    network = RecognizerNetwork(config)
    parameters = network.initialParameters(seed: config.seed)
  }

  /// Given parameters, in the order and sizes of `parameterBlocks`.
  public init(config: RecognizerConfig, parameters: [Double]) throws {
    try config.validate()
    self.config = config
    network = RecognizerNetwork(config)
    try Check.count(parameters, network.layout.total, "parameters")
    try Check.finite(parameters, "parameters")
    self.parameters = parameters
  }

  /// The named parameter tensors, in the order they sit in `parameters`.
  public var parameterBlocks: [ParameterBlock] { network.layout.blocks }
  public var parameterCount: Int { network.layout.total }
  /// s^2, the numbers per image.
  public var inputDimension: Int { config.imageSize * config.imageSize }
  public var embeddingDimension: Int { config.embeddingDimension }

  /// Where the named tensor lives in `parameters` (nil for an unknown name).
  public func slot(_ name: String) -> ParameterSlot? { network.layout.slot(name) }

  /// v(x) for B images (flat B x s^2): B x e unit vectors.
  public func embed(_ x: [Double], batch: Int) throws -> [Double] {
    try checkImages(x, batch: batch)
    return try parameters.withUnsafeBufferPointer { p in try network.forward(x, batch: batch, p.baseAddress!).v }
  }

  /// v(x) and the vector-Jacobian product `c^T dv/dx` (B x s^2) for a cotangent c (B x e); each image's row
  /// depends on its own image and cotangent only.
  public func vjp(_ x: [Double], batch: Int, cotangent: [Double]) throws -> (embedding: [Double], x: [Double]) {
    try checkImages(x, batch: batch)
    try Check.count(cotangent, batch * embeddingDimension, "cotangent")
    try Check.finite(cotangent, "cotangent")
    return try parameters.withUnsafeBufferPointer { pp in
      let p = pp.baseAddress!
      let pass = try network.forward(x, batch: batch, p)
      return (pass.v, network.backward(pass, dv: cotangent, p, nil))
    }
  }

  /// The identity of each image: `argmax_k cos(v(x), P_k)` (no margin).
  public func classify(_ x: [Double], batch: Int) throws -> [Int] {
    let cosines = try self.cosines(embed(x, batch: batch), batch: batch)
    let K = config.classes
    return (0..<batch).map { b in (0..<K).max { cosines[b * K + $0] < cosines[b * K + $1] }! }
  }

  /// Replaces the parameters (same count, finite).
  public mutating func update(parameters: [Double]) throws {
    try Check.count(parameters, parameterCount, "parameters")
    try Check.finite(parameters, "parameters")
    self.parameters = parameters
  }

  func checkImages(_ x: [Double], batch: Int) throws {
    try Check.positive(batch, "batch")
    try Check.count(x, batch * inputDimension, "x")
    try Check.finite(x, "x")
  }
}
