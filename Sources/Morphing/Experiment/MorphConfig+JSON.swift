import DiffusionCore
import Foundation
import Integrators

extension MorphConfig {
  static let keys = [
    "data", "unet", "recognizers", "loss_recognizer", "models", "methods", "pairs", "pair_seed", "unet_pairs",
    "tuning_pairs", "tuning_seed", "learning_rates", "unet_learning_rates", "steps", "sampler_steps", "t_eps", "T",
    "spacing", "update", "constraint", "noise_seed", "reference_every", "reference_tolerance", "rk45_tolerance", "blend_weights",
    "unet_reference_every", "unet_reference_tolerance", "unet_rk45_tolerance", "fmr", "impostor_pairs", "genuine_pairs",
    "calibration_seed", "grid_rows",
  ]

  /// Reads and validates a config; relative paths are resolved against the config file's folder.
  public static func load(from url: URL) throws -> MorphConfig {
    let data = try InputFile.read(url, field: "config")
    guard case let .object(root) = try JSONReader.parse(data, source: "config") else {
      throw InvalidInput("config", "'\(url.path)' is not a JSON object")
    }
    for key in root.keys.sorted() where !keys.contains(key) { throw InvalidInput(key, "unknown key (expected one of \(keys.joined(separator: ", ")))") }
    let base = url.deletingLastPathComponent()
    func path(_ key: String) throws -> URL? {
      guard let v = root[key] else { return nil }
      guard case let .string(s) = v, !s.isEmpty else { throw InvalidInput(key, "must be a path string") }
      return URL(fileURLWithPath: s, relativeTo: base).standardizedFileURL
    }
    func number(_ key: String) throws -> Double? {
      guard let v = root[key] else { return nil }
      guard case let .number(x, _) = v else { throw InvalidInput(key, "must be a finite number") }
      return x
    }
    func integer(_ key: String) throws -> Int? {
      guard let v = root[key] else { return nil }
      guard case .number = v else { throw InvalidInput(key, "must be a finite number") }
      return try v.integer(key, in: -999_999_999_999_999...999_999_999_999_999)
    }
    func seed(_ key: String) throws -> UInt64? {
      guard let x = try integer(key) else { return nil }
      guard x >= 0 else { throw InvalidInput(key, "must be a non-negative integer") }
      return UInt64(x)
    }
    func string(_ key: String) throws -> String? {
      guard let v = root[key] else { return nil }
      guard case let .string(s) = v else { throw InvalidInput(key, "must be a string") }
      return s
    }
    func strings(_ key: String) throws -> [String]? {
      guard let v = root[key] else { return nil }
      guard case let .array(list) = v else { throw InvalidInput(key, "must be a list of strings") }
      return try list.map { guard case let .string(s) = $0 else { throw InvalidInput(key, "must be a list of strings") }; return s }
    }
    func numbers(_ key: String) throws -> [Double]? {
      guard let v = root[key] else { return nil }
      guard case let .array(list) = v else { throw InvalidInput(key, "must be a list of numbers") }
      return try list.map { guard case let .number(x, _) = $0 else { throw InvalidInput(key, "must be a list of numbers") }; return x }
    }
    guard let dataURL = try path("data") else { throw InvalidInput("data", "is missing") }
    guard let recognizerPaths = try strings("recognizers") else { throw InvalidInput("recognizers", "is missing") }
    var c = MorphConfig(data: dataURL, unet: try path("unet"),
                        recognizers: recognizerPaths.map { URL(fileURLWithPath: $0, relativeTo: base).standardizedFileURL })
    if let v = try integer("loss_recognizer") { c.lossRecognizer = v }
    if let v = try strings("models") { c.models = v }
    if let v = try strings("methods") { c.methods = try v.map(MorphMethod.named) }
    if let v = try integer("pairs") { c.pairs = v }
    c.unetPairs = c.pairs
    if let v = try seed("pair_seed") { c.pairSeed = v }
    if let v = try integer("unet_pairs") { c.unetPairs = v }
    if let v = try integer("tuning_pairs") { c.tuningPairs = v }
    if let v = try seed("tuning_seed") { c.tuningSeed = v }
    if let v = try numbers("learning_rates") { c.learningRates = v }
    if let s = try string("unet_learning_rates") { c.unetLearningRates = s }
    if let v = try integer("steps") { c.settings.optimizationSteps = v }
    if let v = try integer("sampler_steps") { c.settings.samplerSteps = v }
    if let v = try number("t_eps") { c.settings.tEps = v }
    if let v = try number("T") { c.settings.T = v }
    if let s = try string("spacing") { c.settings.spacing = try GridSpacing.named(s, option: "spacing") }
    if let s = try string("update") { c.settings.update = try DescentUpdate.named(s) }
    if let s = try string("constraint") { c.settings.constraint = try NoiseConstraint.named(s) }
    if let v = try seed("noise_seed") { c.settings.noiseSeed = v }
    if let v = try integer("reference_every") { c.settings.referenceEvery = v }
    if let v = try number("reference_tolerance") { c.settings.referenceTolerance = v }
    if let v = try number("rk45_tolerance") { c.settings.rk45Tolerance = v }
    if let v = try integer("blend_weights") {
      guard v >= 1 && v <= 1000 else { throw InvalidInput("blend_weights", "must be in 1...1000, got \(v)") }
      c.settings.blendWeights = v == 1 ? [0.5] : (0..<v).map { Double($0) / Double(v - 1) }
    }
    if let v = try integer("unet_reference_every") { c.unetReferenceEvery = v }
    if let v = try number("unet_reference_tolerance") { c.unetReferenceTolerance = v }
    if let v = try number("unet_rk45_tolerance") { c.unetRK45Tolerance = v }
    if let v = try number("fmr") { c.fmr = v }
    if let v = try integer("impostor_pairs") { c.impostorPairs = v }
    if let v = try integer("genuine_pairs") { c.genuinePairs = v }
    if let v = try seed("calibration_seed") { c.calibrationSeed = v }
    if let v = try integer("grid_rows") { c.gridRows = v }
    try c.validate()
    return c
  }
}
