import DiffusionCore
import Foundation

extension UNet2DModel {
  /// A diffusers model folder: `config.json` and `diffusion_pytorch_model.safetensors`.
  public static func load(directory: URL) throws -> UNet2DModel {
    let config = try UNetConfig.load(from: directory.appendingPathComponent("config.json"))
    let file = try SafeTensorsFile.read(directory.appendingPathComponent("diffusion_pytorch_model.safetensors"))
    return try UNet2DModel(config: config, safetensors: file)
  }

  /// Weights from a safetensors file of the model's parameters (diffusers names).
  public init(config: UNetConfig, safetensors file: SafeTensorsFile) throws {
    try self.init(config: config, shapes: file.tensors.mapValues(\.shape)) { name in
      try file.tensor(name).values(Scalar.self)
    }
  }

  /// `--model`: a diffusers model directory, or the word `cifar10`, `small` or `tiny` for that layout with
  /// random weights (seed 0).
  public static func named(_ model: String) throws -> UNet2DModel {
    switch model {
    case "cifar10": return try UNet2DModel(config: .cifar10, seed: 0)
    case "small": return try UNet2DModel(config: .small, seed: 0)
    case "tiny": return try UNet2DModel(config: .tiny, seed: 0)
    default:
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw InvalidInput("model", "'\(model)' is neither a model directory nor one of cifar10, small, tiny")
      }
      return try load(directory: URL(fileURLWithPath: model))
    }
  }
}

extension UNetConfig {
  /// The config `--model` names (a preset, or a model directory's config.json), read without building the model,
  /// so that budgets can be checked before any weight is allocated.
  public static func named(_ model: String) throws -> UNetConfig {
    switch model {
    case "cifar10": return .cifar10
    case "small": return .small
    case "tiny": return .tiny
    default:
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw InvalidInput("model", "'\(model)' is neither a model directory nor one of cifar10, small, tiny")
      }
      return try load(from: URL(fileURLWithPath: model).appendingPathComponent("config.json"))
    }
  }
}

extension SafeTensor {
  /// The values in a network precision (Float: rounded from wider types; Double: exact).
  public func values<S: BLASScalar>(_: S.Type) -> [S] {
    if S.self == Float.self { return floats() as! [S] }  // invariant: S is Float
    return doubles().map { S($0) }
  }
}
