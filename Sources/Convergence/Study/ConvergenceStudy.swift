import DiffusionCore
import Foundation
import Integrators

/// A convergence study: a problem (and variants of it, one per extra seed), a reference gradient, solver
/// setups and a list of step counts M. ODE studies compare with the RK45 black-box adjoint at tight tolerance; SDE
/// studies fix one fine Brownian path per seed, run every M on coarse steps that sum its increments, and compare with
/// discretize-then-optimize on the fine grid of the same path.
/// The dynamics a study differentiates: the probability-flow ODE or the diffusion SDE.
public enum StudyKind: String, CaseIterable, Sendable { case ode, sde }

public struct ConvergenceStudy<Model: NoisePredictor>: Sendable {
  public typealias Kind = StudyKind

  public var name: String
  public var kind: Kind
  public var problem: StudyProblem<Model>
  /// The problem of seed s > 0 (seed 0 is `problem`); nil allows only one seed.
  public var variant: (@Sendable (Int) throws -> StudyProblem<Model>)?
  /// The methods, each run with N = M on a grid uniform in lambda; in an ODE study AdjointDEIS-k pairs with
  /// DPM-Solver-k, in an SDE study every method runs on the SDE sampler's path.
  public var solvers: [MethodSpec]
  public var steps: [Int]
  public var seeds: Int
  /// rtol = atol of the RK45 reference (ODE).
  public var referenceTolerance: Double = 1e-12
  /// Fine steps per coarsest step of the SDE reference path: the fine grid has `steps.max() * fineFactor` steps.
  public var fineFactor: Int = 32
  /// SDE: Brownian paths per seed. The strong error at each M is the root-mean-square of the per-path relative errors.
  public var paths: Int = 1
  public var rule = AsymptoticRule()
  /// The spacing of every method's grid (ODE studies; default uniform in lambda, so h_max = span / M).
  public var grid: GridSpacing = .lambda
  /// Data statistics handed to every method (the linear part of docs/gaussian-linear-part.md), for models that
  /// cannot supply their own; nil: each model's own, where it has them.
  public var statistics: DataStatistics? = nil
  /// Whether each run is also compared with the exact gradient of its own discrete sampler (`discreteReference`,
  /// the `rel_err_discrete_*` columns): one more gradient per run, so off unless asked for.
  public var compareDiscrete = false

  public init(name: String, kind: Kind, problem: StudyProblem<Model>, variant: (@Sendable (Int) throws -> StudyProblem<Model>)? = nil,
              solvers: [MethodSpec]? = nil, steps: [Int] = [5, 10, 20, 40, 80, 160, 320, 640], seeds: Int = 1) throws {
    self.name = name
    self.kind = kind
    self.problem = problem
    self.variant = variant
    self.solvers = try solvers ?? (kind == .ode ? Self.defaultODE : Self.defaultSDE).map { try MethodSpec($0, option: "solvers") }
    self.steps = steps
    self.seeds = seeds
    try validate()
  }

  /// Everything that can be checked before any work starts.
  public func validate() throws {
    guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
      throw InvalidInput("name", "a study name must be non-empty letters, digits, - or _, got '\(name)'")
    }
    guard !steps.isEmpty else { throw InvalidInput("steps", "the list of step counts is empty") }
    for (a, b) in zip(steps, steps.dropFirst()) where b <= a {
      throw InvalidInput("steps", "step counts must increase strictly (\(a) then \(b))")
    }
    guard steps[0] >= 1 else { throw InvalidInput("steps", "step counts must be positive, got \(steps[0])") }
    try validateBudget()
    guard !solvers.isEmpty else { throw InvalidInput("solvers", "the list of solvers is empty") }
    guard seeds >= 1 else { throw InvalidInput("seeds", "must be at least 1, got \(seeds)") }
    if seeds > 1 && variant == nil { throw InvalidInput("seeds", "this study has no seeded variants of its problem: use 1 seed") }
    guard fineFactor >= 1 else { throw InvalidInput("fine-factor", "must be at least 1") }
    guard paths >= 1 else { throw InvalidInput("paths", "must be at least 1, got \(paths)") }
    if kind == .ode && paths != 1 { throw InvalidInput("paths", "an ODE study has no Brownian paths") }
    if kind == .sde, let top = steps.last, let bad = steps.first(where: { (top * fineFactor) % $0 != 0 }) {
      throw InvalidInput("steps", "SDE grids must nest in the fine path: \(bad) does not divide \(top * fineFactor)")
    }
    if case .perStep = problem.problem.z { throw InvalidInput("z", "convergence studies take a constant z") }
    for spec in solvers { _ = try method(spec, steps: steps[0], noise: .seeded(0)) }
  }

  public static var defaultODE: [String] {
    ["adjointdeis-1/exact", "adjointdeis-2m/exact", "adjointdeis-2m-phi2/exact",
     "adjointdeis-1/recorded", "adjointdeis-2m/recorded", "adjointdeis-1/resolved", "adjointdeis-2m/resolved",
     "dto/dpm-solver-1", "dto/dpm-solver-2m"]
  }
  public static var defaultSDE: [String] { ["adjointdeis-1/recorded", "adjointdeis-2m/recorded", "adjointdeis-1/resolved", "dto/sde"] }

  /// The study's defaults for every method: N = M = `steps` on a grid uniform in lambda, the study's dynamics,
  /// its noise (SDE) and, for exact states, the reference's tolerance.
  public func defaults(steps m: Int, noise: NoiseSource) -> GradientOptions {
    var d = GradientOptions()
    d.dynamics = kind == .sde ? .sde : .ode
    (d.samplerSteps, d.adjointSteps, d.grid) = (m, m, kind == .sde ? .lambda : grid)
    d.noise = noise
    (d.rtol, d.atol) = (referenceTolerance, referenceTolerance)
    d.statistics = statistics
    return d
  }

  /// The method of `spec` at M steps; an error if it is not of the study's dynamics.
  public func method(_ spec: MethodSpec, steps m: Int, noise: NoiseSource) throws -> any GradientMethod {
    let method = try spec.make(defaults: defaults(steps: m, noise: noise))
    if method.dynamics != (kind == .sde ? .sde : .ode) {
      throw InvalidInput("solvers", "'\(spec.text)' does not belong in an \(kind == .sde ? "SDE" : "ODE") study")
    }
    return method
  }

  /// The problem of seed s: seed 0 is `problem`, others come from `variant`.
  public func problem(seed s: Int) throws -> StudyProblem<Model> {
    guard s > 0, let variant else { return problem }
    return try variant(s)
  }

  /// Runs every solver at every M for every seed. A run that fails is recorded with its reason; the study goes on.
  /// A reference that fails ends the study with its error.
  public func run(progress: (String) -> Void = { _ in }) throws -> StudyResult<Model> {
    try validate()
    var records: [RunRecord] = []
    var references: [ReferenceInfo] = []
    for seed in 0..<seeds {
      let p = try problem(seed: seed)
      for path in 0..<paths {
        let started = Date()
        let (reference, noise, description) = try referenceGradient(p, seed: seed, path: path)
        references.append(ReferenceInfo(seed: seed, path: path, description: description, seconds: Date().timeIntervalSince(started),
                                        evaluations: reference.sampling + reference.adjoint))
        for spec in solvers {
          for m in steps {
            progress("\(name): seed \(seed)\(kind == .sde ? " path \(path)" : "") \(spec.text) M=\(m)")
            var record = runOne(spec, steps: m, problem: p, seed: seed, noise: noise, reference: reference)
            record.path = path
            records.append(record)
          }
        }
      }
    }
    return StudyResult(study: self, records: records, references: references)
  }

  func referenceGradient(_ p: StudyProblem<Model>, seed: Int, path: Int) throws -> (GradientResult, NoiseSource, String) {
    switch kind {
    case .ode:
      var options = GradientOptions()
      (options.rtol, options.atol) = (referenceTolerance, referenceTolerance)
      let r = try ReferenceRK45Method(options).gradient(p.problem)
      return (r, .seeded(0), "RK45 black-box adjoint, rtol = atol = \(referenceTolerance)")
    case .sde:
      let fineSteps = steps.last! * fineFactor  // invariant: validate() checked steps is non-empty
      let q = p.problem
      let fine = try TimeGrid(schedule: q.schedule, tEps: q.tEps, T: q.T, steps: fineSteps, spacing: .lambda)
      let path = BrownianPath(fine: fine, dimension: q.model.dataDimension, seed: 7_919 &* UInt64(seed + 1) &+ 104_729 &* UInt64(path))
      let noise = try path.noise(on: fine, dimension: q.model.dataDimension)
      let r = try DiscretizeThenOptimize(sampler: .sde).gradient(model: q.model, grid: fine, xT: q.xT, z: q.z, noise: noise, loss: q.loss)
      return (r, .brownian(path), "discretize-then-optimize on the fine SDE grid (\(fineSteps) steps uniform in lambda) of the same Brownian path")
    }
  }

  func runOne(_ spec: MethodSpec, steps m: Int, problem p: StudyProblem<Model>, seed: Int, noise: NoiseSource, reference: GradientResult) -> RunRecord {
    let started = Date()
    do {
      let method = try self.method(spec, steps: m, noise: noise)
      let r = try method.gradient(p.problem)
      let seconds = Date().timeIntervalSince(started)
      var comparisons: [GradientQuantity: GradientComparison] = [:]
      for q in GradientQuantity.allCases { comparisons[q] = GradientComparison(q.values(r), reference: q.values(reference)) }
      var record = RunRecord(solver: spec.text, seed: seed, steps: m, hMax: r.hMax ?? .nan, evaluations: r.sampling + r.adjoint,
                             gradientEvaluations: r.adjoint, seconds: seconds, comparisons: comparisons, failure: nil)
      record.storedStates = r.statistics["stored_states"]
      record.storedBytes = record.storedStates.map { $0 * p.problem.model.dataDimension * MemoryLayout<Double>.size }
      record.roundTripError = r.roundTripError
      if compareDiscrete, let twin = method.discreteReference {
        // the exact gradient of the same discrete sampler (not timed): the method's error against it is its own, the
        // reference's the sampler's
        let exact = twin.label == method.label ? r : try twin.gradient(p.problem)
        for q in GradientQuantity.allCases { record.discreteErrors[q] = GradientComparison(q.values(r), reference: q.values(exact)).relativeError }
      }
      return record
    } catch {
      return RunRecord(solver: spec.text, seed: seed, steps: m, hMax: .nan, evaluations: EvaluationCount(),
                       gradientEvaluations: EvaluationCount(), seconds: Date().timeIntervalSince(started),
                       comparisons: [:], failure: "\(error)")
    }
  }
}

/// One run of one solver at one M.
public struct RunRecord: Sendable {
  public var solver: String
  public var seed: Int
  /// The Brownian path (SDE studies; 0 for the ODE).
  public var path: Int = 0
  public var steps: Int
  /// The largest step in lambda.
  public var hMax: Double
  /// Sampling and gradient evaluations together, and the gradient's alone.
  public var evaluations: EvaluationCount
  public var gradientEvaluations: EvaluationCount
  public var seconds: Double
  /// The peak number of d-vectors the method held, their bytes in Float64 (nil when the method does not count them),
  /// and a reversible sampler's round-trip error of x_T.
  public var storedStates: Int? = nil
  public var storedBytes: Int? = nil
  public var roundTripError: Double? = nil
  /// The relative error against the exact gradient of the discrete sampler x_0 came from (`discreteReference`);
  /// empty when there is none (exact states, RK45).
  public var discreteErrors: [GradientQuantity: Double] = [:]
  public var comparisons: [GradientQuantity: GradientComparison]
  /// Nil when the run succeeded.
  public var failure: String?

  public func comparison(_ q: GradientQuantity) -> GradientComparison { comparisons[q] ?? .failed }
}

public struct ReferenceInfo: Sendable {
  public var seed: Int
  public var path: Int
  public var description: String
  public var seconds: Double
  public var evaluations: EvaluationCount
}

public struct StudyResult<Model: NoisePredictor>: Sendable {
  public var study: ConvergenceStudy<Model>
  public var records: [RunRecord]
  public var references: [ReferenceInfo]

  /// One point of a solver's series for one seed: over the Brownian paths (SDE), the root-mean-square relative
  /// error (the strong error) and the mean cosine and norm ratio; a single run's values for the ODE.
  public struct SeriesPoint: Sendable {
    public var steps: Int
    public var hMax: Double
    public var comparisons: [GradientQuantity: GradientComparison]
    /// The abscissa of fits and plots: h_max, or 1/M where h_max is infinite (flow matching from T = 1, lambda_T = -inf;
    /// docs/math.md#noise-end), so those studies are fitted against 1/M.
    public var step: Double { hMax.isFinite ? hMax : 1 / Double(steps) }
  }

  /// A solver's series for one seed, coarse to fine; an M at which any path failed is left out.
  public func series(solver: String, seed: Int = 0) -> [SeriesPoint] {
    study.steps.compactMap { m in
      let runs = records.filter { $0.solver == solver && $0.seed == seed && $0.steps == m }
      guard !runs.isEmpty, runs.allSatisfy({ $0.failure == nil }) else { return nil }
      var comparisons: [GradientQuantity: GradientComparison] = [:]
      for q in GradientQuantity.allCases {
        let c = runs.map { $0.comparison(q) }
        let n = Double(c.count)
        comparisons[q] = GradientComparison(
          relativeError: (c.map { $0.relativeError * $0.relativeError }.reduce(0, +) / n).squareRoot(),
          cosine: c.map(\.cosine).reduce(0, +) / n, normRatio: c.map(\.normRatio).reduce(0, +) / n)
      }
      return SeriesPoint(steps: m, hMax: runs[0].hMax, comparisons: comparisons)
    }
  }

  /// The order fit of one solver's error in one quantity for one seed.
  public func fit(solver: String, quantity q: GradientQuantity, seed: Int = 0) throws -> OrderFit {
    let points = series(solver: solver, seed: seed)
      .map { ErrorPoint(steps: $0.steps, hMax: $0.step, error: $0.comparisons[q]?.relativeError ?? .nan) }
    return try OrderFit.fit(points, rule: study.rule)
  }
}
