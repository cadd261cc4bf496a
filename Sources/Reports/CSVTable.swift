import DiffusionCore
import Foundation

/// One cell of a tidy CSV table.
public enum CSVValue: Sendable, Equatable {
  case text(String)
  case integer(Int)
  /// Written with Swift's shortest round-trip description ("0.1", "1e-05", "nan", "inf").
  case real(Double)
  /// An empty field (e.g. the errors of a failed run).
  case missing

  /// The unquoted field text.
  public var field: String {
    switch self {
    case .text(let value): return value
    case .integer(let value): return String(value)
    case .real(let value): return ReportFormat.roundTrip(value)
    case .missing: return ""
    }
  }
}

extension CSVValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral {
  public init(stringLiteral value: String) { self = .text(value) }
  public init(integerLiteral value: Int) { self = .integer(value) }
  public init(floatLiteral value: Double) { self = .real(value) }
}

/// A tidy table (one observation per row, one variable per column) written as RFC 4180 CSV with "\n" line ends.
/// Column names carry their units (`h_max_lambda`, `wall_time_s`, `rel_err_a_x`).
public struct CSVTable: Sendable, Equatable {
  public let columns: [String]
  public private(set) var rows: [[CSVValue]]

  /// Throws on an empty, blank or repeated column name, or a row whose length differs from `columns`.
  public init(columns: [String], rows: [[CSVValue]] = []) throws {
    guard !columns.isEmpty else { throw InvalidInput("columns", "a table needs at least one column") }
    var seen = Set<String>()
    for name in columns {
      guard !name.trimmingCharacters(in: .whitespaces).isEmpty else {
        throw InvalidInput("columns", "column names must not be blank")
      }
      guard seen.insert(name).inserted else { throw InvalidInput("columns", "column \"\(name)\" appears twice") }
    }
    self.columns = columns
    self.rows = []
    for row in rows { try append(row) }
  }

  public mutating func append(_ row: [CSVValue]) throws {
    guard row.count == columns.count else {
      throw InvalidInput("rows[\(rows.count)]", "has \(row.count) fields, the table has \(columns.count) columns")
    }
    rows.append(row)
  }

  /// Appends a row given by column name; columns not named are `.missing`. Throws on an unknown name.
  public mutating func append(_ values: [String: CSVValue]) throws {
    for name in values.keys where !columns.contains(name) {
      throw InvalidInput("rows[\(rows.count)]", "unknown column \"\(name)\"")
    }
    try append(columns.map { values[$0] ?? .missing })
  }

  /// The whole file: header line, then one line per row, each ending in "\n".
  public var text: String {
    var out = columns.map(Self.quoted).joined(separator: ",") + "\n"
    for row in rows {
      out += row.map { Self.quoted($0.field) }.joined(separator: ",") + "\n"
    }
    return out
  }

  /// Writes the whole file atomically (`OutputFile.write`).
  public func write(to url: URL) throws {
    try OutputFile.write(text, to: url)
  }

  /// Quotes a field when it holds a comma, a double quote, a line break or leading/trailing space; inner quotes are
  /// doubled (RFC 4180 §2.6–2.7).
  public static func quoted(_ field: String) -> String {
    let needsQuotes = field.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
      || field.first?.isWhitespace == true || field.last?.isWhitespace == true
    guard needsQuotes else { return field }
    return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }

  /// Parses RFC 4180 CSV into records of raw field strings (quotes removed, "" unescaped). Accepts "\n" or "\r\n".
  public static func parse(_ text: String) throws -> [[String]] {
    var records: [[String]] = []
    var record: [String] = []
    var field = ""
    var inQuotes = false
    var fieldWasQuoted = false
    var iterator = Array(text.unicodeScalars).makeIterator()
    var pending: Unicode.Scalar? = nil
    func next() -> Unicode.Scalar? {
      if let scalar = pending { pending = nil; return scalar }
      return iterator.next()
    }
    var line = 1
    while let c = next() {
      if inQuotes {
        if c == "\"" {
          if let following = next() {
            if following == "\"" { field.unicodeScalars.append("\"") } else { inQuotes = false; pending = following }
          } else {
            inQuotes = false
          }
        } else {
          if c == "\n" { line += 1 }
          field.unicodeScalars.append(c)
        }
        continue
      }
      switch c {
      case "\"":
        guard field.isEmpty, !fieldWasQuoted else {
          throw InvalidInput("csv line \(line)", "a double quote inside an unquoted field")
        }
        inQuotes = true
        fieldWasQuoted = true
      case ",":
        record.append(field)
        field = ""
        fieldWasQuoted = false
      case "\r":
        continue
      case "\n":
        record.append(field)
        records.append(record)
        record = []
        field = ""
        fieldWasQuoted = false
        line += 1
      default:
        guard !fieldWasQuoted else { throw InvalidInput("csv line \(line)", "text after a closing quote") }
        field.unicodeScalars.append(c)
      }
    }
    guard !inQuotes else { throw InvalidInput("csv line \(line)", "a quoted field is not closed") }
    if !field.isEmpty || fieldWasQuoted || !record.isEmpty {
      record.append(field)
      records.append(record)
    }
    return records
  }
}
