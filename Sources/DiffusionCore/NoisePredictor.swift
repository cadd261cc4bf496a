/// The shape of one named block of a model's parameter vector theta (row-major).
public struct ParameterBlock: Sendable, Equatable {
  public let name: String
  public let shape: [Int]
  public init(name: String, shape: [Int]) {
    self.name = name
    self.shape = shape
  }
  public var count: Int { shape.reduce(1, *) }
}

/// What a noise predictor returns for a cotangent `v`: `eps` and the vector-Jacobian products
/// `v^T d eps/dx` (B x d), `v^T d eps/dz` (B x m) and `v^T d eps/dtheta` (P, summed over the batch).
public struct NoiseVJP: Sendable {
  public var eps: [Double]
  public var x: [Double]
  public var z: [Double]
  /// Empty when parameter gradients were not asked for.
  public var theta: [Double]
  public init(eps: [Double], x: [Double], z: [Double], theta: [Double]) {
    self.eps = eps
    self.x = x
    self.z = z
    self.theta = theta
  }
}

/// Where models meet solvers: a noise-prediction model `eps(x, z, t) ~ -sigma_t grad_x log p_t(x | z)`
/// (docs/math.md#pf-ode) and its vector-Jacobian products, batched over B samples.
///
/// Arrays are flat and row-major: `x` and `v` hold B x d numbers, `z` holds B x m, t is continuous time.
public protocol NoisePredictor: Sendable {
  /// d, the data dimension.
  var dataDimension: Int { get }
  /// m, the conditioning dimension (0 when the model is unconditional).
  var conditionDimension: Int { get }
  /// The layout of theta; `parameters` holds them in this order.
  var parameterBlocks: [ParameterBlock] { get }
  /// theta, flattened in the order of `parameterBlocks`.
  var parameters: [Double] { get }
  /// The same model with theta replaced (used for finite differences and optimization).
  func replacingParameters(_ theta: [Double]) throws -> Self

  /// `eps(x, z, t)` for B samples.
  func eps(_ x: [Double], z: [Double], t: Double, batch: Int) throws -> [Double]
  /// `eps` and the VJPs with the cotangent `v`; `theta` is empty unless `wantParameters`.
  func vjp(_ x: [Double], z: [Double], t: Double, batch: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP

  /// The data prediction at pure noise (alpha_t = 0, flow matching at t = 1): `x0-hat = E[x_0 | z]`, which eps cannot
  /// give there (`(x - sigma eps)/alpha` is 0/0; docs/math.md#noise-end). B rows of d numbers.
  func noiseEndPrediction(z: [Double], batch: Int) throws -> [Double]
  /// Its VJPs with the cotangent v (B x d): `x` is zero (x_T carries no information about x_0 there), `z` and
  /// `theta` as for `vjp`; the `eps` field holds the prediction.
  func noiseEndVJP(z: [Double], batch: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP

  /// The data prediction at pure noise from the state x_T (B x d): a network's x0-hat there depends on x_T (flow
  /// matching's velocity: `x0-hat = x - v(x, 1)`); the default is the x-free `noiseEndPrediction(z:batch:)`.
  func noiseEndPrediction(_ x: [Double], z: [Double], batch: Int) throws -> [Double]
  /// Its VJPs, `x` included (the default: `noiseEndVJP(z:...)`, zero in x).
  func noiseEndVJP(_ x: [Double], z: [Double], batch: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP
}

extension NoisePredictor {
  /// Models without a closed-form prior mean cannot start at alpha_T = 0.
  public func noiseEndPrediction(z: [Double], batch: Int) throws -> [Double] {
    throw InvalidInput("T", "this model predicts eps only, which gives no x_0 at alpha_T = 0 (pure noise): use T < 1")
  }

  public func noiseEndVJP(z: [Double], batch: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP {
    throw InvalidInput("T", "this model predicts eps only, which gives no x_0 at alpha_T = 0 (pure noise): use T < 1")
  }
}

extension NoisePredictor {
  public func noiseEndPrediction(_ x: [Double], z: [Double], batch: Int) throws -> [Double] {
    try noiseEndPrediction(z: z, batch: batch)
  }

  public func noiseEndVJP(_ x: [Double], z: [Double], batch: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP {
    try noiseEndVJP(z: z, batch: batch, cotangent: v, wantParameters: wantParameters)
  }
}

extension NoisePredictor {
  public var parameterCount: Int { parameterBlocks.reduce(0) { $0 + $1.count } }

  /// Throws unless x, z and (when given) v have the shapes this model expects for B samples, with finite values.
  public func validateInputs(_ x: [Double], z: [Double], t: Double, batch: Int, cotangent v: [Double]? = nil) throws {
    try Check.positive(batch, "batch")
    try Check.count(x, batch * dataDimension, "x")
    try Check.count(z, batch * conditionDimension, "z")
    try Check.finite(x, "x")
    try Check.finite(z, "z")
    try Check.finite(t, "t")
    if let v {
      try Check.count(v, batch * dataDimension, "cotangent")
      try Check.finite(v, "cotangent")
    }
  }

  /// Splits a flat theta-shaped vector into its named blocks.
  public func split(_ theta: [Double]) -> [(block: ParameterBlock, values: ArraySlice<Double>)] {
    var offset = 0
    return parameterBlocks.map { block in
      defer { offset += block.count }
      return (block, theta[offset..<min(offset + block.count, theta.count)])
    }
  }
}
