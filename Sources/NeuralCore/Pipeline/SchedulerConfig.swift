import DiffusionCore
import Foundation

/// A diffusers scheduler config (`scheduler_config.json` of a DDPMScheduler, DDIMScheduler or
/// DPMSolverMultistepScheduler, or of the Euler family: EulerDiscreteScheduler, FlowMatchEulerDiscreteScheduler,
/// EDMEulerScheduler, whose own options are in `euler`, SchedulerConfig+Euler.swift): the training noise schedule and the prediction type, which define the model, and
/// the options of diffusers' own sampling loop, which `DiffusersLoop` reproduces (docs/diffusers-loop.md).
/// The continuous-time samplers do not apply the loop's options: those are listed in `notApplied` for them; options
/// that change what the model means are errors naming the option, and loop options `DiffusersLoop` does not
/// reproduce are listed in `loopUnsupported` (refused when the loop is built).
public struct SchedulerConfig: Sendable, Equatable {
  public enum BetaSchedule: String, CaseIterable, Sendable {
    case linear
    case scaledLinear = "scaled_linear"
    case squaredCosCapV2 = "squaredcos_cap_v2"
  }

  public static let supportedClasses = ["DDPMScheduler", "DDIMScheduler", "DPMSolverMultistepScheduler"] + EulerFamilyOptions.classes

  public var className = "DDPMScheduler"
  public var trainSteps = 1000
  public var betaStart = 0.0001
  public var betaEnd = 0.02
  public var betaSchedule: BetaSchedule = .linear
  public var trainedBetas: [Double]? = nil
  public var predictionType: PredictionType = .epsilon
  /// "option = value: why it is not applied" for each sampling-loop option the continuous-time samplers ignore.
  public var notApplied: [String] = []
  /// "option: why" for each option every sampler ignores (unknown to this reader, or ignored by diffusers too).
  public var ignored: [String] = []

  // diffusers' sampling loop (docs/diffusers-loop.md); defaults are diffusers' for the class (`init(className:)`)
  public enum TimestepSpacing: String, CaseIterable, Sendable { case leading, trailing, linspace }
  public enum AlgorithmType: String, CaseIterable, Sendable {
    case dpmSolverPlusPlus = "dpmsolver++", dpmSolver = "dpmsolver", sdeDPMSolverPlusPlus = "sde-dpmsolver++", sdeDPMSolver = "sde-dpmsolver"
  }
  public enum SolverType: String, CaseIterable, Sendable { case midpoint, heun }
  public enum FinalSigmas: String, CaseIterable, Sendable { case zero, sigmaMin = "sigma_min" }
  public var timestepSpacing: TimestepSpacing = .leading
  public var stepsOffset = 0
  /// DDIM, DDPM: clamp the x_0 prediction to [-clipSampleRange, clipSampleRange] (DPMSolverMultistep has no such option).
  public var clipSample = true
  public var clipSampleRange = 1.0
  /// Dynamic thresholding of the x_0 prediction (all three classes; takes precedence over clip_sample).
  public var thresholding = false
  public var dynamicThresholdingRatio = 0.995
  public var sampleMaxValue = 1.0
  /// DDIM: the final step's alpha_prev is 1 (true) or alphas_cumprod[0].
  public var setAlphaToOne = true
  public var solverOrder = 2
  public var algorithmType: AlgorithmType = .dpmSolverPlusPlus
  public var solverType: SolverType = .midpoint
  public var lowerOrderFinal = true
  public var eulerAtFinal = false
  public var finalSigmasType: FinalSigmas = .zero
  public var lambdaMinClipped = -Double.infinity
  /// DDPM's ancestral variance (docs/diffusers-loop.md#stochastic-steps).
  public enum VarianceType: String, CaseIterable, Sendable {
    case fixedSmall = "fixed_small", fixedSmallLog = "fixed_small_log", fixedLarge = "fixed_large", fixedLargeLog = "fixed_large_log"
  }
  public var varianceType: VarianceType = .fixedSmall
  /// Whether diffusers' step adds noise: DDPMScheduler (for timesteps > 0) and the sde- algorithms.
  public var isStochastic: Bool {
    className == "DDPMScheduler" || (className == "DPMSolverMultistepScheduler" && (algorithmType == .sdeDPMSolver || algorithmType == .sdeDPMSolverPlusPlus))
  }
  /// "option = value: why" for each loop option `DiffusersLoop` does not reproduce (it refuses to run with them).
  public var loopUnsupported: [String] = []
  /// The Euler family's options (nil for DDPM, DDIM and DPMSolverMultistep).
  public var euler: EulerFamilyOptions? = nil

  public init() {}

  /// diffusers' defaults for `className` (DPMSolverMultistep: linspace spacing and no clip_sample option).
  public init(className: String) {
    self.className = className
    if className == "DPMSolverMultistepScheduler" {
      timestepSpacing = .linspace
      clipSample = false
    }
    if let options = EulerFamilyOptions(className: className) {
      euler = options
      timestepSpacing = .linspace
      clipSample = false
    }
  }

  /// The training betas, as diffusers computes them (float32).
  public func betas() -> [Float] {
    if let trainedBetas { return trainedBetas.map { Float($0) } }
    switch betaSchedule {
    case .linear: return DiffusersBetas.linear(start: betaStart, end: betaEnd, count: trainSteps)
    case .scaledLinear: return DiffusersBetas.scaledLinear(start: betaStart, end: betaEnd, count: trainSteps)
    case .squaredCosCapV2: return DiffusersBetas.squaredCosCapV2(count: trainSteps)
    }
  }

  /// diffusers' `alphas_cumprod` (float32 values, exactly).
  public func alphasCumprod() -> [Double] { DiffusersBetas.alphasCumprod(betas()) }

  /// The continuous-time schedule of this config's model (docs/math.md#discrete-schedule, docs/diffusers-loop.md#continuous-schedules):
  /// the VP schedule over the training steps; `flow-matching` for FlowMatchEulerDiscrete (t = sigma on
  /// [the loop's last nonzero sigma, 1], its shift and shift_terminal as the `shifted` grid's parameters); `edm` for
  /// EDMEuler (t = sigma on [sigma_min, sigma_max], rho as the `karras` grid's).
  public func schedule() throws -> NoiseSchedule {
    switch euler?.kind {
    case .flowMatch?:
      let e = euler!  // invariant: the case
      // the loop's last nonzero sigma does not depend on N (dynamic shifting: mu is a sampling option, so 1/T unshifted)
      let last = e.dynamicShifting ? 1 / Double(trainSteps) : flowMatchSigmas(e, steps: 2, mu: nil).sigmas[1]
      let grids = GridParameters(shift: e.dynamicShifting ? 1 : e.shift, shiftTerminal: e.shiftTerminal == 0 ? nil : e.shiftTerminal)
      return try NoiseSchedule(kind: .flowMatching, name: "flow-matching (\(className))", tMin: e.invertSigmas ? 1 / Double(trainSteps) : last, tMax: 1)
        .with(grids: grids)
    case .edm?:
      let e = euler!  // invariant: the case; sigma_min < sigma_max checked by validateEulerFamily
      return try NoiseSchedule(kind: .edm, name: "edm (\(className))", tMin: e.sigmaMin!, tMax: e.sigmaMax!).with(grids: GridParameters(rho: e.rho))
    default:
      return try NoiseSchedule.discrete(alphasCumprod: alphasCumprod(), name: "\(className)/\(trainedBetas == nil ? betaSchedule.rawValue : "trained_betas")")
    }
  }

  // MARK: - scheduler_config.json

  public static func load(from url: URL) throws -> SchedulerConfig {
    let data: Data
    data = try InputFile.read(url)
    do { return try parse(data) } catch let e as InvalidInput { throw InvalidInput("\(url.path): \(e.field)", e.reason) }
  }

  /// Parses a scheduler config; errors name the option (`load` prefixes the file).
  public static func parse(_ data: Data) throws -> SchedulerConfig {
    // diffusers writes -Infinity (lambda_min_clipped) with Python's json.dumps
    guard case let .object(json) = try JSONReader.parse(data, source: "scheduler config", nonFiniteLiterals: true) else {
      throw InvalidInput("scheduler config", "not a JSON object")
    }
    var c = SchedulerConfig()
    func int(_ key: String, _ v: JSONValue) throws -> Int {
      if case let .number(x, _) = v, let i = Int(exactly: x) { return i }
      throw InvalidInput(key, "expected an integer, got \(v)")
    }
    func double(_ key: String, _ v: JSONValue) throws -> Double {
      if case let .number(x, _) = v, x.isFinite { return x }
      throw InvalidInput(key, "expected a finite number, got \(v)")
    }
    func bool(_ key: String, _ v: JSONValue) throws -> Bool {
      if case let .bool(b) = v { return b }
      throw InvalidInput(key, "expected true or false, got \(v)")
    }
    func string(_ key: String, _ v: JSONValue) throws -> String {
      if case let .string(s) = v { return s }
      throw InvalidInput(key, "expected a string, got \(v)")
    }
    func unsupported(_ key: String, _ v: JSONValue, _ why: String) -> InvalidInput {
      InvalidInput(key, "unsupported value \(v): \(why)")
    }
    if let name = json["_class_name"] {
      c.className = try string("_class_name", name)
      guard supportedClasses.contains(c.className) else {
        throw InvalidInput("_class_name", "unsupported scheduler '\(c.className)' (supported: \(supportedClasses.joined(separator: ", ")); "
          + "--scheduler-config FILE gives the pipeline one of these, e.g. the DDIMScheduler config its model was trained with)")
      }
      c = SchedulerConfig(className: c.className)
    }
    let isDPM = c.className == "DPMSolverMultistepScheduler"
    let isEuler = c.euler != nil
    func oneOf<E: RawRepresentable & CaseIterable>(_ key: String, _ v: JSONValue, _: E.Type) throws -> E where E.RawValue == String {
      let s = try string(key, v)
      guard let e = E(rawValue: s) else { throw unsupported(key, v, "expected one of \(E.allCases.map(\.rawValue).joined(separator: ", "))") }
      return e
    }
    for key in json.keys.sorted() {
      let v = json[key]!  // invariant: key comes from json.keys
      if isEuler, try c.parseEulerKey(key, v) { continue }
      switch key {
      case _ where key.hasPrefix("_"): continue
      case "num_train_timesteps":
        c.trainSteps = try int(key, v)
        guard (2...100_000).contains(c.trainSteps) else { throw InvalidInput(key, "must be in 2...100000, got \(c.trainSteps)") }
      case "beta_start": c.betaStart = try double(key, v)
      case "beta_end": c.betaEnd = try double(key, v)
      case "beta_schedule":
        let s = try string(key, v)
        guard let b = BetaSchedule(rawValue: s) else {
          throw unsupported(key, v, "supported: \(BetaSchedule.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        c.betaSchedule = b
      case "trained_betas":
        if v == .null { c.trainedBetas = nil; continue }
        guard case let .array(a) = v else { throw InvalidInput(key, "expected null or a list of numbers") }
        c.trainedBetas = try a.enumerated().map { try double("\(key)[\($0.offset)]", $0.element) }
      case "prediction_type":
        let s = try string(key, v)
        guard let p = PredictionType(rawValue: s) else {
          throw unsupported(key, v, "supported: \(PredictionType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        c.predictionType = p
      case "rescale_betas_zero_snr":
        if try bool(key, v) { throw unsupported(key, v, "a zero terminal SNR has lambda_T = -infinity, outside the VP schedule") }
      case "variance_type":
        if v == .null { continue }
        let s = try string(key, v)
        if s == "learned" || s == "learned_range" {
          throw unsupported(key, v, "the UNet would also predict a variance; only eps-, x_0- or v-predicting UNets are supported")
        }  // fixed_small / fixed_large (_log): the variance of DDPM's ancestral step, a sampling-loop choice
        c.varianceType = try oneOf(key, v, VarianceType.self)
        if c.varianceType == .fixedLargeLog {  // diffusers' step multiplies the noise by log(beta)^0.5: NaN
          c.loopUnsupported.append("variance_type = fixed_large_log: diffusers' step scales the noise by sqrt(log beta), not a number")
        }
      case "use_flow_sigmas", "use_dynamic_shifting":
        if try bool(key, v) { throw unsupported(key, v, "flow-matching sigmas are not a VP schedule") }
      case "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "use_lu_lambdas":
        if try bool(key, v) {
          c.notApplied.append("\(key) = true: shapes diffusers' sampling loop, not the model")
          c.loopUnsupported.append("\(key) = true: its sigma spacing is not reproduced")
        }
      case "clip_sample":
        let b = try bool(key, v)
        if isDPM { if b { c.ignored.append("\(key) = true: not an option of DPMSolverMultistepScheduler (diffusers ignores it too)") }; continue }
        c.clipSample = b
      case "thresholding": c.thresholding = try bool(key, v)
      case "clip_sample_range":
        c.clipSampleRange = try double(key, v)
        guard c.clipSampleRange > 0 else { throw InvalidInput(key, "must be positive, got \(c.clipSampleRange)") }
      case "dynamic_thresholding_ratio":
        c.dynamicThresholdingRatio = try double(key, v)
        guard (0...1).contains(c.dynamicThresholdingRatio) else { throw InvalidInput(key, "must be in [0, 1], got \(c.dynamicThresholdingRatio)") }
      case "sample_max_value":
        c.sampleMaxValue = try double(key, v)
        guard c.sampleMaxValue > 0 else { throw InvalidInput(key, "must be positive (the threshold divides by it), got \(c.sampleMaxValue)") }
      case "steps_offset":
        c.stepsOffset = try int(key, v)
        guard c.stepsOffset >= 0 else { throw InvalidInput(key, "must be >= 0, got \(c.stepsOffset)") }
      case "timestep_spacing": c.timestepSpacing = try oneOf(key, v, TimestepSpacing.self)
      case "set_alpha_to_one": c.setAlphaToOne = try bool(key, v)
      case "solver_order":
        c.solverOrder = try int(key, v)
        guard (1...3).contains(c.solverOrder) else { throw unsupported(key, v, "diffusers' multistep updates have order 1, 2 or 3") }
      case "algorithm_type":
        let s = try string(key, v)
        c.algorithmType = try s == "deis" ? .dpmSolverPlusPlus : oneOf(key, v, AlgorithmType.self)  // diffusers maps deis to dpmsolver++
      case "solver_type":
        let s = try string(key, v)
        c.solverType = try ["logrho", "bh1", "bh2"].contains(s) ? .midpoint : oneOf(key, v, SolverType.self)  // as diffusers maps them
      case "lower_order_final": c.lowerOrderFinal = try bool(key, v)
      case "euler_at_final": c.eulerAtFinal = try bool(key, v)
      case "final_sigmas_type": c.finalSigmasType = try oneOf(key, v, FinalSigmas.self)
      case "lambda_min_clipped":
        guard case let .number(x, _) = v, !x.isNaN else { throw InvalidInput(key, "expected a number, got \(v)") }
        c.lambdaMinClipped = x
      case "flow_shift", "time_shift_type":
        continue  // flow-matching options, used only with use_flow_sigmas (refused above)
      default:
        c.ignored.append("\(key): unknown option, ignored")
      }
    }
    if isEuler { try c.validateEulerFamily() }
    if c.thresholding { c.notApplied.append("thresholding = true: shapes diffusers' sampling loop, not the model") }
    if c.clipSample && !c.thresholding { c.notApplied.append("clip_sample = true: shapes diffusers' sampling loop, not the model") }
    if c.stepsOffset != 0 { c.notApplied.append("steps_offset = \(c.stepsOffset): the time grid is the testbed's --grid") }
    if json["timestep_spacing"] != nil { c.notApplied.append("timestep_spacing = \(c.timestepSpacing.rawValue): the time grid is the testbed's --grid") }
    if isDPM {
      if c.algorithmType == .sdeDPMSolver && c.solverOrder == 3 {
        c.loopUnsupported.append("algorithm_type = sde-dpmsolver with solver_order = 3: diffusers has no third-order sde-dpmsolver update")
      }
      if c.algorithmType != .dpmSolverPlusPlus && c.algorithmType != .sdeDPMSolverPlusPlus && c.finalSigmasType == .zero {
        throw InvalidInput("final_sigmas_type", "zero is not supported with algorithm_type \(c.algorithmType.rawValue) (diffusers refuses it too): choose sigma_min")
      }
    }
    if let betas = c.trainedBetas {
      guard betas.count == c.trainSteps else {
        throw InvalidInput("trained_betas", "has \(betas.count) entries, num_train_timesteps is \(c.trainSteps)")
      }
    } else if c.betaSchedule != .squaredCosCapV2 {
      guard c.betaStart > 0, c.betaEnd >= c.betaStart, c.betaEnd < 1 else {
        throw InvalidInput("beta_start", "need 0 < beta_start <= beta_end < 1, got \(c.betaStart) and \(c.betaEnd)")
      }
    }
    return c
  }
}
