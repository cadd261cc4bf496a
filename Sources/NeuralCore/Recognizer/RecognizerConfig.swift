import DiffusionCore
import Foundation

/// The shape of an identity recognizer (see `Recognizer` for the architecture) and its training head.
/// Every error is an `InvalidInput` naming the field (the JSON key).
public struct RecognizerConfig: Sendable, Equatable {
  /// s: the input is one 1 x s x s image; divisible by 4 (two stride-2 convolutions), 4...256.
  public var imageSize: Int
  /// w: channels of the first convolution (the others have 2w), 1...256.
  public var width: Int
  /// e: the size of the identity embedding v(x), 2...4096.
  public var embeddingDimension: Int
  /// K: identities, rows of the training head's prototype matrix, 2...4096.
  public var classes: Int
  /// Seed of the initial weights.
  public var seed: UInt64
  /// CosFace scale s of the logits `s (cos - m [k = y])`, in (0, 1000].
  public var scale: Double
  /// CosFace margin m, in [0, 2).
  public var margin: Double

  public static let jsonKeys = ["image_size", "width", "embedding_dim", "classes", "seed", "scale", "margin"]

  public init(imageSize: Int = 16, width: Int, embeddingDimension: Int = 32, classes: Int, seed: UInt64,
              scale: Double = 16, margin: Double = 0.2) throws {
    self.imageSize = imageSize
    self.width = width
    self.embeddingDimension = embeddingDimension
    self.classes = classes
    self.seed = seed
    self.scale = scale
    self.margin = margin
    try validate()
  }

  public func validate() throws {
    guard (4...256).contains(imageSize), imageSize % 4 == 0 else {
      throw InvalidInput("image_size", "must be a multiple of 4 in 4...256, got \(imageSize)")
    }
    guard (1...256).contains(width) else { throw InvalidInput("width", "must be an integer in 1...256, got \(width)") }
    guard (2...4096).contains(embeddingDimension) else {
      throw InvalidInput("embedding_dim", "must be an integer in 2...4096, got \(embeddingDimension)")
    }
    guard (2...4096).contains(classes) else { throw InvalidInput("classes", "must be an integer in 2...4096, got \(classes)") }
    guard scale.isFinite, scale > 0, scale <= 1000 else { throw InvalidInput("scale", "must be a number in (0, 1000], got \(scale)") }
    guard margin.isFinite, margin >= 0, margin < 2 else { throw InvalidInput("margin", "must be a number in [0, 2), got \(margin)") }
  }

  /// Parses `{"image_size", "width", "embedding_dim", "classes", "seed", "scale", "margin"}`; width, classes and seed
  /// are required, the others default as in `init`. Unknown keys are errors.
  public init(json: Data, source: String = "config.json") throws {
    guard case let .object(root) = try JSONReader.parse(json, source: source) else {
      throw InvalidInput(source, "not a JSON object")
    }
    for key in root.keys.sorted() where !Self.jsonKeys.contains(key) {
      throw InvalidInput(key, "unknown recognizer config key (expected \(Self.jsonKeys.joined(separator: ", ")))")
    }
    func number(_ key: String) throws -> Double? {
      guard let value = root[key] else { return nil }
      guard case let .number(x, _) = value else { throw InvalidInput(key, "must be a number, got \(value)") }
      return x
    }
    func integer(_ key: String, _ fallback: Int?) throws -> Int {
      guard let value = root[key] else {
        if let fallback { return fallback }
        throw InvalidInput(key, "is missing")
      }
      return try value.integer(key)
    }
    guard let seedValue = root["seed"] else { throw InvalidInput("seed", "is missing") }
    // the seed is read from its digits: a Double holds integers exactly only up to 2^53
    let seed = try seedValue.unsigned64("seed")
    try self.init(imageSize: integer("image_size", 16), width: integer("width", nil),
                  embeddingDimension: integer("embedding_dim", 32), classes: integer("classes", nil), seed: seed,
                  scale: number("scale") ?? 16, margin: number("margin") ?? 0.2)
  }

  /// The JSON object `init(json:)` reads (doubles printed with Swift's shortest round-trip form).
  public func json() -> String {
    """
    {
      "image_size": \(imageSize),
      "width": \(width),
      "embedding_dim": \(embeddingDimension),
      "classes": \(classes),
      "seed": \(seed),
      "scale": \(scale),
      "margin": \(margin)
    }

    """
  }
}
