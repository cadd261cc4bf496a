import ArgumentParser
import DiffusionCore
import Foundation
import NeuralCore

/// `adjointdeis unet-vjp`: one forward pass and VJP of a diffusers UNet2DModel, tensors in and out as safetensors.
struct UNetVJPCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "unet-vjp",
    abstract: "eps and the vector-Jacobian products of a diffusers UNet2DModel (x, z, every parameter).",
    discussion: """
      --inputs holds x (B, C, H, W), t (B) (the network's own timestep, passed straight to the time embedding),
      optionally z (B, time_embed_dim) for class_embed_type identity, and cotangent (B, C_out, H, W).
      --output receives eps, vjp_x, vjp_z (when z is given) and vjp_param.<name> for every parameter, in the
      chosen dtype. --model is a diffusers folder (config.json, diffusion_pytorch_model.safetensors) or one of
      cifar10, small, tiny (that layout with random weights, seed 0).
      """)

  @Option(help: "Model directory, or cifar10 | small | tiny.") var model: String
  @Option(help: "Input tensors (safetensors).") var inputs: String
  @Option(help: "Output file (safetensors).") var output: String
  @Option(help: "float32 | float64") var dtype: String = "float32"

  func run() throws {
    switch dtype {
    case "float32": try compute(Float.self)
    case "float64": try compute(Double.self)
    default: throw InvalidInput("dtype", "expected float32 or float64, got '\(dtype)'")
    }
  }

  private func compute<S: BLASScalar>(_: S.Type) throws {
    try OutputFile.checkWritable(URL(fileURLWithPath: output))  // before the work, not after
    let config = try UNetConfig.named(model)
    let file = try SafeTensorsFile.read(URL(fileURLWithPath: inputs))
    let x = try file.tensor("x")
    guard x.shape.count == 4 else { throw InvalidInput("x", "expected shape (B, C, H, W), got \(x.shape)") }
    let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    // the batch and the memory of forward + VJP are budgeted before the model's weights are allocated
    try config.checkMemory(batch: batch, height: height, width: width, scalarBytes: MemoryLayout<S>.size,
                           parameterCopies: 2, field: "x")
    let unet = try UNet2DModel<S>.named(model)
    guard channels == unet.config.inChannels else {
      throw InvalidInput("x", "has \(channels) channels, the model takes \(unet.config.inChannels)")
    }
    let t = try file.tensor("t")
    guard t.count == batch || t.count == 1 else { throw InvalidInput("t", "expected \(batch) timesteps (shape (B)), got shape \(t.shape)") }
    let outShape = [batch, unet.config.outChannels, height, width]
    let v = try file.tensor("cotangent")
    try v.checkShape(outShape)
    var z: [S] = []
    if let zt = file["z"] {
      guard unet.config.classEmbedIdentity else {
        throw InvalidInput("z", "the model takes no conditioning z (class_embed_type is null); remove z from the inputs")
      }
      try zt.checkShape([batch, unet.config.conditionDimension])
      z = zt.values(S.self)
    } else if unet.config.classEmbedIdentity {
      throw InvalidInput("z", "the model has class_embed_type identity: the inputs must hold z (B, \(unet.config.conditionDimension))")
    }
    let r = try unet.vjp(
      x.values(S.self), batch: batch, height: height, width: width, timesteps: t.doubles(), z: z, cotangent: v.values(S.self))
    func entry(_ name: String, _ shape: [Int], _ values: ArraySlice<S>) -> SafeTensorsFile.Entry {
      if S.self == Float.self { return .init(name, shape: shape, floats: values.map { Float($0) }) }
      return .init(name, shape: shape, doubles: values.map { Double($0) })
    }
    var entries = [
      entry("eps", outShape, r.eps[...]),
      entry("vjp_x", x.shape, r.x[...]),
    ]
    if !z.isEmpty { entries.append(entry("vjp_z", [batch, unet.config.conditionDimension], r.z[...])) }
    for (i, block) in unet.parameterBlocks.enumerated() {
      let o = unet.layout.offsets[i]
      entries.append(entry("vjp_param." + block.name, block.shape, r.parameters[o..<o + block.count]))
    }
    // eps first: a non-finite eps means the forward pass itself overflowed
    do { try SafeTensorsFile.checkFinite(entries) } catch let e as InvalidInput {
      throw InvalidInput(e.field, e.reason + " (the \(S.dtypeName) UNet overflowed on these inputs or weights)")
    }
    try SafeTensorsFile.write(entries, metadata: ["dtype": S.dtypeName], to: URL(fileURLWithPath: output))
  }
}
