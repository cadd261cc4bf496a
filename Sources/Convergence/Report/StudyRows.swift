import DiffusionCore

/// The finished runs of seed 0 (path 0 in SDE studies) of one convergence-study CSV, as their fields, with the column
/// lookup the reports need; errors name the file and the column. What `CostAccuracy` and `WhichGradient` read.
struct StudyRows {
  let file: String
  let columns: [String]
  /// Each kept row's number (1 = the first after the header) and fields.
  let rows: [(number: Int, fields: [String])]

  init(file: String, text: String) throws {
    let lines = text.split(whereSeparator: \.isNewline).map(String.init)
    guard let header = lines.first else { throw InvalidInput(file, "empty CSV") }
    self.file = file
    columns = CostAccuracy.fields(header)
    var rows: [(Int, [String])] = []
    let (seed, path, status) = (try Self.index(columns, "seed", file), try Self.index(columns, "path", file), try Self.index(columns, "status", file))
    for (i, line) in lines.dropFirst().enumerated() {
      let f = CostAccuracy.fields(line)
      guard f.count == columns.count else { throw InvalidInput(file, "row \(i + 1) has \(f.count) fields, the header \(columns.count)") }
      if f[seed] == "0", f[path] == "0", f[status] == "ok" { rows.append((i + 1, f)) }
    }
    self.rows = rows
  }

  func index(_ name: String) throws -> Int { try Self.index(columns, name, file) }

  static func index(_ columns: [String], _ name: String, _ file: String) throws -> Int {
    guard let i = columns.firstIndex(of: name) else { throw InvalidInput(file, "no column '\(name)' (not a convergence-study CSV of this version)") }
    return i
  }

  /// The number in column `i` of row `number` (`fields`), or an error naming both.
  func number(_ fields: [String], _ i: Int, row number: Int) throws -> Double {
    guard let v = Double(fields[i]) else { throw InvalidInput(file, "row \(number), column \(columns[i]): not a number ('\(fields[i])')") }
    return v
  }
}
