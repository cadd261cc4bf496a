import DiffusionCore

/// The schedule keys of the config format: `schedule` and the natural grids' parameters (docs/math.md#natural-grids):
/// `rho` (karras; any schedule), and for `flow-matching` only `shift`, `use_dynamic_shifting` with `mu`, `shift_terminal`.
enum ScheduleConfig {
  static let keys = ["rho", "shift", "use_dynamic_shifting", "mu", "shift_terminal"]

  static func read(_ root: [String: JSONValue]) throws -> NoiseSchedule {
    let base = try NoiseSchedule.named(ConfigReader.string(root["schedule"], "schedule"))
    var p = GridParameters()
    if root["rho"] != nil { p.rho = try ConfigReader.number(root["rho"], "rho") }
    let isFlow: Bool
    if case .flowMatching = base.kind { isFlow = true } else { isFlow = false }
    for key in ["shift", "use_dynamic_shifting", "mu", "shift_terminal"] where root[key] != nil && !isFlow {
      throw InvalidInput(key, "only flow-matching has a shifted time (the schedule is \(base.name))")
    }
    if root["shift"] != nil { p.shift = try ConfigReader.number(root["shift"], "shift") }
    var dynamic = false
    if let value = root["use_dynamic_shifting"] {
      guard case let .bool(flag) = value else { throw InvalidInput("use_dynamic_shifting", "must be true or false, got \(value.typeName)") }
      dynamic = flag
    }
    switch (dynamic, root["mu"]) {
    case (true, nil): throw InvalidInput("mu", "is missing (use_dynamic_shifting takes the shift e^mu from mu)")
    case (false, _?): throw InvalidInput("mu", "is used only with \"use_dynamic_shifting\": true")
    case (true, let mu?):
      guard root["shift"] == nil else { throw InvalidInput("shift", "give shift or use_dynamic_shifting with mu, not both") }
      p.dynamicMu = try ConfigReader.number(mu, "mu")
    case (false, nil): break
    }
    if root["shift_terminal"] != nil { p.shiftTerminal = try ConfigReader.number(root["shift_terminal"], "shift_terminal") }
    return try base.with(grids: p)
  }

  /// The lines `write` adds after `"schedule"` (only the parameters that differ from the defaults).
  static func lines(_ s: NoiseSchedule) -> [String] {
    let p = s.grids, n = ConfigWriter.number
    var lines: [String] = []
    if p.rho != 7 { lines.append("  \"rho\": \(n(p.rho))") }
    if let mu = p.dynamicMu {
      lines += ["  \"use_dynamic_shifting\": true", "  \"mu\": \(n(mu))"]
    } else if p.shift != 1 { lines.append("  \"shift\": \(n(p.shift))") }
    if let t = p.shiftTerminal { lines.append("  \"shift_terminal\": \(n(t))") }
    return lines
  }
}
