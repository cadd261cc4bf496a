import DiffusionCore
import Foundation

/// The data config of an image-shaped Gaussian mixture (`examples/network/image-mixture.json`):
/// `{"K": 4, "seed": 1, "std": 0.3, "schedule": "vp-linear", "condition": false}` and optionally
/// `"size"` (image side, default 16), `"z_dim"` (m when conditioned, default 128) and `"class_strength"` (default 6).
/// Every error is an `InvalidInput` naming the field.
public struct ImageMixtureConfig: Sendable, Equatable {
  /// K, the number of components (classes).
  public var K: Int
  public var seed: UInt64
  /// The standard deviation of every pixel of every component.
  public var std: Double
  public var schedule: NoiseSchedule
  /// Whether z selects the component: `pi(z) = softmax(W z)` with `W[k][k] = classStrength`.
  public var condition: Bool
  /// Image side: the images are 1 x size x size, d = size^2.
  public var size: Int
  /// m, the size of z when conditioned (a UNet's identity class embedding needs m = time_embed_dim).
  public var zDimension: Int
  public var classStrength: Double

  public init(K: Int = 4, seed: UInt64 = 1, std: Double = 0.3, schedule: NoiseSchedule = .vpLinear, condition: Bool = false,
              size: Int = 16, zDimension: Int = 128, classStrength: Double = 6) throws {
    self.K = K
    self.seed = seed
    self.std = std
    self.schedule = schedule
    self.condition = condition
    self.size = size
    self.zDimension = zDimension
    self.classStrength = classStrength
    try validate()
  }

  public func validate() throws {
    guard (1...64).contains(K) else { throw InvalidInput("K", "must be an integer in 1...64, got \(K)") }
    guard std.isFinite, std > 0, std <= 10 else { throw InvalidInput("std", "must be a number in (0, 10], got \(std)") }
    guard (2...256).contains(size) else { throw InvalidInput("size", "must be an integer in 2...256, got \(size)") }
    if condition {
      guard zDimension >= K else { throw InvalidInput("z_dim", "must be at least K = \(K) when conditioned, got \(zDimension)") }
      guard zDimension <= 65_536 else { throw InvalidInput("z_dim", "\(zDimension) exceeds the limit of 65536") }
      guard classStrength.isFinite, classStrength >= 0 else {
        throw InvalidInput("class_strength", "must be a non-negative number, got \(classStrength)")
      }
    }
  }

  /// m: `zDimension` when conditioned, else 0.
  public var conditionDimension: Int { condition ? zDimension : 0 }
  public var dataDimension: Int { size * size }

  public init(json: Data) throws {
    let root = try ConfigReader.object(ConfigReader.parse(json), "config")
    let keys = ["K", "seed", "std", "schedule", "condition", "size", "z_dim", "class_strength"]
    try ConfigReader.rejectUnknownKeys(root, keys, prefix: "")
    func integer(_ key: String, _ fallback: Int?) throws -> Int {
      guard let value = root[key] else {
        if let fallback { return fallback }
        throw InvalidInput(key, "is missing")
      }
      return try value.integer(key)
    }
    let seed = try integer("seed", nil)
    guard seed >= 0 else { throw InvalidInput("seed", "must be a non-negative integer, got \(seed)") }
    var condition = false
    if let value = root["condition"] {
      guard case let .bool(b) = value else { throw InvalidInput("condition", "must be true or false, got \(value.typeName)") }
      condition = b
    }
    try self.init(K: integer("K", nil), seed: UInt64(seed), std: ConfigReader.number(root["std"], "std"),
                  schedule: NoiseSchedule.named(ConfigReader.string(root["schedule"], "schedule")), condition: condition,
                  size: integer("size", 16), zDimension: integer("z_dim", 128),
                  classStrength: root["class_strength"].map { try ConfigReader.number($0, "class_strength") } ?? 6)
  }

  public static func load(from url: URL) throws -> ImageMixtureConfig {
    let data = try InputFile.read(url)
    return try ImageMixtureConfig(json: data)
  }
}
