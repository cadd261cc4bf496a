import DiffusionCore
import Foundation

/// The options of diffusers' Euler-family schedulers (docs/diffusers-loop.md#euler-family-schedulers), each either
/// reproduced by `DiffusersLoop` or refused naming it:
/// - FlowMatchEulerDiscreteScheduler: `shift`, `use_dynamic_shifting` (mu given to set_timesteps: `--mu`),
///   `time_shift_type`, `shift_terminal`, `invert_sigmas`, `use_karras_sigmas`, `use_exponential_sigmas`;
/// - EulerDiscreteScheduler: the betas, `prediction_type`, `timestep_spacing`, `steps_offset`, `interpolation_type`
///   linear, `use_karras_sigmas`, `use_exponential_sigmas`, `sigma_min`, `sigma_max`, `final_sigmas_type`;
/// - EDMEulerScheduler: `sigma_min`, `sigma_max`, `sigma_data`, `rho`, `sigma_schedule`, `prediction_type` epsilon or
///   v_prediction, `final_sigmas_type`.
public struct EulerFamilyOptions: Sendable, Equatable {
  public enum Kind: String, Sendable { case flowMatch = "FlowMatchEulerDiscreteScheduler", eulerDiscrete = "EulerDiscreteScheduler", edm = "EDMEulerScheduler" }
  /// How set_timesteps respaces the sigmas (EDM: `sigma_schedule`, karras by default).
  public enum Spacing: String, Sendable { case plain, karras, exponential }
  public enum TimeShift: String, CaseIterable, Sendable { case exponential, linear }

  public static let classes = [Kind.eulerDiscrete.rawValue, Kind.flowMatch.rawValue, Kind.edm.rawValue]

  public var kind: Kind
  public var spacing: Spacing
  // FlowMatchEulerDiscrete
  public var shift = 1.0
  public var dynamicShifting = false
  public var timeShift: TimeShift = .exponential
  /// nil or 0: off (diffusers tests it for truth).
  public var shiftTerminal: Double? = nil
  public var invertSigmas = false
  /// step draws noise: x' = (1 - sigma') (x - sigma v) + sigma' noise (the noise must be given to the loop).
  public var stochasticSampling = false
  // EulerDiscrete (config overrides of the respaced range, nil: the interpolated sigmas' ends) and EDMEuler
  public var sigmaMin: Double? = nil
  public var sigmaMax: Double? = nil
  public var sigmaData = 0.5
  public var rho = 7.0

  /// diffusers' defaults for `className`, nil for a class outside the family.
  public init?(className: String) {
    guard let kind = Kind(rawValue: className) else { return nil }
    self.kind = kind
    spacing = kind == .edm ? .karras : .plain
    if kind == .edm { (sigmaMin, sigmaMax) = (0.002, 80) }
  }
}

extension SchedulerConfig {
  /// Why the continuous-time methods cannot run on this config's model (nil: they can, on `schedule()`: VP for
  /// EulerDiscrete, flow-matching for FlowMatchEulerDiscrete, edm for EDMEuler).
  public var continuousUnsupported: String? {
    if euler?.kind == .flowMatch, euler?.invertSigmas == true {
      return "invert_sigmas = true runs FlowMatchEulerDiscreteScheduler's loop from sigma 0 towards 1, which no continuous-time schedule here samples"
    }
    return nil
  }

  /// What the network outputs, for logs and JSON: FlowMatch's velocity (eps - x_0), else `prediction_type`.
  public var predictionName: String { euler?.kind == .flowMatch ? "velocity (flow matching)" : predictionType.rawValue }

  /// Reads one Euler-family key into `euler` (true), or leaves it to the common reader (false). Errors name the key.
  mutating func parseEulerKey(_ key: String, _ v: JSONValue) throws -> Bool {
    guard var e = euler else { return false }
    defer { euler = e }
    func bool() throws -> Bool {
      if case let .bool(b) = v { return b }
      throw InvalidInput(key, "expected true or false, got \(v)")
    }
    func double() throws -> Double {
      if case let .number(x, _) = v, x.isFinite { return x }
      throw InvalidInput(key, "expected a finite number, got \(v)")
    }
    func optionalDouble() throws -> Double? { v == .null ? nil : try double() }
    func string() throws -> String {
      if case let .string(s) = v { return s }
      throw InvalidInput(key, "expected a string, got \(v)")
    }
    func refuse(_ why: String) -> InvalidInput { InvalidInput(key, "unsupported value \(v): \(why)") }
    /// use_karras_sigmas / use_exponential_sigmas / use_beta_sigmas (FlowMatch, EulerDiscrete).
    func respacing(_ spacing: EulerFamilyOptions.Spacing?) throws {
      guard try bool() else { return }
      guard let spacing else { throw refuse("scipy's beta quantiles (use_beta_sigmas) are not reproduced") }
      if e.spacing != .plain { throw InvalidInput(key, "only one of use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas can be true (diffusers refuses it too)") }
      e.spacing = spacing
      notApplied.append("\(key) = true: shapes diffusers' sampling loop, not the model")
    }
    switch (e.kind, key) {
    case (.flowMatch, "shift"): e.shift = try double()
    case (.flowMatch, "use_dynamic_shifting"): e.dynamicShifting = try bool()
    case (.flowMatch, "time_shift_type"):
      guard let t = EulerFamilyOptions.TimeShift(rawValue: try string()) else { throw refuse("expected exponential or linear") }
      e.timeShift = t
    case (.flowMatch, "shift_terminal"): e.shiftTerminal = try optionalDouble()
    case (.flowMatch, "invert_sigmas"): e.invertSigmas = try bool()
    case (.flowMatch, "stochastic_sampling"): e.stochasticSampling = try bool()
    case (.flowMatch, "base_shift"), (.flowMatch, "max_shift"), (.flowMatch, "base_image_seq_len"), (.flowMatch, "max_image_seq_len"):
      break  // a pipeline's recipe for mu: the scheduler does not read them (noted with use_dynamic_shifting)
    case (.flowMatch, "prediction_type"), (.flowMatch, "beta_start"), (.flowMatch, "beta_end"), (.flowMatch, "beta_schedule"),
         (.flowMatch, "trained_betas"), (.edm, "beta_start"), (.edm, "beta_end"), (.edm, "beta_schedule"), (.edm, "trained_betas"):
      ignored.append("\(key): not an option of \(className) (diffusers ignores it too)")
    case (.eulerDiscrete, "rescale_betas_zero_snr"):
      if try bool() { throw refuse("EulerDiscreteScheduler's zero-terminal-SNR betas (and its last alphas_cumprod set to 2^-24) are not reproduced") }
    case (.flowMatch, "use_karras_sigmas"), (.eulerDiscrete, "use_karras_sigmas"): try respacing(.karras)
    case (.flowMatch, "use_exponential_sigmas"), (.eulerDiscrete, "use_exponential_sigmas"): try respacing(.exponential)
    case (.flowMatch, "use_beta_sigmas"), (.eulerDiscrete, "use_beta_sigmas"): try respacing(nil)
    case (.eulerDiscrete, "interpolation_type"):
      let s = try string()
      if s != "linear" { throw refuse(s == "log_linear" ? "its torch float32 linspace and exp are not reproduced (linear is)" : "expected linear or log_linear") }
    case (.eulerDiscrete, "timestep_type"):
      let s = try string()
      guard s == "discrete" || s == "continuous" else { throw refuse("expected discrete or continuous") }
      if s == "continuous" && predictionType == .vPrediction {
        throw refuse("with v_prediction the network time becomes 0.25 log(sigma) in torch's float32, which is not reproduced")
      }
    case (.eulerDiscrete, "sigma_min"), (.edm, "sigma_min"):
      e.sigmaMin = try optionalDouble()
      if e.kind == .edm && e.sigmaMin == nil { throw InvalidInput(key, "EDMEulerScheduler needs a number") }
    case (.eulerDiscrete, "sigma_max"), (.edm, "sigma_max"):
      e.sigmaMax = try optionalDouble()
      if e.kind == .edm && e.sigmaMax == nil { throw InvalidInput(key, "EDMEulerScheduler needs a number") }
    case (.edm, "sigma_data"): e.sigmaData = try double()
    case (.edm, "rho"): e.rho = try double()
    case (.edm, "sigma_schedule"):
      switch try string() {
      case "karras": e.spacing = .karras
      case "exponential": e.spacing = .exponential
      default: throw refuse("expected karras or exponential")
      }
    case (.edm, "prediction_type"):
      let s = try string()
      guard s == "epsilon" || s == "v_prediction", let p = PredictionType(rawValue: s) else { throw refuse("EDMEulerScheduler takes epsilon or v_prediction") }
      predictionType = p
    default: return false  // num_train_timesteps, betas, prediction_type (EulerDiscrete), spacing, offset, final_sigmas_type
    }
    return true
  }

  /// Fields that contradict each other, refused before any work (the field named).
  mutating func validateEulerFamily() throws {
    guard let e = euler else { return }
    switch e.kind {
    case .flowMatch:
      guard e.shift > 0 else { throw InvalidInput("shift", "must be positive (sigma' = shift sigma / (1 + (shift - 1) sigma)), got \(e.shift)") }
      if let t = e.shiftTerminal, t != 0, !(t > 0 && t < 1) {
        throw InvalidInput("shift_terminal", "must be in (0, 1) (the last sigma is stretched to it), got \(t)")
      }
      if e.dynamicShifting {
        ignored.append("base_shift, max_shift, base_image_seq_len, max_image_seq_len: a pipeline's recipe for mu, not read by the scheduler (--mu gives mu)")
      }
      if e.dynamicShifting && e.shift != 1 {
        notApplied.append("shift = \(e.shift): use_dynamic_shifting = true replaces it with mu (diffusers ignores it too)")
      }
    case .eulerDiscrete:
      if let lo = e.sigmaMin, lo <= 0 { throw InvalidInput("sigma_min", "must be positive, got \(lo)") }
      if let lo = e.sigmaMin, let hi = e.sigmaMax, lo >= hi { throw InvalidInput("sigma_min", "must be below sigma_max, got \(lo) >= \(hi)") }
      if (e.sigmaMin != nil || e.sigmaMax != nil) && e.spacing == .plain {
        ignored.append("sigma_min, sigma_max: used only with use_karras_sigmas or use_exponential_sigmas (diffusers ignores them too)")
      }
    case .edm:
      let lo = e.sigmaMin ?? 0, hi = e.sigmaMax ?? 0
      guard lo > 0 else { throw InvalidInput("sigma_min", "must be positive, got \(lo)") }
      guard lo < hi else { throw InvalidInput("sigma_min", "must be below sigma_max, got \(lo) >= \(hi)") }
      guard e.sigmaData > 0 else { throw InvalidInput("sigma_data", "must be positive, got \(e.sigmaData)") }
      guard e.rho > 0 else { throw InvalidInput("rho", "must be positive, got \(e.rho)") }
    }
  }
}
