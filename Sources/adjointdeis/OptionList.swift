import DiffusionCore
import Foundation

/// Comma-separated option values (`--steps 5,10,20`, `--solvers a,b`): every entry non-empty, whitespace trimmed.
enum OptionList {
  static func items(_ text: String, option: String) throws -> [String] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    if let i = parts.firstIndex(where: \.isEmpty) {
      throw InvalidInput(option, "entry \(i + 1) of '\(text)' is empty (write values separated by single commas)")
    }
    return parts
  }

  static func integers(_ text: String, option: String) throws -> [Int] {
    try items(text, option: option).map {
      guard let v = Int($0) else { throw InvalidInput(option, "'\($0)' is not an integer") }
      return v
    }
  }

  static func numbers(_ text: String, option: String) throws -> [Double] {
    try items(text, option: option).map {
      guard let v = Double($0), v.isFinite else { throw InvalidInput(option, "'\($0)' is not a finite number") }
      return v
    }
  }

  /// A name used as a file prefix: non-empty letters, digits, '-', '_' or '.', not starting with '.'.
  static func fileName(_ text: String, option: String) throws {
    guard !text.isEmpty else { throw InvalidInput(option, "must not be empty (it names the output files)") }
    guard !text.hasPrefix("."), text.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || "-_.".contains($0) }) else {
      throw InvalidInput(option, "must be letters, digits, '-', '_' or '.' and not start with '.', got '\(text)'")
    }
  }
}
