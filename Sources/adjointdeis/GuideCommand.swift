import ArgumentParser
import DiffusionCore
import Foundation
import Integrators
import Morphing
import NeuralCore
import ToyModels

/// `adjointdeis guide`: guided generation on a diffusers pipeline: gradient descent on (x_T, z) of a pixel loss,
/// with each chosen gradient method, the morph experiment's projected, normalized update, the batch in lockstep.
struct GuideCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "guide",
    abstract: "Guided generation on a diffusers UNet2DModel pipeline: descend a loss on x_0 through x_T (and z).",
    discussion: """
      Each step samples x_0 from (x_T, z) with N sampler steps, computes the gradient with the method, and moves every
      image's (x_T, z) by lr sqrt(d + m) g / |g| (normalized), then rescales x_T to its starting norm (sphere).
      By default the sampler is the pipeline's own diffusers loop (its scheduler config, set_timesteps(N)) and dto is
      its exact gradient; another method's gradient is cross-checked against dto's on the first step (a warning when
      the cosine is below 0.9 or the relative error above 0.5), and its images and losses are the pipeline's.
      --pipeline-sampler continuous runs the testbed's samplers on the continuous-time schedule instead.
      Writes into --out: grid.png (columns start, each method's last and best iterate, target), loss.csv (method,
      step, image, loss; step K is after the last update), result.safetensors (x_T.<method>, x_0.<method>,
      z.<method>, and per image the lowest-loss iterate of loss.csv: x_T.best.<method>, x_0.best.<method>,
      z.best.<method>), and prints a JSON summary (with each image's best loss and the step it came from).
      Progress goes to stderr.
      """)

  @OptionGroup var inputs: PipelineOptions
  @Option(help: "Seed of x_T (with --batch) and of the SDE sampler's noise.") var seed: UInt64?
  @Option(help: "Comma-separated gradient methods, NAME[/QUALIFIER...] of the registry: \(GradientMethods.names.joined(separator: ", ")) (e.g. adjointdeis-1/sde).")
  var methods: String = "dto"
  @Option(help: "Gradient-descent steps K.") var steps: Int = 20
  @Option(name: .customLong("sampler-steps"), help: "N = M, the sampling and adjoint steps.") var samplerSteps: Int = 20
  @Option(help: "lambda | time-uniform | time-quadratic | karras | shifted (default: time-uniform; karras on an EDMEuler pipeline).") var grid: String?
  @Option(name: .customLong("learning-rate"), help: "The step length, in units of |x_T| ~ sqrt(d) (normalized update).") var learningRate: Double = 0.1
  @Option(help: "normalized | plain") var update: String = DescentUpdate.normalized.rawValue
  @Option(help: "sphere (x_T keeps its starting norm) | none") var constraint: String = NoiseConstraint.sphere.rawValue
  @Option(help: "rk45's tolerance (rtol = atol) when it is a method.") var rtol: Double = 1e-5
  @Option(help: "Data statistics of one image for the methods with a linear part (e.g. adjointdeis-gl-1/isotropic), JSON {mean, covariance} or {mean, variance}; used for each image of the batch.")
  var statistics: String?
  @Option(help: "The output directory (created if missing).") var out: String
  @Option(help: "OpenBLAS threads (0: its default).") var threads: Int = 0

  func run() throws {
    setBLASThreads(threads)
    switch inputs.dtype {
    case .float32: try guide(Float.self)
    case .float64: try guide(Double.self)
    }
  }

  private func guide<S: BLASScalar>(_: S.Type) throws {
    // every option and file is checked before the first network evaluation
    let chosen = try methods.split(separator: ",").map { try MorphMethod.named(String($0)) }
    guard !chosen.isEmpty else { throw InvalidInput("methods", "give at least one method") }
    guard (1...1000).contains(samplerSteps) else { throw InvalidInput("sampler-steps", "must be in 1...1000, got \(samplerSteps)") }
    guard rtol.isFinite, rtol > 0, rtol < 1 else { throw InvalidInput("rtol", "must be in (0, 1), got \(rtol)") }
    var spacing = try GridSpacing.named(grid ?? GridSpacing.timeUniform.rawValue)
    let noiseSeed = seed ?? 0
    func make(_ statistics: DataStatistics?, schedule: NoiseSchedule? = nil, prediction: PredictionType = .epsilon) throws -> [(MorphMethod, any GradientMethod)] {
      try chosen.map { m in
        guard let g = try m.method(steps: samplerSteps, spacing: spacing, noiseSeed: noiseSeed, rtol: rtol, statistics: statistics,
                                   adjust: { o in schedule.map { PipelineDefaults.adjoint(o, schedule: $0, prediction: prediction) } ?? o }) else {
          throw InvalidInput("methods", "\(m.rawValue) is not a gradient method")
        }
        return (m, g)
      }
    }
    var made = try make(nil)
    var descent = GuidedGeneration(steps: steps, learningRate: learningRate)
    descent.update = try DescentUpdate.named(update)
    descent.constraint = try NoiseConstraint.named(constraint)
    try descent.validate()
    // the output folder resolved, proven writable and staged before any work; its files appear together at the end
    let folder = try OutputFolder(out, field: "out")
    if let statistics, !made.contains(where: { $0.1 is GaussianLinearSampling }) {
      throw InvalidInput("statistics", "\(statistics): no method has a linear part (e.g. adjointdeis-gl-1 or adjointdeis-gl-1/isotropic)")
    }
    let (pipeline, problem) = try inputs.problem(S.self, seed: seed)
    if grid == nil, case .edm = pipeline.schedule.kind { spacing = .karras }  // EDM's natural grid, as `gradient --pipeline` (PipelineDefaults)
    // AdjointDEIS in the form for the pipeline's schedule and prediction type (PipelineDefaults.adjoint)
    let schedule = pipeline.schedule, prediction = pipeline.scheduler.predictionType
    made = try make(nil, schedule: schedule, prediction: prediction)
    if let statistics {  // one image's, for each image of the batch (block-diagonal)
      let one = try DataStatisticsFile.load(from: URL(fileURLWithPath: statistics), dimension: problem.shape.reduce(1, *))
      made = try make(DataStatistics.blockDiagonal([DataStatistics](repeating: one, count: problem.batch)), schedule: schedule, prediction: prediction)
    }
    for (_, g) in made { try g.validate(try problem.gradientProblem) }
    var loop = inputs.pipelineSampler == .diffusers ? try inputs.loop(pipeline, steps: samplerSteps) : nil
    if let l = loop { loop = try inputs.withNoise(l, seed: noiseSeed, file: nil, count: problem.xT.count).0 }  // the same draws at every step
    if let why = pipeline.scheduler.continuousUnsupported, let other = chosen.first(where: { !Self.isLoopDTO($0) }) {
      throw InvalidInput("methods", "\(other.rawValue) runs on the continuous-time schedule, which this pipeline does not have: \(why); dto through diffusers' loop (the default) is exact")
    }
    if let loop { try Budget.checkPathMemory(steps: 2 * loop.timesteps.count, dimension: problem.batch * problem.shape.reduce(1, *)) }

    let start = try loop.map { try problem.loopSample($0) } ?? problem.sample(.dpmSolver1, steps: samplerSteps, spacing: spacing, noiseSeed: noiseSeed)
    var traces: [GuideTrace] = []
    for (index, (method, gradientMethod)) in made.enumerated() {
      let methodsAfter = made.count - 1 - index
      let guideMethod: GuideMethod<EpsilonConversion<UNetNoisePredictor<S>>>
      if let loop {
        guideMethod = .onLoop(loop, name: method.rawValue, method: Self.isLoopDTO(method) ? nil : gradientMethod) { warning in
          StandardStreams.error(warning)
        }
      } else {
        let outputSampler = method.outputSampler
        guideMethod = GuideMethod(
          name: method.rawValue, gradient: { try $0.gradient(gradientMethod) },
          sample: { [spacing] in try $0.sample(for: gradientMethod, kind: outputSampler, steps: samplerSteps, spacing: spacing, noiseSeed: noiseSeed) })
      }
      let trace = try descent.run(guideMethod, on: problem) { step, loss, perStep in
        let left = Double(steps - step) * perStep, overall = left + Double(methodsAfter * steps) * perStep
        StandardStreams.error(String(format: "guide %@: step %d/%d  mean loss %.6g  %.2f s/step  ~%.0f s left (~%.0f s for all methods at this pace)",
                                     method.rawValue, step, steps, loss, perStep, left, overall))
      }
      traces.append(trace)
    }
    try folder.writing { try write(traces, start: start, problem: problem, to: $0) }
    try folder.commit()
    print(try summary(traces, start: start, problem: problem, out: folder.target))
  }

  /// `dto` as given (no sampler qualifier): on diffusers' loop, the loop's own exact gradient.
  static func isLoopDTO(_ method: MorphMethod) -> Bool {
    guard case let .gradient(spec) = method else { return false }
    return spec.name == "dto" && spec.options.sampler == nil && spec.options.dynamics == nil
  }

  /// grid.png, loss.csv and result.safetensors into `dir` (the output folder's staging folder).
  private func write<M>(_ traces: [GuideTrace], start: [Double], problem: PipelineProblem<M>, to dir: URL) throws {
    let (c, h, w) = (problem.shape[0], problem.shape[1], problem.shape[2])
    var grid = ImageGrid(channels: c, height: h, width: w)
    grid.rowLabels = (0..<problem.batch).map { "#\($0)" }
    grid.add("start", start, losses: problem.loss.perSample(start))
    for t in traces {
      grid.add(t.method, t.x0, losses: problem.loss.perSample(t.x0))
      grid.add(t.method + " best", t.bestX0, losses: problem.loss.perSample(t.bestX0))
    }
    if problem.loss.kind != .linear { grid.add("target", problem.loss.target) }
    try grid.pixels().write(to: dir.appendingPathComponent("grid.png"))
    var csv = "method,step,image,loss\n"
    for t in traces {
      for (k, row) in t.losses.enumerated() { for (p, l) in row.enumerated() { csv += "\(t.method),\(k),\(p),\(l)\n" } }
    }
    try AtomicFile.write(csv, to: dir.appendingPathComponent("loss.csv"))
    let shape = [problem.batch] + problem.shape
    var entries: [SafeTensorsFile.Entry] = []
    for t in traces {
      let name = t.method.replacingOccurrences(of: "/", with: "_")
      entries.append(.init("x_T." + name, shape: shape, doubles: t.xT))
      entries.append(.init("x_0." + name, shape: shape, doubles: t.x0))
      if !t.z.isEmpty { entries.append(.init("z." + name, shape: [problem.batch, t.z.count / problem.batch], doubles: t.z)) }
      entries.append(.init("x_T.best." + name, shape: shape, doubles: t.bestXT))
      entries.append(.init("x_0.best." + name, shape: shape, doubles: t.bestX0))
      if !t.z.isEmpty { entries.append(.init("z.best." + name, shape: [problem.batch, t.z.count / problem.batch], doubles: t.bestZ)) }
    }
    try SafeTensorsFile.write(entries, to: dir.appendingPathComponent("result.safetensors"))
  }

  /// The JSON summary printed at the end.
  private func summary<M>(_ traces: [GuideTrace], start: [Double], problem: PipelineProblem<M>, out dir: URL) throws -> String {
    let startLoss = problem.loss.perSample(start)
    let summary = JSON.object([
      ("start_loss", .numbers(startLoss)),
      ("methods", .array(traces.map { t in
        JSON.object([
          ("method", .string(t.method)),
          ("final_loss", .numbers(t.losses.last ?? [])),
          ("best_loss", .numbers(t.bestLoss)),
          ("best_step", .array(t.bestStep.map(JSON.integer))),
          ("seconds_per_step", .number(t.stepSeconds / Double(max(1, t.losses.count - 1)))),
          ("nfe", .object([("eps", .integer(t.evaluations.eps)), ("vjp", .integer(t.evaluations.vjp))])),
        ])
      })),
      ("batch", .integer(problem.batch)),
      ("out", .string(dir.path)),
    ])
    return summary.render()
  }
}
