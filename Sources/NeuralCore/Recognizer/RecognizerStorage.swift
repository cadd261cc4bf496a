import DiffusionCore
import Foundation

/// A recognizer folder: `config.json` (`RecognizerConfig.json()`) and `model.safetensors` (one F64 tensor per
/// parameter block, named as in `parameterBlocks`).
extension Recognizer {
  public static let configFile = "config.json"
  public static let weightsFile = "model.safetensors"

  /// Writes both files into `directory` (created if missing), each whole (temporary file, then rename): the weights
  /// first, the config last.
  public func save(to directory: URL) throws {
    do {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    } catch {
      throw InvalidInput(directory.path, "cannot create the directory: \(ErrorText.reason(error))")
    }
    let layout = network.layout
    let entries = layout.blocks.enumerated().map { i, block in
      SafeTensorsFile.Entry(block.name, shape: block.shape,
                            doubles: Array(parameters[layout.offsets[i]..<(layout.offsets[i] + block.count)]))
    }
    try SafeTensorsFile.write(entries, metadata: ["format": "adjointdeis-recognizer"],
                              to: directory.appendingPathComponent(Self.weightsFile))
    try OutputFile.write(config.json(), to: directory.appendingPathComponent(Self.configFile))
  }

  /// Reads a folder written by `save`. A missing or unreadable file, a bad config, a missing, unexpected or
  /// wrong-shaped tensor, a non-float tensor or a non-finite value is an `InvalidInput` naming the file and tensor.
  public static func load(from directory: URL) throws -> Recognizer {
    let configURL = directory.appendingPathComponent(configFile)
    let configData = try InputFile.read(configURL)
    let config: RecognizerConfig
    do { config = try RecognizerConfig(json: configData, source: configURL.path) } catch let error as InvalidInput {
      throw InvalidInput(configURL.path, "\(error)")
    }
    let weightsURL = directory.appendingPathComponent(weightsFile)
    guard FileManager.default.fileExists(atPath: weightsURL.path) else {
      throw InvalidInput(weightsURL.path, "is missing")
    }
    let file = try SafeTensorsFile.read(weightsURL)
    let layout = RecognizerNetwork(config).layout
    let expected = Set(layout.blocks.map(\.name))
    if let extra = file.names.first(where: { !expected.contains($0) }) {
      throw InvalidInput("\(weightsURL.path): tensor \"\(extra)\"", "is not a parameter of this recognizer config")
    }
    var parameters = [Double](repeating: 0, count: layout.total)
    for (i, block) in layout.blocks.enumerated() {
      let field = "\(weightsURL.path): tensor \"\(block.name)\""
      guard let tensor = file[block.name] else { throw InvalidInput(field, "is missing") }
      guard tensor.shape == block.shape else {
        throw InvalidInput(field, "has shape \(tensor.shape), the config needs \(block.shape)")
      }
      guard [.f64, .f32, .f16, .bf16].contains(tensor.dtype) else {
        throw InvalidInput(field, "has dtype \(tensor.dtype.rawValue), expected a floating type (F64)")
      }
      let values = tensor.doubles()
      if let j = values.firstIndex(where: { !$0.isFinite }) {
        throw InvalidInput(field, "entry \(j) is not finite (\(values[j]))")
      }
      parameters.replaceSubrange(layout.offsets[i]..<(layout.offsets[i] + block.count), with: values)
    }
    return try Recognizer(config: config, parameters: parameters)
  }
}
