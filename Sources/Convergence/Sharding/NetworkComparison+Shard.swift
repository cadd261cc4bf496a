import Reports
import DiffusionCore
import Foundation
import Integrators
import ToyModels

/// Sharding the toy-versus-network comparison: its runs are the toy study's runs, then the network study's, then
/// (when the references are compared) one run that solves both RK45 references once more.
extension NetworkComparison {
  public var runCount: Int { toy.runList.count + network.runList.count + (compareReferences ? 1 : 0) }

  /// Estimated cost of each run, for balancing only (never changes a result): a network evaluation costs about 50
  /// mixture evaluations on the UNets used here, and the reference comparison about two RK45 solves (~1000 steps).
  public var runWeights: [Double] {
    toy.runList.map { Double($0.steps) / 50 } + network.runList.map { Double($0.steps) } + (compareReferences ? [1000] : [])
  }

  /// Runs one shard's part: a result holding only its toy and network records and, when it owns the last run, the
  /// reference comparison.
  public func run(shard: Shard, progress: (String) -> Void = { _ in }) throws -> NetworkComparisonResult<Network> {
    let r = shard.range(weights: runWeights)
    let t = toy.runList.count, n = network.runList.count
    let toyPart = try toy.run(indices: r.clamped(to: 0..<t), label: "shard \(shard)", progress: progress)
    let networkPart = try network.run(indices: (r.clamped(to: t..<t + n)).lowerBound - t..<(r.clamped(to: t..<t + n)).upperBound - t,
                                      label: "shard \(shard)", progress: progress)
    var toyReference: GradientResult?, networkReference: GradientResult?
    if compareReferences && r.contains(t + n) {
      progress("\(name) shard \(shard): reference gradients for the network-versus-analytic comparison")
      toyReference = try Self.reference(toy.problem, toy.referenceTolerance)
      networkReference = try Self.reference(network.problem, network.referenceTolerance)
    }
    return NetworkComparisonResult(name: name, toy: toyPart, network: networkPart, toyReference: toyReference, networkReference: networkReference)
  }

  static var distanceFile: String { "reference-comparison.csv" }

  /// The shard's files: toy-runs.csv, toy-references.csv, network-runs.csv, network-references.csv and, in the
  /// shard that solved them, the two reference gradients (reference-comparison.csv).
  public func shardFiles(_ partial: NetworkComparisonResult<Network>, shard: Shard) throws -> [(name: String, data: Data)] {
    let r = shard.range(weights: runWeights)
    let t = toy.runList.count, n = network.runList.count
    let rn = r.clamped(to: t..<t + n)
    var files = try partial.toy.shardFiles(indices: r.clamped(to: 0..<t)).map { ("toy-" + $0.name, $0.data) }
    files += try partial.network.shardFiles(indices: rn.lowerBound - t..<rn.upperBound - t).map { ("network-" + $0.name, $0.data) }
    if let a = partial.toyReference, let b = partial.networkReference {
      var table = try CSVTable(columns: ["model", "quantity", "values"])
      for (model, g) in [("toy", a), ("network", b)] {
        func add(_ q: String, _ v: [Double]) throws { try table.append([.text(model), .text(q), .text(v.map(ReportFormat.roundTrip).joined(separator: " "))]) }
        try add("x0", g.x0)
        try add("loss", [g.loss])
        try add("grad_x", g.gradXT)
        for (i, row) in g.gradZ.enumerated() { try add("grad_z.\(i)", row) }
        try add("evaluations", [g.sampling.eps, g.sampling.vjp, g.adjoint.eps, g.adjoint.vjp].map(Double.init))
      }
      files.append((Self.distanceFile, Data(table.text.utf8)))
    }
    return files
  }

  /// The whole comparison from every shard's files (by shard name), as the unsharded `run()` returns it.
  public func merged(shards: [(name: String, files: [String: Data])]) throws -> NetworkComparisonResult<Network> {
    func part(_ prefix: String) throws -> [(name: String, runs: Data, references: Data)] {
      try shards.map { s in
        guard let runs = s.files["\(prefix)-runs.csv"], let refs = s.files["\(prefix)-references.csv"] else {
          throw InvalidInput("shard \(s.name)", "has no \(prefix)-runs.csv or \(prefix)-references.csv")
        }
        return (s.name, runs, refs)
      }
    }
    let toyResult = try StudyResult.merged(study: toy, shards: part("toy"))
    let networkResult = try StudyResult.merged(study: network, shards: part("network"))
    var toyReference: GradientResult?, networkReference: GradientResult?
    if compareReferences {
      let holders = shards.filter { $0.files[Self.distanceFile] != nil }
      guard holders.count == 1, let data = holders[0].files[Self.distanceFile] else {
        throw InvalidInput("shards", "expected one shard with \(Self.distanceFile), found \(holders.map(\.name))")
      }
      (toyReference, networkReference) = try Self.readReferences(data, what: "\(holders[0].name)/\(Self.distanceFile)")
    }
    return NetworkComparisonResult(name: name, toy: toyResult, network: networkResult, toyReference: toyReference, networkReference: networkReference)
  }

  static func readReferences(_ data: Data, what: String) throws -> (GradientResult, GradientResult) {
    let rows = try StudyResult<Network>.table(data, columns: ["model", "quantity", "values"], what: what)
    func result(_ model: String) throws -> GradientResult {
      var fields: [String: [Double]] = [:]
      for row in rows where row[0] == model {
        fields[row[1]] = try row[2].split(separator: " ").map {
          guard let v = Double($0) else { throw InvalidInput(what, "'\($0)' is not a number") }
          return v
        }
      }
      guard let x0 = fields["x0"], let loss = fields["loss"]?.first, let gx = fields["grad_x"], let e = fields["evaluations"], e.count == 4 else {
        throw InvalidInput(what, "the \(model) reference is incomplete")
      }
      let gz = (0..<fields.keys.filter { $0.hasPrefix("grad_z.") }.count).compactMap { fields["grad_z.\($0)"] }
      return GradientResult(x0: x0, loss: loss, gradXT: gx, gradZ: gz, gradTheta: [],
                            sampling: EvaluationCount(eps: Int(e[0]), vjp: Int(e[1])), adjoint: EvaluationCount(eps: Int(e[2]), vjp: Int(e[3])))
    }
    return (try result("toy"), try result("network"))
  }
}
