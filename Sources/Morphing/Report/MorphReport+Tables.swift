import Convergence
import Foundation

extension MorphOutcome {
  var meanLoss: Double { loss.reduce(0, +) / Double(max(loss.count, 1)) }
  var meanNoiseNormRatio: Double? { noiseNormRatio.map { $0.reduce(0, +) / Double(max($0.count, 1)) } }
  /// Mean cosine and norm ratio against the reference gradient over every compared (step, pair).
  var gradientAgreement: (cosine: Double, normRatio: Double)? {
    let c = path.compactMap(\.cosine), r = path.compactMap(\.normRatio)
    guard !c.isEmpty else { return nil }
    return (c.reduce(0, +) / Double(c.count), r.reduce(0, +) / Double(r.count))
  }
  /// What the gradient was compared with.
  var referenceName: String { method.outputSampler.isSDE ? "dto/sde (same path)" : "rk45" }
}

extension MorphReport {
  var recognizerColumns: [String] { (0..<thresholds.count).map { "mmpmr_r\($0)_percent" } }

  /// One row per model and method: the table.
  public func table() throws -> CSVTable {
    var t = try CSVTable(columns: ["model", "method", "pairs", "nfe_per_morph", "nfe_eps", "nfe_vjp"] + recognizerColumns
      + ["mean_loss", "wall_s_per_morph", "learning_rate", "grad_cosine_mean", "grad_norm_ratio_mean", "gradient_reference",
         "xT_norm_over_start_mean"])
    for m in models {
      for (o, verdicts) in zip(m.outcomes, m.verdicts) {
        let agreement = o.gradientAgreement
        try t.append([.text(m.model), .text(o.method.rawValue), .integer(m.pairs.count), .integer(o.evaluations.eps + o.evaluations.vjp),
                  .integer(o.evaluations.eps), .integer(o.evaluations.vjp)]
          + verdicts.map { .real($0.mmpmr) }
          + [.real(o.meanLoss), .real(o.seconds / Double(m.pairs.count)), o.learningRate.map(CSVValue.real) ?? .missing,
             agreement.map { .real($0.cosine) } ?? .missing, agreement.map { .real($0.normRatio) } ?? .missing,
             o.method.isGradient ? .text(o.referenceName) : .missing, o.meanNoiseNormRatio.map(CSVValue.real) ?? .missing])
      }
    }
    return t
  }

  /// The same table in markdown, one section per model.
  public func tableMarkdown() -> String {
    var s = "| model | method | NFE per morph (eps + VJP) |"
    s += (0..<thresholds.count).map { " MMPMR r\($0) (%) |" }.joined()
    s += " mean loss | wall s / morph | lr | grad cos vs ref | grad norm ratio | \\|x_T\\| / start |\n|---|---|---|"
    s += String(repeating: "---|", count: thresholds.count) + "---|---|---|---|---|---|\n"
    for m in models {
      for (o, verdicts) in zip(m.outcomes, m.verdicts) {
        let a = o.gradientAgreement
        s += "| \(m.model) | \(o.method.rawValue) | \(o.evaluations.eps + o.evaluations.vjp) (\(o.evaluations.eps) + \(o.evaluations.vjp)) |"
        s += verdicts.map { " \(ReportFormat.fixed($0.mmpmr, decimals: 1)) |" }.joined()
        s += " \(ReportFormat.fixed(o.meanLoss, decimals: 4)) | \(ReportFormat.short(o.seconds / Double(m.pairs.count))) |"
        s += " \(o.learningRate.map { ReportFormat.short($0) } ?? "-") | \(a.map { ReportFormat.fixed($0.cosine, decimals: 4) } ?? "-") |"
        s += " \(a.map { ReportFormat.fixed($0.normRatio, decimals: 4) } ?? "-") |"
        s += " \(o.meanNoiseNormRatio.map { ReportFormat.fixed($0, decimals: 2) } ?? "-") |\n"
      }
    }
    return s
  }

  /// Every morph: its identities, loss, and each recognizer's similarities and verdict.
  public func morphsTable() throws -> CSVTable {
    var columns = ["model", "method", "pair", "class_a", "class_b", "loss", "blend_weight"]
    for r in 0..<thresholds.count { columns += ["sim_a_r\(r)", "sim_b_r\(r)", "accepted_r\(r)"] }
    var t = try CSVTable(columns: columns)
    for m in models {
      for (o, verdicts) in zip(m.outcomes, m.verdicts) {
        for p in 0..<m.pairs.count {
          var row: [CSVValue] = [.text(m.model), .text(o.method.rawValue), .integer(p), .integer(m.pairs.classA[p]),
                                 .integer(m.pairs.classB[p]), .real(o.loss[p]), o.chosenWeight.map { .real($0[p]) } ?? .missing]
          for v in verdicts { row += [.real(v.similarityA[p]), .real(v.similarityB[p]), .integer(v.accepted[p] ? 1 : 0)] }
          try t.append(row)
        }
      }
    }
    return t
  }

  /// The optimization paths: loss per step and pair, and the gradient's agreement with the reference where computed.
  public func pathTable() throws -> CSVTable {
    var t = try CSVTable(columns: ["model", "method", "step", "pair", "loss", "grad_cosine", "grad_norm_ratio"])
    for m in models {
      for o in m.outcomes {
        for q in o.path {
          try t.append([.text(m.model), .text(o.method.rawValue), .integer(q.step), .integer(q.pair), .real(q.loss),
                        q.cosine.map(CSVValue.real) ?? .missing, q.normRatio.map(CSVValue.real) ?? .missing])
        }
      }
    }
    return t
  }

  public func tuningTable() throws -> CSVTable {
    var t = try CSVTable(columns: ["model", "method", "learning_rate", "tuning_pairs", "mean_loss", "mmpmr_loss_recognizer_percent", "failure"])
    for m in models {
      for r in m.tuning {
        try t.append([.text(r.model), .text(r.method.rawValue), .real(r.learningRate), .integer(config.tuningPairs),
                      r.meanLoss.map(CSVValue.real) ?? .missing, r.mmpmr.map(CSVValue.real) ?? .missing, r.failure.map(CSVValue.text) ?? .missing])
      }
    }
    return t
  }

  public func calibrationTable() throws -> CSVTable {
    var t = try CSVTable(columns: ["recognizer", "directory", "threshold_cosine", "target_fmr", "measured_fmr", "genuine_match_rate",
                                   "impostor_pairs", "genuine_pairs"])
    for (i, c) in thresholds.enumerated() {
      try t.append([.integer(i), .text(config.recognizers[i].lastPathComponent), .real(c.threshold), .real(c.targetFMR),
                    .real(c.measuredFMR), .real(c.genuineMatchRate), .integer(c.impostorPairs), .integer(c.genuinePairs)])
    }
    return t
  }
}
