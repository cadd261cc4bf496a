import DiffusionCore
import Foundation

/// One named weight tensor: row-major values with their shape.
public struct WeightTensor: Sendable, Equatable {
  public var shape: [Int]
  public var values: [Double]
  public init(shape: [Int], values: [Double]) {
    self.shape = shape
    self.values = values
  }
  public init(shape: [Int], values: [Float]) {
    self.shape = shape
    self.values = values.map(Double.init)
  }
}

/// What `UNet2DModel.vjp` returns for a cotangent v (flat row-major arrays, NCHW for images).
public struct UNetVJP<Scalar: BLASScalar>: Sendable {
  /// eps(x, t, z), (B, C_out, H, W).
  public var eps: [Scalar]
  /// v^T d eps/dx, (B, C_in, H, W).
  public var x: [Scalar]
  /// v^T d eps/dz, (B, time_embed_dim); empty without a class embedding.
  public var z: [Scalar]
  /// v^T d eps/dtheta (summed over the batch) in the order of `parameterBlocks`; empty unless asked for.
  public var parameters: [Scalar]
}

/// diffusers' UNet2DModel (positional time embedding, optional identity class embedding) computing in `Scalar`,
/// with its forward pass and vector-Jacobian products in the input, the conditioning z and every parameter.
/// Parameters live in one flat vector, ordered and named as diffusers' state_dict.
/// Building one selects OpenBLAS's fastest kernels for the CPU once (see `OpenBLASKernels`).
public struct UNet2DModel<Scalar: BLASScalar>: Sendable {
  public let config: UNetConfig
  /// Names, shapes and offsets of the parameter tensors in `parameters`.
  public let layout: ParameterLayout
  /// theta, in the order of `parameterBlocks`.
  public var parameters: [Scalar] {
    didSet { winogradCache = WinogradWeightCache() }  // transforms of the old weights must not be reused
  }
  let net: UNetArchitecture
  /// The Winograd weight transforms of `parameters`, shared by the passes and slices that use them.
  private(set) var winogradCache = WinogradWeightCache()

  /// Named parameter shapes in state_dict order.
  public var parameterBlocks: [ParameterBlock] { layout.blocks }
  public var parameterCount: Int { layout.total }
  /// The number of levels that halve the resolution.
  public var downsamplings: Int { config.blockOutChannels.count - 1 }

  /// The parameter layout (names, shapes, offsets) a config builds, without allocating weights.
  public static func layout(_ config: UNetConfig) -> ParameterLayout {
    var layout = ParameterLayout()
    _ = UNetArchitecture(config, &layout)
    return layout
  }

  /// Random weights: convolution and linear weights and biases uniform in +-1/sqrt(fan_in) (PyTorch's default),
  /// GroupNorm scales 1 + 0.1 N(0,1) and shifts 0.1 N(0,1) (so that their gradients are not degenerate).
  public init(config: UNetConfig, seed: UInt64) throws {
    try config.validate()
    OpenBLASKernels.selectForThisCPU()
    MemoryTuning.keepFreedMemory()
    var layout = ParameterLayout()
    net = UNetArchitecture(config, &layout)
    self.config = config
    self.layout = layout
    try Self.checkWeightMemory(layout)
    var rng = SeededGenerator(seed: seed)
    var theta = [Scalar](repeating: 0, count: layout.total)
    // fan_in of each module's weight also bounds that module's bias
    var fanIn: [String: Int] = [:]
    for block in layout.blocks where block.name.hasSuffix(".weight") && block.shape.count >= 2 {
      fanIn[String(block.name.dropLast(".weight".count))] = block.shape.dropFirst().reduce(1, *)
    }
    for (i, block) in layout.blocks.enumerated() {
      let offset = layout.offsets[i]
      let isWeight = block.name.hasSuffix(".weight")
      let module = String(block.name.dropLast(isWeight ? 7 : 5))
      let isNorm = fanIn[module] == nil
      let bound = 1 / Double(fanIn[module] ?? 1).squareRoot()
      for k in 0..<block.count {
        let value = isNorm ? (isWeight ? 1 : 0) + 0.1 * rng.normal() : (2 * rng.uniform() - 1) * bound
        theta[offset + k] = Scalar(value)
      }
    }
    parameters = theta
  }

  /// Weights by diffusers parameter name. Missing, unknown or wrong-shaped tensors are errors naming the tensor.
  /// Legacy attention names (query, key, value, proj_attn) are accepted for to_q, to_k, to_v, to_out.0.
  public init(config: UNetConfig, weights: [String: WeightTensor]) throws {
    try self.init(config: config, shapes: weights.mapValues(\.shape)) { name in
      (weights[name]?.values ?? []).map { Scalar($0) }
    }
  }

  /// Weights from tensors known by name and shape, their values produced on demand in `Scalar`.
  public init(config: UNetConfig, shapes: [String: [Int]], values: (String) throws -> [Scalar]) throws {
    try config.validate()
    OpenBLASKernels.selectForThisCPU()
    MemoryTuning.keepFreedMemory()
    var layout = ParameterLayout()
    net = UNetArchitecture(config, &layout)
    self.config = config
    self.layout = layout
    // every name and shape is checked, and the weights' memory budgeted, before theta is allocated
    var seen = Set<String>()
    var slots: [(name: String, index: Int)] = []
    for name in shapes.keys.sorted() {
      let shape = shapes[name]!
      let canonical = Self.canonicalName(name)
      guard let i = layout.index[canonical] else { throw InvalidInput(name, "not a parameter of this UNet2DModel") }
      guard seen.insert(canonical).inserted else { throw InvalidInput(name, "given twice (also under another name)") }
      let block = layout.blocks[i]
      // legacy attention projections may be stored as 1x1 convolutions (out, in, 1, 1)
      let legacyConv = shape.count == 4 && shape[2] == 1 && shape[3] == 1 && Array(shape[..<2]) == block.shape
      guard shape == block.shape || legacyConv else {
        throw InvalidInput(name, "has shape \(shape), expected \(block.shape)")
      }
      slots.append((name, i))
    }
    if let missing = layout.blocks.first(where: { !seen.contains($0.name) }) {
      throw InvalidInput(missing.name, "missing from the weights")
    }
    try Self.checkWeightMemory(layout)
    var theta = [Scalar](repeating: 0, count: layout.total)
    for (name, i) in slots {
      let block = layout.blocks[i]
      let tensor = try values(name)
      guard tensor.count == block.count else {
        throw InvalidInput(name, "holds \(tensor.count) values, expected \(block.count)")
      }
      if let k = tensor.firstIndex(where: { !$0.isFinite }) { throw InvalidInput(name, "entry \(k) is not finite") }
      let offset = layout.offsets[i]
      theta.withUnsafeMutableBufferPointer { tp in
        for k in 0..<block.count { tp[offset + k] = tensor[k] }
      }
    }
    parameters = theta
  }

  /// Refuses a layout whose weights (with room for one gradient) exceed the machine's memory.
  static func checkWeightMemory(_ layout: ParameterLayout) throws {
    try Budget.checkMemory(
      2 * Double(layout.total) * Double(MemoryLayout<Scalar>.size), "block_out_channels",
      what: "a UNet of \(layout.total) parameters in \(Scalar.dtypeName) (weights and one gradient)")
  }

  /// Maps the pre-0.14 diffusers attention names onto the current ones.
  static func canonicalName(_ name: String) -> String {
    guard name.contains(".attentions.") else { return name }
    let renames = [(".query.", ".to_q."), (".key.", ".to_k."), (".value.", ".to_v."), (".proj_attn.", ".to_out.0.")]
    for (old, new) in renames where name.contains(old) { return name.replacingOccurrences(of: old, with: new) }
    return name
  }

  /// The same network with theta replaced.
  public func replacingParameters(_ theta: [Scalar]) throws -> UNet2DModel {
    guard theta.count == parameterCount else { throw InvalidInput("theta", "expected \(parameterCount) numbers, got \(theta.count)") }
    var m = self
    m.parameters = theta
    return m
  }

  /// The parameter tensor with this diffusers name.
  public func parameter(_ name: String) -> [Scalar]? {
    guard let slot = layout.slot(name) else { return nil }
    return Array(parameters[slot.offset..<slot.offset + slot.count])
  }

  /// FLOPs (2 per multiply-add: convolutions, linear layers, attention products) of one forward pass.
  public func forwardFLOPs(batch: Int, height: Int, width: Int) -> Double {
    net.flops(batch: batch, height: height, width: width)
  }

  // MARK: - Forward and VJP

  /// eps(x, t, z): x is (B, C_in, H, W) row-major, `timesteps` the network's own time input (one per image, or
  /// one for all), z (B, time_embed_dim) when the config has class_embed_type identity (else empty).
  @_specialize(exported: true, where Scalar == Float)
  @_specialize(exported: true, where Scalar == Double)
  public func forward(_ x: [Scalar], batch: Int, height: Int, width: Int, timesteps: [Double], z: [Scalar] = []) throws -> [Scalar] {
    try validate(x, batch: batch, height: height, width: width, timesteps: timesteps, z: z, cotangent: nil)
    let whole = { (x: [Scalar], batch: Int, timesteps: [Double], z: [Scalar]) in
      WinogradWeightCache.$current.withValue(winogradCache) {
        parameters.withUnsafeBufferPointer { p in
          run(x, batch: batch, height: height, width: width, timesteps: timesteps, z: z, p.baseAddress!).output.toNCHW()
        }
      }
    }
    guard let slices = BatchParallel.slices(batch: batch) else { return whole(x, batch, timesteps, z) }
    let parts = BatchParallel.map(slices.count) { k in
      let s = BatchSlice(slices[k], batch: batch, x: x.count, z: z.count, timesteps: timesteps.count)
      return whole(s.take(x, s.x), s.count, s.take(timesteps, s.t), s.take(z, s.z))
    }
    return Array(parts.joined())
  }

  /// eps and the VJPs with the cotangent v (B, C_out, H, W): v^T d eps/dx, v^T d eps/dz and, when
  /// `wantParameters`, v^T d eps/dtheta (summed over the batch).
  @_specialize(exported: true, where Scalar == Float)
  @_specialize(exported: true, where Scalar == Double)
  public func vjp(
    _ x: [Scalar], batch: Int, height: Int, width: Int, timesteps: [Double], z: [Scalar] = [], cotangent v: [Scalar],
    wantParameters: Bool = true
  ) throws -> UNetVJP<Scalar> {
    try validate(x, batch: batch, height: height, width: width, timesteps: timesteps, z: z, cotangent: v)
    if let slices = BatchParallel.slices(batch: batch) {
      var parts = BatchParallel.map(slices.count) { k in
        let s = BatchSlice(slices[k], batch: batch, x: x.count, z: z.count, timesteps: timesteps.count, cotangent: v.count)
        return vjpWhole(s.take(x, s.x), batch: s.count, height: height, width: width, timesteps: s.take(timesteps, s.t), z: s.take(z, s.z),
                        cotangent: s.take(v, s.v), wantParameters: wantParameters)
      }
      var gradient = parts[0].parameters
      parts[0].parameters = []
      for k in 1..<parts.count {
        gradient.withUnsafeMutableBufferPointer { total in
          parts[k].parameters.withUnsafeBufferPointer { g in for i in 0..<total.count { total[i] += g[i] } }
        }
        parts[k].parameters = []
      }
      return UNetVJP(eps: Array(parts.map(\.eps).joined()), x: Array(parts.map(\.x).joined()), z: Array(parts.map(\.z).joined()),
                     parameters: gradient)
    }
    return vjpWhole(x, batch: batch, height: height, width: width, timesteps: timesteps, z: z, cotangent: v, wantParameters: wantParameters)
  }

  /// The VJP of a validated batch in one piece.
  func vjpWhole(
    _ x: [Scalar], batch: Int, height: Int, width: Int, timesteps: [Double], z: [Scalar], cotangent v: [Scalar], wantParameters: Bool
  ) -> UNetVJP<Scalar> {
    WinogradWeightCache.$current.withValue(winogradCache) { vjpPass(x, batch: batch, height: height, width: width, timesteps: timesteps, z: z, cotangent: v, wantParameters: wantParameters) }
  }

  private func vjpPass(
    _ x: [Scalar], batch: Int, height: Int, width: Int, timesteps: [Double], z: [Scalar], cotangent v: [Scalar], wantParameters: Bool
  ) -> UNetVJP<Scalar> {
    parameters.withUnsafeBufferPointer { pb in
      let p = pb.baseAddress!
      let tape = run(x, batch: batch, height: height, width: width, timesteps: timesteps, z: z, p)
      var gradient = wantParameters ? [Scalar](repeating: 0, count: parameterCount) : []
      let (dx, dz) = gradient.withUnsafeMutableBufferPointer { gb in
        backward(tape, cotangent: v, p, wantParameters ? gb.baseAddress! : nil)
      }
      return UNetVJP(eps: tape.output.toNCHW(), x: dx, z: dz, parameters: gradient)
    }
  }

  func validate(_ x: [Scalar], batch: Int, height: Int, width: Int, timesteps: [Double], z: [Scalar], cotangent v: [Scalar]?) throws {
    try Check.positive(batch, "batch")
    try Check.positive(height, "height")
    try Check.positive(width, "width")
    let multiple = 1 << downsamplings
    guard height % multiple == 0, width % multiple == 0 else {
      throw InvalidInput("x", "height and width must be multiples of \(multiple) for \(downsamplings) downsamplings, got \(height) x \(width)")
    }
    let d = batch * config.inChannels * height * width
    guard x.count == d else {
      throw InvalidInput("x", "expected \(d) numbers (B, C, H, W) = (\(batch), \(config.inChannels), \(height), \(width)), got \(x.count)")
    }
    if let i = x.firstIndex(where: { !$0.isFinite }) { throw InvalidInput("x", "entry \(i) is not finite") }
    guard timesteps.count == batch || timesteps.count == 1 else {
      throw InvalidInput("t", "expected 1 or \(batch) timesteps, got \(timesteps.count)")
    }
    try Check.finite(timesteps, "t")
    let m = batch * config.conditionDimension
    guard z.count == m else {
      throw InvalidInput(
        "z",
        config.classEmbedIdentity
          ? "expected \(m) numbers (B, \(config.conditionDimension)), got \(z.count)"
          : "this model takes no conditioning z (class_embed_type is null), got \(z.count) numbers")
    }
    if let i = z.firstIndex(where: { !$0.isFinite }) { throw InvalidInput("z", "entry \(i) is not finite") }
    if let v {
      let o = batch * config.outChannels * height * width
      guard v.count == o else { throw InvalidInput("cotangent", "expected \(o) numbers, got \(v.count)") }
      if let i = v.firstIndex(where: { !$0.isFinite }) { throw InvalidInput("cotangent", "entry \(i) is not finite") }
    }
  }
}
