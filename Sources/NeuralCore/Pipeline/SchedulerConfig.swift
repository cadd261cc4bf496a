import DiffusionCore
import Foundation

/// The part of a diffusers scheduler config (`scheduler_config.json` of a DDPMScheduler, DDIMScheduler or
/// DPMSolverMultistepScheduler) that defines the model: the training noise schedule and the prediction type.
/// Options that only shape diffusers' own sampling loop are collected in `notApplied` (the testbed's samplers and
/// `--grid` replace that loop); options that change what the model means are errors naming the option.
public struct SchedulerConfig: Sendable, Equatable {
  public enum BetaSchedule: String, CaseIterable, Sendable {
    case linear
    case scaledLinear = "scaled_linear"
    case squaredCosCapV2 = "squaredcos_cap_v2"
  }

  public static let supportedClasses = ["DDPMScheduler", "DDIMScheduler", "DPMSolverMultistepScheduler"]

  public var className = "DDPMScheduler"
  public var trainSteps = 1000
  public var betaStart = 0.0001
  public var betaEnd = 0.02
  public var betaSchedule: BetaSchedule = .linear
  public var trainedBetas: [Double]? = nil
  public var predictionType: PredictionType = .epsilon
  /// "option = value: why it is not applied" for each sampling-loop option this testbed does not reproduce.
  public var notApplied: [String] = []

  public init() {}

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

  /// The continuous-time VP schedule over these training steps (docs/math.md#discrete-schedule).
  public func schedule() throws -> NoiseSchedule {
    try NoiseSchedule.discrete(alphasCumprod: alphasCumprod(), name: "\(className)/\(trainedBetas == nil ? betaSchedule.rawValue : "trained_betas")")
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
        throw InvalidInput("_class_name", "unsupported scheduler '\(c.className)' (supported: \(supportedClasses.joined(separator: ", ")))")
      }
    }
    for key in json.keys.sorted() {
      let v = json[key]!  // invariant: key comes from json.keys
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
      case "use_flow_sigmas", "use_dynamic_shifting":
        if try bool(key, v) { throw unsupported(key, v, "flow-matching sigmas are not a VP schedule") }
      case "clip_sample", "thresholding", "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "use_lu_lambdas":
        if try bool(key, v) { c.notApplied.append("\(key) = true: shapes diffusers' sampling loop, not the model") }
      case "steps_offset":
        if try int(key, v) != 0 { c.notApplied.append("\(key) = \(v): the time grid is the testbed's --grid") }
      case "timestep_spacing":
        c.notApplied.append("\(key) = \(v): the time grid is the testbed's --grid")
      case "set_alpha_to_one", "clip_sample_range", "sample_max_value", "dynamic_thresholding_ratio", "solver_order",
           "algorithm_type", "solver_type", "lower_order_final", "euler_at_final", "final_sigmas_type", "lambda_min_clipped",
           "flow_shift", "time_shift_type":
        continue  // diffusers' sampling loop only; nothing to apply (clipping and thresholding are reported above)
      default:
        c.notApplied.append("\(key): unknown option, ignored")
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
