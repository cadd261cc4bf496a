import DiffusionCore
import Foundation

/// One network call of diffusers' loop and the update after it, in the form every supported scheduler shares
/// (docs/diffusers-loop.md#one-form-for-all-three-schedulers): with `o` the network's raw output at `timestep` on the state x,
/// - `X = cx x + co o` (the x_0 prediction) and `E = ex x + eo o` (the eps prediction),
/// - the step's model output `m = aD clamp(X) + aE E + aX x`,
/// - `x_next = A x + sum_j w[j] m_{i-j}` (j < w.count: a multistep rule's history, newest first).
/// The Euler family (DiffusersLoop+Euler.swift) calls the network on `inputScale x` at `networkTime` (diffusers'
/// scale_model_input and the timestep it passes); `timestep` is then the step's index.
public struct DiffusersStep: Sendable, Equatable {
  public let timestep: Int
  public let cx, co, ex, eo: Double
  public let aD, aE, aX: Double
  public let A: Double
  public let w: [Double]
  /// The network's time input as diffusers passes it (nil: the integer `timestep`, through `DiffusersLoop.time`).
  public var networkTime: Double? = nil
  /// The factor on x of the network's input.
  public var inputScale: Double = 1
  /// The scale of the step's added noise (`x_next += noise xi_i`; docs/diffusers-loop.md#stochastic-steps): 0 for
  /// the deterministic steps (DDPM's variance, the sde- algorithms, FlowMatch's stochastic_sampling).
  public var noise: Double = 0
}

/// diffusers' sampling loop (`scheduler.set_timesteps(N)`, then `scheduler.step(model(x, t), t, x)` for each t),
/// reproduced for DDIMScheduler (eta = 0), DDPMScheduler (its variance-0 path: the posterior mean, the step with its
/// added noise zero) and DPMSolverMultistepScheduler (dpmsolver++ and dpmsolver, orders 1-3, midpoint or heun,
/// lower_order_final, euler_at_final, final_sigmas_type), with clip_sample / thresholding and the three prediction
/// types, in float64 (docs/diffusers-loop.md). Its output is diffusers' final sample, and `gradient` is its exact
/// reverse-mode derivative.
///
/// The network `M` must return its raw output (eps, x_0 or v as `prediction_type` says) and is called at
/// `t = (k + 1) / T` for training step k (`UNetNoisePredictor`'s time convention), once per timestep. The Euler family
/// (FlowMatchEulerDiscrete, EulerDiscrete, EDMEuler; DiffusersLoop+Euler.swift) calls it on the scaled input at
/// diffusers' own time input (`NetworkTimeInput`), and starts from `initNoiseSigma` x_T.
/// Cost: N network calls to sample; `gradient` adds N VJPs. Memory: the gradient keeps N states and N x_0 predictions.
public struct DiffusersLoop: Sendable {
  public let config: SchedulerConfig
  public let timesteps: [Int]
  public let steps: [DiffusersStep]
  public let clamp: DenoisedClamp
  /// DPMSolverMultistep's sigmas = sqrt((1 - abar) / abar) in float32 at each timestep, then the final one (0 or
  /// sigma_min); empty for DDIM and DDPM.
  public let sigmas: [Double]
  /// What the network receives at each step: the integer timesteps, or the Euler family's (fractional) times.
  public let networkTimes: [Double]
  /// The factor on x_T of the loop's first state (diffusers' `init_noise_sigma`; 1 except for EulerDiscrete and
  /// EDMEuler): x_T is the standard normal noise, as the pipelines draw it.
  public let initNoiseSigma: Double
  /// The standard-normal draws xi_i of the stochastic steps, one B x d array per step (what diffusers draws with its
  /// generator, given instead); empty: every xi_i = 0, the loop's mean path (`withNoise`).
  public private(set) var noise: [[Double]] = []
  /// Whether a step adds noise (DDPMScheduler for timesteps > 0, the sde- algorithms, FlowMatch's stochastic_sampling).
  public var isStochastic: Bool { steps.contains { $0.noise != 0 } }

  /// The loop of `config` with `set_timesteps(n)`; errors name `option` (the step count) or the config option
  /// diffusers' loop needs and this reproduction does not have.
  /// `mu`: FlowMatchEulerDiscrete's `set_timesteps(mu=)` with use_dynamic_shifting (an error elsewhere).
  public init(config: SchedulerConfig, steps n: Int, mu: Double? = nil, option: String = "sampler-steps") throws {
    try Self.checkReproducible(config)
    if config.euler != nil {
      self = try Self.euler(config: config, steps: n, mu: mu, option: option)
      return
    }
    if mu != nil { throw InvalidInput("mu", "goes with a FlowMatchEulerDiscreteScheduler with use_dynamic_shifting = true") }
    try self.init(config: config, resolved: try config.timesteps(steps: n, option: option), inferenceSteps: n)
  }

  /// The loop of `config` with `set_timesteps(timesteps: custom)` (DDPMScheduler and DPMSolverMultistepScheduler;
  /// DDIMScheduler has no custom timesteps): strictly decreasing training steps in 0..<T; errors name `option`.
  public init(config: SchedulerConfig, timesteps custom: [Int], option: String = "timesteps") throws {
    try Self.checkReproducible(config)
    if config.euler != nil { throw InvalidInput(option, "custom timesteps are not reproduced for \(config.className): give --sampler-steps") }
    guard config.className != "DDIMScheduler" else { throw InvalidInput(option, "DDIMScheduler.set_timesteps takes no custom timesteps (DDPMScheduler and DPMSolverMultistepScheduler do)") }
    guard !custom.isEmpty else { throw InvalidInput(option, "give at least one timestep") }
    if let bad = custom.first(where: { !(0..<config.trainSteps).contains($0) }) {
      throw InvalidInput(option, "timestep \(bad) is outside 0..<\(config.trainSteps) (num_train_timesteps)")
    }
    for i in 1..<custom.count where custom[i] >= custom[i - 1] {
      throw InvalidInput(option, "must decrease strictly: \(custom[i]) follows \(custom[i - 1])")
    }
    try self.init(config: config, resolved: custom, inferenceSteps: custom.count)
  }

  static func checkReproducible(_ config: SchedulerConfig) throws {
    if let why = config.loopUnsupported.first {
      throw InvalidInput("scheduler config", "\(why) by the diffusers loop (use --pipeline-sampler continuous, or a scheduler config without it)")
    }
  }

  private init(config: SchedulerConfig, resolved: [Int], inferenceSteps n: Int) throws {
    self.config = config
    timesteps = resolved
    networkTimes = resolved.map(Double.init)
    initNoiseSigma = 1
    let abar = config.alphasCumprod()
    let prediction = config.predictionType
    switch config.className {
    case "DDIMScheduler":
      sigmas = []
      let ratio = config.trainSteps / n
      steps = timesteps.map { k in
        let a = abar[k], prev = k - ratio
        let aPrev = prev >= 0 ? abar[prev] : (config.setAlphaToOne ? 1 : abar[0])
        let c = Self.conversion(prediction, alpha: a.squareRoot(), sigma: (1 - a).squareRoot())
        // prev_sample = sqrt(abar_prev) x0 + sqrt(1 - abar_prev) eps (eta = 0)
        return DiffusersStep(timestep: k, cx: c.cx, co: c.co, ex: c.ex, eo: c.eo, aD: aPrev.squareRoot(), aE: (1 - aPrev).squareRoot(), aX: 0, A: 0, w: [1])
      }
      clamp = config.thresholding ? .threshold(ratio: config.dynamicThresholdingRatio, maxValue: config.sampleMaxValue)
        : config.clipSample ? .clip(range: config.clipSampleRange) : .none
    case "DDPMScheduler":
      sigmas = []
      let ts = timesteps
      steps = ts.indices.map { i in
        let k = ts[i], a = abar[k]
        let aPrev = i + 1 < ts.count ? abar[ts[i + 1]] : 1
        let b = 1 - a, bPrev = 1 - aPrev, currentAlpha = a / aPrev, currentBeta = 1 - currentAlpha
        let c = Self.conversion(prediction, alpha: a.squareRoot(), sigma: b.squareRoot())
        // the posterior mean (DDPM eq. 7): (sqrt(abar_prev) beta_t / (1 - abar_t)) x0 + (sqrt(alpha_t) (1 - abar_prev) / (1 - abar_t)) x
        // + the ancestral noise for timesteps > 0: sqrt(variance) (fixed_small: max(b_prev/b beta, 1e-20), as
        // diffusers clamps it; fixed_small_log its exp(log(.)/2); fixed_large: beta)
        let variance = max(bPrev / b * currentBeta, 1e-20)
        let scale: Double
        switch config.varianceType {
        case .fixedSmall: scale = variance.squareRoot()
        case .fixedSmallLog: scale = exp(0.5 * log(variance))
        case .fixedLarge: scale = currentBeta.squareRoot()
        case .fixedLargeLog: scale = .nan  // refused by checkReproducible (diffusers computes sqrt(log beta))
        }
        return DiffusersStep(timestep: k, cx: c.cx, co: c.co, ex: 0, eo: 0, aD: 1, aE: 0, aX: 0,
                             A: currentAlpha.squareRoot() * bPrev / b, w: [(aPrev.squareRoot() * currentBeta) / b], noise: k > 0 ? scale : 0)
      }
      clamp = config.thresholding ? .threshold(ratio: config.dynamicThresholdingRatio, maxValue: config.sampleMaxValue)
        : config.clipSample ? .clip(range: config.clipSampleRange) : .none
    case "DPMSolverMultistepScheduler":
      let sigmaOf = { (a: Double) -> Double in Double(((1 - Float(a)) / Float(a)).squareRoot()) }  // float32, as diffusers
      sigmas = timesteps.map { sigmaOf(abar[$0]) } + [config.finalSigmasType == .zero ? 0 : sigmaOf(abar[0])]
      let plusPlus = config.algorithmType == .dpmSolverPlusPlus || config.algorithmType == .sdeDPMSolverPlusPlus
      clamp = config.thresholding ? .threshold(ratio: config.dynamicThresholdingRatio, maxValue: config.sampleMaxValue) : .none
      steps = Self.multistep(config: config, timesteps: timesteps, sigmas: sigmas, plusPlus: plusPlus)
    default:
      throw InvalidInput("_class_name", "unsupported scheduler '\(config.className)' (supported: \(SchedulerConfig.supportedClasses.joined(separator: ", ")))")
    }
  }

  /// The network time of training step k: `UNetNoisePredictor` maps t to `T t - 1`.
  public func time(_ k: Int) -> Double { Double(k + 1) / Double(config.trainSteps) }

  /// What the loop is, for logs and JSON: class, spacing, prediction, clamp and the first and last timesteps.
  public var label: String {
    if config.euler != nil { return eulerLabel }
    var parts = [config.className, config.timestepSpacing.rawValue, config.predictionType.rawValue]
    if config.className == "DPMSolverMultistepScheduler" {
      parts += ["\(config.algorithmType.rawValue)-\(config.solverOrder)", "final-\(config.finalSigmasType.rawValue)"]
    }
    switch clamp {
    case .none: break
    case let .clip(r): parts.append("clip-\(r)")
    case let .threshold(ratio, maxValue): parts.append("threshold-\(ratio)-\(maxValue)")
    }
    return parts.joined(separator: "/") + " timesteps \(timesteps.first!)...\(timesteps.last!) (\(timesteps.count))"  // invariant: non-empty
  }

  /// (X, E) coefficients of diffusers' prediction conversion at (alpha, sigma) = (sqrt(abar), sqrt(1 - abar)):
  /// epsilon: X = (x - sigma o)/alpha, E = o; sample: X = o, E = (x - alpha o)/sigma; v: X = alpha x - sigma o,
  /// E = alpha o + sigma x (docs/diffusers-loop.md#prediction-types).
  static func conversion(_ p: PredictionType, alpha: Double, sigma: Double) -> (cx: Double, co: Double, ex: Double, eo: Double) {
    switch p {
    case .epsilon: return (1 / alpha, -sigma / alpha, 0, 1)
    case .sample: return (0, 1, 1 / sigma, -alpha / sigma)
    case .vPrediction: return (alpha, -sigma, sigma, alpha)
    }
  }

  /// DPMSolverMultistep's steps (docs/diffusers-loop.md#dpmsolvermultistepscheduler): the order each step uses, the
  /// conversion to x_0 (dpmsolver++) or eps (dpmsolver), and the multistep update as weights on the model outputs.
  static func multistep(config: SchedulerConfig, timesteps: [Int], sigmas: [Double], plusPlus: Bool) -> [DiffusersStep] {
    let n = timesteps.count
    func alphaSigma(_ s: Double) -> (alpha: Double, sigma: Double) {
      let alpha = 1 / (s * s + 1).squareRoot()
      return (alpha, s * alpha)
    }
    func lambda(_ s: Double) -> Double {
      let (a, sg) = alphaSigma(s)
      return log(a) - log(sg)
    }
    return (0..<n).map { i in
      let lowerOrderFinal = i == n - 1 && (config.eulerAtFinal || (config.lowerOrderFinal && n < 15) || config.finalSigmasType == .zero)
      let lowerOrderSecond = i == n - 2 && config.lowerOrderFinal && n < 15
      let done = min(i, config.solverOrder)  // diffusers' lower_order_nums
      let order = config.solverOrder == 1 || done < 1 || lowerOrderFinal ? 1 : (config.solverOrder == 2 || done < 2 || lowerOrderSecond ? 2 : 3)
      let (alphaS, sigmaS) = alphaSigma(sigmas[i]), (alphaT, sigmaT) = alphaSigma(sigmas[i + 1])
      let h = lambda(sigmas[i + 1]) - lambda(sigmas[i])
      // the update's coefficients on x and on D0, D1, D2 (diffusers' divided differences of the model outputs)
      let a: Double, c: [Double]
      var noise = 0.0
      if config.algorithmType == .sdeDPMSolverPlusPlus {
        // x_t = (sigma_t/sigma_s) e^{-h} x + alpha_t (1 - e^{-2h}) D0 + ... + sigma_t sqrt(1 - e^{-2h}) xi
        a = sigmaT / sigmaS * exp(-h)
        let e = -expm1(-2 * h)
        switch order {
        case 1: c = [alphaT * e]
        case 2: c = [alphaT * e, config.solverType == .midpoint ? 0.5 * alphaT * e : alphaT * (e / (-2 * h) + 1)]
        default: c = [alphaT * e, alphaT * (e / (-2 * h) + 1), alphaT * ((e - 2 * h) / (4 * h * h) - 0.5)]
        }
        noise = sigmaT * e.squareRoot()
      } else if config.algorithmType == .sdeDPMSolver {
        // x_t = (alpha_t/alpha_s) x - 2 sigma_t (e^h - 1) D0 - ... + sigma_t sqrt(e^{2h} - 1) xi  (orders 1, 2)
        a = alphaT / alphaS
        let psi = expm1(h)
        c = order == 1 ? [-2 * sigmaT * psi]
          : [-2 * sigmaT * psi, config.solverType == .midpoint ? -sigmaT * psi : -2 * sigmaT * (psi / h - 1)]
        noise = sigmaT * expm1(2 * h).squareRoot()
      } else if plusPlus {
        a = sigmaT / sigmaS
        let phi = exp(-h) - 1
        switch order {
        case 1: c = [-alphaT * phi]
        case 2: c = [-alphaT * phi, config.solverType == .midpoint ? -0.5 * alphaT * phi : alphaT * (phi / h + 1)]
        default: c = [-alphaT * phi, alphaT * (phi / h + 1), -alphaT * ((exp(-h) - 1 + h) / (h * h) - 0.5)]
        }
      } else {
        a = alphaT / alphaS
        let psi = exp(h) - 1
        switch order {
        case 1: c = [-sigmaT * psi]
        case 2: c = [-sigmaT * psi, config.solverType == .midpoint ? -0.5 * sigmaT * psi : -sigmaT * (psi / h - 1)]
        default: c = [-sigmaT * psi, -sigmaT * (psi / h - 1), -sigmaT * ((exp(h) - 1 - h) / (h * h) - 0.5)]
        }
      }
      let w: [Double]
      switch order {
      case 1: w = c
      case 2:
        // D0 = m0, D1 = (m0 - m1) / r0
        let r0 = (lambda(sigmas[i]) - lambda(sigmas[i - 1])) / h
        w = [c[0] + c[1] / r0, -c[1] / r0]
      default:
        // D1_0 = (m0 - m1)/r0, D1_1 = (m1 - m2)/r1, D1 = D1_0 + r0/(r0 + r1) (D1_0 - D1_1), D2 = (D1_0 - D1_1)/(r0 + r1)
        let r0 = (lambda(sigmas[i]) - lambda(sigmas[i - 1])) / h, r1 = (lambda(sigmas[i - 1]) - lambda(sigmas[i - 2])) / h
        let k = r0 / (r0 + r1), q = 1 / (r0 + r1)
        let u = c[1] * (1 + k) + c[2] * q, v = -(c[1] * k + c[2] * q)  // on D1_0 and D1_1
        w = [c[0] + u / r0, -u / r0 + v / r1, -v / r1]
      }
      let conv = conversion(config.predictionType, alpha: alphaS, sigma: sigmaS)
      let k = timesteps[i]
      if plusPlus {  // m = x_0 prediction (thresholded)
        return DiffusersStep(timestep: k, cx: conv.cx, co: conv.co, ex: 0, eo: 0, aD: 1, aE: 0, aX: 0, A: a, w: w, noise: noise)
      }
      if config.thresholding {  // X = (x - sigma E)/alpha, thresholded, back to m = (x - alpha D)/sigma
        return DiffusersStep(timestep: k, cx: (1 - sigmaS * conv.ex) / alphaS, co: -sigmaS * conv.eo / alphaS, ex: 0, eo: 0,
                             aD: -alphaS / sigmaS, aE: 0, aX: 1 / sigmaS, A: a, w: w, noise: noise)
      }
      return DiffusersStep(timestep: k, cx: 0, co: 0, ex: conv.ex, eo: conv.eo, aD: 0, aE: 1, aX: 0, A: a, w: w, noise: noise)
    }
  }

  // MARK: - sampling

  /// The x_0 prediction X (before the clamp) and the model output m of step `step` at x with network output o.
  func output(_ step: DiffusersStep, x: [Double], o: [Double], batch: Int) -> (X: [Double], m: [Double]) {
    let count = x.count
    var X = [Double](repeating: 0, count: step.aD != 0 ? count : 0)
    if step.aD != 0 { for i in 0..<count { X[i] = step.cx * x[i] + step.co * o[i] } }
    let D = step.aD != 0 ? clamp.apply(X, batch: batch) : []
    var m = [Double](repeating: 0, count: count)
    for i in 0..<count {
      var value = step.aX * x[i]
      if step.aD != 0 { value += step.aD * D[i] }
      if step.aE != 0 { value += step.aE * (step.ex * x[i] + step.eo * o[i]) }
      m[i] = value
    }
    return (X, m)
  }

  /// x_next = A x + sum_j w[j] m_{i-j} (history newest first) + the noise of step `index` (docs/diffusers-loop.md#stochastic-steps).
  func advance(_ x: [Double], _ step: DiffusersStep, history: [[Double]], index: Int) -> [Double] {
    var next = x.map { step.A * $0 }
    for (j, wj) in step.w.enumerated() { for i in next.indices { next[i] += wj * history[j][i] } }
    if step.noise != 0 && !noise.isEmpty { for i in next.indices { next[i] += step.noise * noise[index][i] } }
    return next
  }

  /// The same loop with the draws `xi` of its stochastic steps given: one B x d array of standard-normal draws per
  /// step (entries of deterministic steps are not used). Errors name `option`.
  public func withNoise(_ xi: [[Double]], option: String = "noise") throws -> DiffusersLoop {
    guard isStochastic else {
      throw InvalidInput(option, "the \(config.className) loop\(config.className == "DPMSolverMultistepScheduler" ? " (\(config.algorithmType.rawValue))" : "") adds no noise: nothing to give")
    }
    guard xi.count == steps.count else { throw InvalidInput(option, "expected one draw per step (\(steps.count)), got \(xi.count)") }
    if let bad = xi.firstIndex(where: { $0.count != xi[0].count }) { throw InvalidInput(option, "draw \(bad) has \(xi[bad].count) numbers, draw 0 \(xi[0].count)") }
    for (i, row) in xi.enumerated() { try Check.finite(row, "\(option)[\(i)]") }
    var copy = self
    copy.noise = xi
    return copy
  }

  /// diffusers' final sample from x_T (B images of d numbers, z: B x m). N network calls.
  public func sample<M: NoisePredictor>(model: M, xT: [Double], z: [Double], batch: Int) throws -> [Double] {
    try validate(model: model, xT: xT, z: z, batch: batch)
    var x = initNoiseSigma == 1 ? xT : xT.map { initNoiseSigma * $0 }, history: [[Double]] = []
    for (index, step) in steps.enumerated() {
      let o = try network(model, x, z: z, step: step, batch: batch)
      history.insert(output(step, x: x, o: o, batch: batch).m, at: 0)
      if history.count > 3 { history.removeLast() }
      x = advance(x, step, history: history, index: index)
    }
    return x
  }

  func validate<M: NoisePredictor>(model: M, xT: [Double], z: [Double], batch: Int) throws {
    try Check.positive(batch, "batch")
    try Check.count(xT, batch * model.dataDimension, "x_T")
    try Check.finite(xT, "x_T")
    try Check.count(z, batch * model.conditionDimension, "z")
    try Check.finite(z, "z")
    if let row = noise.first, row.count != xT.count {
      throw InvalidInput("noise", "each draw has \(row.count) numbers, x_T \(xT.count) (B x d)")
    }
  }
}
