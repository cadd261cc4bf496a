import DiffusionCore
import Foundation

/// diffusers' Euler-family loops (docs/diffusers-loop.md#euler-family-schedulers) in the common step form: from the
/// sigmas of `set_timesteps` (`EulerSigmas`), step i from sigma to sigma' = sigmas[i + 1] with dt = sigma' - sigma:
/// - FlowMatchEulerDiscrete: x' = x + dt v, v the network's output at sigma T (m = v, A = 1, w = dt);
/// - EulerDiscrete: the network sees x / sqrt(sigma^2 + 1) at the (fractional) timestep; the denoised
///   X = x - sigma o (epsilon), o (sample), x / (sigma^2 + 1) - sigma o / sqrt(sigma^2 + 1) (v_prediction);
/// - EDMEuler: the network sees c_in x at 0.25 log sigma, X = c_skip x + c_out o with c_in = 1 / sqrt(sigma^2 +
///   sigma_d^2), c_skip = sigma_d^2 / (sigma^2 + sigma_d^2), c_out = (+/-) sigma sigma_d / sqrt(sigma^2 + sigma_d^2);
/// and for both x' = x + dt (x - X) / sigma, i.e. A = 1 + dt / sigma and w = -dt / sigma on m = X.
extension DiffusersLoop {
  init(config: SchedulerConfig, timesteps: [Int], steps: [DiffusersStep], clamp: DenoisedClamp, sigmas: [Double], networkTimes: [Double],
       initNoiseSigma: Double) {
    self.config = config
    self.timesteps = timesteps
    self.steps = steps
    self.clamp = clamp
    self.sigmas = sigmas
    self.networkTimes = networkTimes
    self.initNoiseSigma = initNoiseSigma
  }

  static func euler(config: SchedulerConfig, steps n: Int, mu: Double?, option: String) throws -> DiffusersLoop {
    let e = config.euler!  // invariant: called for Euler-family configs only
    let table = try config.eulerSigmas(steps: n, mu: mu, option: option)
    let s = table.sigmas
    let steps = (0..<n).map { i -> DiffusersStep in
      let sigma = s[i], dt = s[i + 1] - sigma, tau = table.networkTimes[i]
      switch e.kind {
      case .flowMatch where e.stochasticSampling:
        // x0 = x - sigma v; x' = (1 - sigma') x0 + sigma' noise
        return DiffusersStep(timestep: i, cx: 1, co: -sigma, ex: 0, eo: 0, aD: 1, aE: 0, aX: 0, A: 0, w: [1 - s[i + 1]], networkTime: tau,
                             noise: s[i + 1])
      case .flowMatch:
        return DiffusersStep(timestep: i, cx: 0, co: 0, ex: 0, eo: 1, aD: 0, aE: 1, aX: 0, A: 1, w: [dt], networkTime: tau)
      case .eulerDiscrete:
        let c: (cx: Double, co: Double)
        switch config.predictionType {
        case .epsilon: c = (1, -sigma)
        case .sample: c = (0, 1)
        case .vPrediction: c = (1 / (sigma * sigma + 1), -sigma / (sigma * sigma + 1).squareRoot())
        }
        return DiffusersStep(timestep: i, cx: c.cx, co: c.co, ex: 0, eo: 0, aD: 1, aE: 0, aX: 0, A: 1 + dt / sigma, w: [-dt / sigma],
                             networkTime: tau, inputScale: 1 / (sigma * sigma + 1).squareRoot())
      case .edm:
        let d2 = e.sigmaData * e.sigmaData, r = (sigma * sigma + d2).squareRoot()
        let cOut = (config.predictionType == .vPrediction ? -1 : 1) * sigma * e.sigmaData / r
        return DiffusersStep(timestep: i, cx: d2 / (sigma * sigma + d2), co: cOut, ex: 0, eo: 0, aD: 1, aE: 0, aX: 0, A: 1 + dt / sigma,
                             w: [-dt / sigma], networkTime: tau, inputScale: 1 / r)
      }
    }
    return DiffusersLoop(config: config, timesteps: [], steps: steps, clamp: .none, sigmas: s, networkTimes: table.networkTimes,
                         initNoiseSigma: table.initNoiseSigma)
  }

  /// Class, spacing, prediction and the network times, for logs and JSON.
  var eulerLabel: String {
    let e = config.euler!  // invariant: called for Euler-family configs only
    var parts = [config.className]
    switch e.kind {
    case .flowMatch:
      parts.append(e.dynamicShifting ? "dynamic-\(e.timeShift.rawValue)" : "shift-\(e.shift)")
      if let t = e.shiftTerminal, t != 0 { parts.append("terminal-\(t)") }
      if e.invertSigmas { parts.append("inverted") }
      if e.stochasticSampling { parts.append("stochastic") }
    case .eulerDiscrete: parts += [config.timestepSpacing.rawValue, config.predictionType.rawValue]
    case .edm: parts += [config.predictionType.rawValue]
    }
    if e.spacing != .plain { parts.append(e.spacing.rawValue) }
    let t = networkTimes
    return parts.joined(separator: "/") + " network times \(t.first!)...\(t.last!) (\(t.count))"  // invariant: non-empty
  }
}
