import DiffusionCore
import Foundation

/// Typed access to the parsed JSON config; every failure is an `InvalidInput` naming the field.
enum ConfigReader {
  /// The strict, correctly rounded reader every input file goes through (see `JSONReader`).
  static func parse(_ data: Data) throws -> JSONValue {
    try JSONReader.parse(data, source: "config")
  }

  static func oneLine(_ text: String) -> String {
    text.split(whereSeparator: \.isNewline).joined(separator: " ")
  }

  static func object(_ value: JSONValue?, _ field: String) throws -> [String: JSONValue] {
    guard let value else { throw InvalidInput(field, "is missing") }
    guard case let .object(object) = value else { throw InvalidInput(field, "must be an object, got \(value.typeName)") }
    return object
  }

  static func rejectUnknownKeys(_ object: [String: JSONValue], _ known: [String], prefix: String) throws {
    if let key = object.keys.sorted().first(where: { !known.contains($0) }) {
      throw InvalidInput(prefix + key, "unknown key (expected \(known.joined(separator: ", ")))")
    }
  }

  static func string(_ value: JSONValue?, _ field: String) throws -> String {
    guard let value else { throw InvalidInput(field, "is missing") }
    guard case let .string(text) = value else { throw InvalidInput(field, "must be a string, got \(value.typeName)") }
    return text
  }

  /// A finite JSON number.
  static func number(_ value: JSONValue?, _ field: String, at position: String = "") throws -> Double {
    guard let value else { throw InvalidInput(field, "is missing") }
    guard case let .number(x, _) = value else { throw InvalidInput(field, "\(position)must be a number, got \(value.typeName)") }
    guard x.isFinite else { throw InvalidInput(field, "\(position)must be a finite number, got \(x)") }
    return x
  }

  static func vector(_ value: JSONValue?, _ field: String, at position: String = "") throws -> [Double] {
    guard let value else { throw InvalidInput(field, "is missing") }
    guard case let .array(list) = value else {
      throw InvalidInput(field, "\(position)must be a list of numbers, got \(value.typeName)")
    }
    return try list.enumerated().map { i, x in try number(x, field, at: "\(position)entry [\(i)] ") }
  }

  static func matrix(_ value: JSONValue?, _ field: String, at position: String = "") throws -> [[Double]] {
    guard let value else { throw InvalidInput(field, "is missing") }
    guard case let .array(rows) = value else {
      throw InvalidInput(field, "\(position)must be a list of rows, got \(value.typeName)")
    }
    return try rows.enumerated().map { i, row in try vector(row, field, at: "\(position)row \(i) ") }
  }

  static func mixture(_ value: JSONValue?, schedule: NoiseSchedule) throws -> GaussianMixture {
    let model = try object(value, "model")
    try rejectUnknownKeys(model, ["means", "logits", "W", "log_std", "cov"], prefix: "model.")
    let means = try matrix(model["means"], "model.means")
    let logits = try vector(model["logits"], "model.logits")
    let W = model["W"] == nil ? [] : try matrix(model["W"], "model.W")
    switch (model["log_std"], model["cov"]) {
    case let (logStd?, nil):
      return try GaussianMixture(means: means, logits: logits, W: W, logStd: matrix(logStd, "model.log_std"),
                                 schedule: schedule)
    case let (nil, cov?):
      guard case let .array(matrices) = cov else {
        throw InvalidInput("model.cov", "must be a list of matrices, got \(cov.typeName)")
      }
      let parsed = try matrices.enumerated().map { k, m in try matrix(m, "model.cov", at: "matrix \(k) ") }
      return try GaussianMixture(means: means, logits: logits, W: W, cov: parsed, schedule: schedule)
    case (nil, nil):
      throw InvalidInput("model.log_std", "is missing (give log_std for diagonal covariances or cov for full ones)")
    case (_?, _?):
      throw InvalidInput("model.cov", "give either log_std or cov, not both")
    }
  }

  /// `z`: a list of m numbers (constant), or a list of N lists of m numbers (one per sampling step);
  /// may be omitted when m = 0.
  static func conditioning(_ value: JSONValue?, m: Int) throws -> Conditioning {
    guard let value else {
      if m == 0 { return .constant([]) }
      throw InvalidInput("z", "is missing (the model's W has \(m) columns)")
    }
    guard case let .array(list) = value else {
      throw InvalidInput("z", "must be a list of numbers or a list of lists, got \(value.typeName)")
    }
    let isSchedule = !list.isEmpty && list.allSatisfy { if case .array = $0 { return true } else { return false } }
    return isSchedule ? .perStep(try matrix(value, "z")) : .constant(try vector(value, "z"))
  }

  static func loss(_ value: JSONValue?) throws -> SquaredDistanceLoss {
    let loss = try object(value, "loss")
    try rejectUnknownKeys(loss, ["kind", "target"], prefix: "loss.")
    let kind = try string(loss["kind"], "loss.kind")
    guard kind == "squared-distance" else {
      throw InvalidInput("loss.kind", "unknown loss '\(kind)' (expected squared-distance)")
    }
    return try SquaredDistanceLoss(target: vector(loss["target"], "loss.target"))
  }
}
