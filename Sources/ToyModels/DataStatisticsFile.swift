import DiffusionCore
import Foundation

/// A data-statistics file for models that cannot compute their own (a UNet): JSON
/// `{"mean": [d numbers], "covariance": [d rows of d numbers]}` or `{"mean": [...], "variance": v}` (isotropic: the
/// one number the isotropic linear part needs). Every error names the file and the field
/// (docs/gaussian-linear-part.md#the-split).
public enum DataStatisticsFile {
  public static func load(from url: URL, dimension d: Int) throws -> DataStatistics {
    let data: Data
    data = try InputFile.read(url)
    do {
      return try parse(data, dimension: d)
    } catch let error as InvalidInput {
      throw InvalidInput("\(url.path): \(error.field)", error.reason)
    }
  }

  public static func parse(_ data: Data, dimension d: Int) throws -> DataStatistics {
    let parsed = try JSONReader.parse(data, source: "statistics")  // errors name the key path, e.g. covariance[0][0]
    let root = try ConfigReader.object(parsed, "statistics")
    try ConfigReader.rejectUnknownKeys(root, ["mean", "covariance", "variance"], prefix: "")
    let mean = try ConfigReader.vector(root["mean"], "mean")
    guard mean.count == d else { throw InvalidInput("mean", "expected \(d) numbers (the model's data dimension), got \(mean.count)") }
    switch (root["covariance"], root["variance"]) {
    case (nil, nil): throw InvalidInput("covariance", "is missing (give covariance, d x d, or variance, one number)")
    case (.some, .some): throw InvalidInput("variance", "give covariance or variance, not both")
    case let (nil, .some(v)):
      let variance = try ConfigReader.number(v, "variance")
      guard variance >= 0 else { throw InvalidInput("variance", "must be non-negative, got \(variance)") }
      return try DataStatistics(mean: mean, variance: variance, field: "variance")
    case let (.some(c), nil):
      let rows = try ConfigReader.matrix(c, "covariance")
      guard rows.count == d, rows.allSatisfy({ $0.count == d }) else {
        throw InvalidInput("covariance", "must be \(d) x \(d), got \(rows.count) rows of \(rows.map(\.count).map(String.init).joined(separator: ", ")) numbers")
      }
      return try DataStatistics.fromCovariance(mean: mean, covariance: rows.flatMap { $0 }, field: "covariance")
    }
  }
}
