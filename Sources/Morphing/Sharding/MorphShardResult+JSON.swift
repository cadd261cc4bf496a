import Reports
import DiffusionCore
import Foundation
import Integrators

/// A shard's morph results as JSON (`morph-shard.json`). Every Double is written as its shortest round-trip text
/// (arrays as one space-separated string), so the merge reads back exactly the numbers the shard computed, NaN
/// included.
extension MorphShardResult {
  public static let fileName = "morph-shard.json"

  public func json() throws -> Data {
    let object: [String: Any] = [
      "thresholds": thresholds.map { t in
        ["threshold": R.d(t.threshold), "target_fmr": R.d(t.targetFMR), "measured_fmr": R.d(t.measuredFMR),
         "genuine_match_rate": R.d(t.genuineMatchRate), "impostor_pairs": t.impostorPairs, "genuine_pairs": t.genuinePairs] as [String: Any]
      },
      "models": models.map { m in
        ["model": m.model, "rates_from": m.ratesFrom,
         "pairs": ["xA": R.a(m.pairs.xA), "xB": R.a(m.pairs.xB), "classA": m.pairs.classA, "classB": m.pairs.classB, "dimension": m.pairs.dimension] as [String: Any],
         "outcomes": m.outcomes.map(R.outcome), "verdicts": m.verdicts.map { $0.map(R.verdict) }, "tuning": m.tuning.map(R.tuning)] as [String: Any]
      },
      "seconds": R.d(seconds),
    ]
    return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
  }

  public init(json data: Data, what: String) throws {
    guard let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw InvalidInput(what, "not a JSON object") }
    let r = R(what: what)
    thresholds = try r.list(o, "thresholds").map { t in
      MatchThreshold(threshold: try r.double(t, "threshold"), targetFMR: try r.double(t, "target_fmr"), measuredFMR: try r.double(t, "measured_fmr"),
                     genuineMatchRate: try r.double(t, "genuine_match_rate"), impostorPairs: try r.int(t, "impostor_pairs"),
                     genuinePairs: try r.int(t, "genuine_pairs"))
    }
    models = try r.list(o, "models").map { m in
      guard let p = m["pairs"] as? [String: Any] else { throw InvalidInput(what, "a model without pairs") }
      let pairs = MorphPairs(xA: try r.doubles(p, "xA"), xB: try r.doubles(p, "xB"), classA: try r.ints(p, "classA"),
                             classB: try r.ints(p, "classB"), dimension: try r.int(p, "dimension"))
      guard let verdicts = m["verdicts"] as? [[[String: Any]]] else { throw InvalidInput(what, "verdicts missing") }
      return MorphModelResult(model: try r.string(m, "model"), pairs: pairs, outcomes: try r.list(m, "outcomes").map(r.outcome),
                              verdicts: try verdicts.map { try $0.map(r.verdict) }, tuning: try r.list(m, "tuning").map(r.tuning),
                              ratesFrom: try r.string(m, "rates_from"))
    }
    seconds = try r.double(o, "seconds")
  }
}

/// The field codecs of `MorphShardResult+JSON`.
private struct R {
  let what: String

  static func d(_ v: Double) -> String { ReportFormat.roundTrip(v) }
  static func a(_ v: [Double]) -> String { v.map(ReportFormat.roundTrip).joined(separator: " ") }

  static func outcome(_ o: MorphOutcome) -> [String: Any] {
    var out: [String: Any] = ["method": o.method.rawValue, "morphs": a(o.morphs), "loss": a(o.loss), "nfe_eps": o.evaluations.eps,
                              "nfe_vjp": o.evaluations.vjp, "seconds": d(o.seconds),
                              "path": o.path.map { p in
                                var e: [String: Any] = ["step": p.step, "pair": p.pair, "loss": d(p.loss)]
                                if let c = p.cosine { e["cosine"] = d(c) }
                                if let n = p.normRatio { e["norm_ratio"] = d(n) }
                                return e
                              }]
    if let lr = o.learningRate { out["learning_rate"] = d(lr) }
    if let n = o.noiseNormRatio { out["noise_norm_ratio"] = a(n) }
    if let w = o.chosenWeight { out["chosen_weight"] = a(w) }
    return out
  }

  static func verdict(_ v: MorphVerdict) -> [String: Any] {
    ["similarity_a": a(v.similarityA), "similarity_b": a(v.similarityB), "accepted": v.accepted.map { $0 ? 1 : 0 }]
  }

  static func tuning(_ t: TuningRow) -> [String: Any] {
    var out: [String: Any] = ["model": t.model, "method": t.method.rawValue, "learning_rate": d(t.learningRate)]
    if let l = t.meanLoss { out["mean_loss"] = d(l) }
    if let m = t.mmpmr { out["mmpmr"] = d(m) }
    if let f = t.failure { out["failure"] = f }
    return out
  }

  func outcome(_ o: [String: Any]) throws -> MorphOutcome {
    var out = MorphOutcome(method: try method(o), morphs: try doubles(o, "morphs"), loss: try doubles(o, "loss"),
                           evaluations: EvaluationCount(eps: try int(o, "nfe_eps"), vjp: try int(o, "nfe_vjp")), seconds: try double(o, "seconds"))
    out.path = try list(o, "path").map { p in
      PathPoint(step: try int(p, "step"), pair: try int(p, "pair"), loss: try double(p, "loss"),
                cosine: p["cosine"] == nil ? nil : try double(p, "cosine"), normRatio: p["norm_ratio"] == nil ? nil : try double(p, "norm_ratio"))
    }
    out.learningRate = o["learning_rate"] == nil ? nil : try double(o, "learning_rate")
    out.noiseNormRatio = o["noise_norm_ratio"] == nil ? nil : try doubles(o, "noise_norm_ratio")
    out.chosenWeight = o["chosen_weight"] == nil ? nil : try doubles(o, "chosen_weight")
    return out
  }

  func verdict(_ v: [String: Any]) throws -> MorphVerdict {
    MorphVerdict(similarityA: try doubles(v, "similarity_a"), similarityB: try doubles(v, "similarity_b"), accepted: try ints(v, "accepted").map { $0 != 0 })
  }

  func tuning(_ t: [String: Any]) throws -> TuningRow {
    TuningRow(model: try string(t, "model"), method: try method(t), learningRate: try double(t, "learning_rate"),
              meanLoss: t["mean_loss"] == nil ? nil : try double(t, "mean_loss"), mmpmr: t["mmpmr"] == nil ? nil : try double(t, "mmpmr"),
              failure: t["failure"] == nil ? nil : try string(t, "failure"))
  }

  func method(_ o: [String: Any]) throws -> MorphMethod {
    do { return try MorphMethod.named(try string(o, "method")) } catch let e as InvalidInput { throw InvalidInput(what, e.reason) }
  }

  func string(_ o: [String: Any], _ key: String) throws -> String {
    guard let v = o[key] as? String else { throw InvalidInput(what, "\(key) missing or not text") }
    return v
  }

  func int(_ o: [String: Any], _ key: String) throws -> Int {
    guard let v = o[key] as? Int else { throw InvalidInput(what, "\(key) missing or not an integer") }
    return v
  }

  func ints(_ o: [String: Any], _ key: String) throws -> [Int] {
    guard let v = o[key] as? [Int] else { throw InvalidInput(what, "\(key) missing or not integers") }
    return v
  }

  func double(_ o: [String: Any], _ key: String) throws -> Double {
    guard let v = Double(try string(o, key)) else { throw InvalidInput(what, "\(key) is not a number") }
    return v
  }

  func doubles(_ o: [String: Any], _ key: String) throws -> [Double] {
    try string(o, key).split(separator: " ").map {
      guard let v = Double($0) else { throw InvalidInput(what, "\(key): '\($0)' is not a number") }
      return v
    }
  }

  func list(_ o: [String: Any], _ key: String) throws -> [[String: Any]] {
    guard let v = o[key] as? [[String: Any]] else { throw InvalidInput(what, "\(key) missing or not a list") }
    return v
  }
}
