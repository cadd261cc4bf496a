import DiffusionCore
import Foundation
import Reports

/// "Which gradient should you use?" (docs/reversible-solvers.md#which-gradient), read back from convergence-study
/// CSVs: per study and method, the relative errors of dL/dx_T, dL/dz, dL/dtheta against the exact continuous gradient
/// and against the exact gradient of the method's own discrete sampler, the network calls (forwards + VJPs, sampling
/// included) and the peak stored d-vectors; the best method per memory class within a call budget; a plot of error
/// against network calls.
public struct WhichGradient: Sendable {
  public struct Run: Sendable {
    public let study: String
    public let solver: String
    public let steps: Int
    /// Forwards + VJPs, sampling and gradient together.
    public let calls: Int
    public let stored: Int?
    public let continuous: [Double]
    public let discrete: [Double?]
    public let roundTrip: Double?
  }

  /// How a method's memory grows with N, read off its stored d-vectors at the smallest and largest N of a study.
  public enum MemoryClass: String, CaseIterable, Sendable {
    case constant = "O(1)"
    case sublinear = "O(log N) to O(sqrt N)"
    case linear = "O(N)"
  }

  public let runs: [Run]

  public init(csv texts: [(file: String, text: String)]) throws {
    var runs: [Run] = []
    for (file, text) in texts {
      let table = try StudyRows(file: file, text: text)
      let quantities = GradientQuantity.allCases.map(\.rawValue)
      let c = try (study: table.index("study"), solver: table.index("solver"), m: table.index("M"), eps: table.index("nfe_eps"),
                   vjp: table.index("nfe_vjp"), stored: table.index("stored_states"), roundTrip: table.index("round_trip_error"),
                   continuous: quantities.map { try table.index("rel_err_\($0)") }, discrete: quantities.map { try table.index("rel_err_discrete_\($0)") })
      for (row, f) in table.rows {
        func optional(_ i: Int) throws -> Double? { f[i].isEmpty ? nil : try table.number(f, i, row: row) }
        guard let m = Int(f[c.m]), let eps = Int(f[c.eps]), let vjp = Int(f[c.vjp]) else {
          throw InvalidInput(file, "row \(row): M, nfe_eps or nfe_vjp is not an integer")
        }
        runs.append(Run(study: f[c.study], solver: f[c.solver], steps: m, calls: eps + vjp, stored: Int(f[c.stored]),
                        continuous: try c.continuous.map { try optional($0) ?? .nan }, discrete: try c.discrete.map(optional),
                        roundTrip: try optional(c.roundTrip)))
      }
    }
    self.runs = runs
  }

  public var studies: [String] { runs.map(\.study).reduce(into: []) { if !$0.contains($1) { $0.append($1) } } }
  func solvers(_ study: String) -> [String] {
    runs.filter { $0.study == study }.map(\.solver).reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
  }
  func series(_ study: String, _ solver: String) -> [Run] {
    runs.filter { $0.study == study && $0.solver == solver }.sorted { $0.steps < $1.steps }
  }

  /// The memory class of a method from the slope of log(stored d-vectors) against log N over its two largest N
  /// (below 0.2: constant; above 0.8: linear; between: sublinear).
  func memoryClass(_ s: [Run]) -> MemoryClass? {
    guard s.count >= 2, let a = s[s.count - 2].stored, let b = s[s.count - 1].stored, a > 0 else { return nil }
    let slope = log(Double(b) / Double(a)) / log(Double(s[s.count - 1].steps) / Double(s[s.count - 2].steps))
    return slope < 0.2 ? .constant : slope > 0.8 ? .linear : .sublinear
  }

  static func format(_ x: Double?) -> String { x.map { $0.isFinite ? String(format: "%.2g", $0) : "–" } ?? "–" }

  /// The report: per study a table at the given N, then the decision table.
  public func markdown(steps: [Int], budget: Int, target: Double) -> String {
    var text = "Seed 0 of each study. Errors are relative L2 errors of dL/dx_T (a_x), dL/dz (a_z), dL/dtheta (a_theta): "
      + "\"cont.\" against the exact continuous gradient (the RK45 black-box adjoint at 1e-12), \"disc.\" against the exact "
      + "gradient of the method's own discrete sampler (DTO through it with every state stored; for a reversible sampler, the "
      + "same sampler with every state stored). Calls = network forwards + VJPs, sampling included. Stored = the peak "
      + "number of d-vectors held for the gradient.\n\n"
    for study in studies {
      text += "### \(study)\n\n| method | memory | N | calls | stored | a_x cont. | a_x disc. | a_z cont. | a_theta cont. | round trip |\n"
      text += "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
      for solver in solvers(study) {
        let s = series(study, solver)
        let memory = memoryClass(s)?.rawValue ?? "–"
        for m in steps {
          guard let r = s.first(where: { $0.steps == m }) else { continue }
          text += "| \(solver) | \(memory) | \(m) | \(r.calls) | \(r.stored.map(String.init) ?? "–") | \(Self.format(r.continuous[0])) | "
            + "\(Self.format(r.discrete[0] ?? nil)) | \(Self.format(r.continuous[1])) | \(Self.format(r.continuous[2])) | \(Self.format(r.roundTrip)) |\n"
        }
      }
      text += "\n"
    }
    for m in steps { text += overview(steps: m) }
    text += decisionTable(budget: budget, target: target)
    return text
  }

  /// One row per method, one column per study: the dL/dx_T error against the continuous gradient at N = `m`, with
  /// the network calls and stored d-vectors.
  public func overview(steps m: Int) -> String {
    var methods: [String] = []
    for study in studies { for solver in solvers(study) where !methods.contains(solver) { methods.append(solver) } }
    var text = "### dL/dx_T error at N = \(m) (calls, stored d-vectors)\n\n| method | " + studies.joined(separator: " | ") + " |\n|"
      + String(repeating: " --- |", count: studies.count + 1) + "\n"
    for solver in methods {
      text += "| \(solver) |" + studies.map { study in
        guard let r = series(study, solver).first(where: { $0.steps == m }) else { return " – |" }
        return " \(Self.format(r.continuous[0])) (\(r.calls), \(r.stored.map(String.init) ?? "–")) |"
      }.joined() + "\n"
    }
    return text + "\n"
  }

  /// Per memory class and study: the method with the smallest a_x error (against the continuous gradient) within
  /// `budget` network calls, and the fewest calls any method of the class needs to reach `target`. Methods on exact
  /// states are left out (their states come from the RK45 forward solve).
  public func decisionTable(budget: Int, target: Double) -> String {
    var text = "### Decision table: the most accurate dL/dx_T within \(budget) network calls, by memory\n\n| memory | "
      + studies.joined(separator: " | ") + " |\n|" + String(repeating: " --- |", count: studies.count + 1) + "\n"
    for memory in MemoryClass.allCases {
      var line = "| \(memory.rawValue) |"
      for study in studies {
        var best: (solver: String, run: Run)? = nil
        var fewest: (solver: String, calls: Int)? = nil
        for solver in solvers(study) {
          // exact states come from the RK45 forward solve, not from a sampler a user runs: a reference, not a choice
          guard !solver.split(separator: "/").contains("exact") else { continue }
          let s = series(study, solver)
          guard memoryClass(s) == memory else { continue }
          for r in s where r.calls <= budget && r.continuous[0].isFinite {
            if best == nil || r.continuous[0] < best!.run.continuous[0] { best = (solver, r) }  // invariant: checked non-nil
          }
          if let r = s.first(where: { $0.continuous[0] <= target }), fewest == nil || r.calls < fewest!.calls { fewest = (solver, r.calls) }  // invariant: as above
        }
        if let best {
          line += " \(best.solver) at N = \(best.run.steps): \(Self.format(best.run.continuous[0])) (\(best.run.calls) calls);"
            + " \(Double(target * 100).formatted())% first reached by \(fewest.map { "\($0.solver) at \($0.calls) calls" } ?? "none measured") |"
        } else {
          line += " – |"
        }
      }
      text += line + "\n"
    }
    return text + "\n"
  }

  /// Relative a_x error (against the continuous gradient) against network calls, one line per method.
  public func plot(study: String) -> LogLogPlot {
    let lines = solvers(study).enumerated().map { i, solver in
      let s = series(study, solver)
      let memory = memoryClass(s)
      return PlotSeries(name: "\(solver) [\(memory?.rawValue ?? "?")]", points: s.map { (Double($0.calls), $0.continuous[0]) },
                        style: memory == .constant ? .solid : .dashed, colorIndex: i,
                        marker: MarkerShape.allCases[(i + i / 8) % MarkerShape.allCases.count], hollowMarkers: i >= 8)
    }
    return LogLogPlot(title: "\(study): error of dL/dx_T against network calls (solid: O(1) memory)", xLabel: "network calls (forwards + VJPs)",
                      yLabel: "relative L2 error of dL/dx_T", series: lines, referenceSlopes: [], referenceSymbol: "calls",
                      idPrefix: "\(study)-which")
  }
}
