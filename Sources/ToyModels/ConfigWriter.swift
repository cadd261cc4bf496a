import DiffusionCore

/// Writes a `ToyProblem` in the config format, one matrix row a line, keys in the documented order.
enum ConfigWriter {
  static func problem(_ p: ToyProblem) -> String {
    let model = p.model
    var modelLines = [
      "    \"means\": \(matrix(model.means, indent: 4))",
      "    \"logits\": \(vector(model.logits))",
      "    \"W\": \(matrix(model.W, indent: 4))",
    ]
    if let logStd = model.logStd { modelLines.append("    \"log_std\": \(matrix(logStd, indent: 4))") }
    if let cov = model.cov {
      let matrices = cov.map { "      " + matrix($0, indent: 6) }
      modelLines.append("    \"cov\": [\n" + matrices.joined(separator: ",\n") + "\n    ]")
    }
    let z: String
    switch p.z {
    case let .constant(values): z = vector(values)
    case let .perStep(rows): z = matrix(rows, indent: 2)
    }
    let lines = [
      "  \"schedule\": \"\(p.schedule.name)\"",
    ] + ScheduleConfig.lines(p.schedule) + [
      "  \"T\": \(number(p.T))",
      "  \"t_eps\": \(number(p.tEps))",
      "  \"model\": {\n" + modelLines.joined(separator: ",\n") + "\n  }",
      "  \"x_T\": \(vector(p.xT))",
      "  \"z\": \(z)",
      "  \"loss\": {\"kind\": \"squared-distance\", \"target\": \(vector(p.loss.target))}",
    ]
    return "{\n" + lines.joined(separator: ",\n") + "\n}\n"
  }

  /// Swift's shortest representation that reads back to the same Double (valid JSON for finite values).
  static func number(_ x: Double) -> String { "\(x)" }

  static func vector(_ values: [Double]) -> String {
    "[" + values.map(number).joined(separator: ", ") + "]"
  }

  static func matrix(_ rows: [[Double]], indent: Int) -> String {
    if rows.isEmpty { return "[]" }
    let pad = String(repeating: " ", count: indent + 2)
    return "[\n" + rows.map { pad + vector($0) }.joined(separator: ",\n") + "\n" + String(repeating: " ", count: indent) + "]"
  }
}
