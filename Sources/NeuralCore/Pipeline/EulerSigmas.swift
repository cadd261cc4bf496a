import DiffusionCore
import Foundation

/// What `set_timesteps(N)` of an Euler-family scheduler produces (docs/diffusers-loop.md#euler-family-schedulers):
/// the N + 1 sigmas (float32 values, the last the final one), what the network receives at each of the N steps, and
/// `init_noise_sigma`, the factor the pipeline puts on the standard normal noise to start the loop.
public struct EulerSigmas: Sendable, Equatable {
  public var sigmas: [Double]
  public var networkTimes: [Double]
  public var initNoiseSigma: Double
}

extension SchedulerConfig {
  /// diffusers' `set_timesteps(n)` (with `mu` for FlowMatch's dynamic shifting) for an Euler-family config, with its
  /// own float32 and float64 arithmetic. Errors name `option` (the step count) or `mu`.
  public func eulerSigmas(steps n: Int, mu: Double?, option: String = "sampler-steps") throws -> EulerSigmas {
    guard let e = euler else { throw InvalidInput("_class_name", "\(className) is not an Euler-family scheduler") }
    guard n >= 1 else { throw InvalidInput(option, "must be at least 1, got \(n)") }
    guard n <= 100_000 else { throw InvalidInput(option, "must be at most 100000, got \(n)") }
    if e.kind == .flowMatch && e.dynamicShifting {
      guard let mu else { throw InvalidInput("mu", "missing: use_dynamic_shifting = true: diffusers' set_timesteps(mu=...) needs it (the pipeline's shift for the image size)") }
      guard mu.isFinite else { throw InvalidInput("mu", "must be finite, got \(mu)") }
      if e.timeShift == .linear && !(mu > 0) { throw InvalidInput("mu", "must be positive with time_shift_type linear (sigma = mu / (mu + 1/t - 1)), got \(mu)") }
    } else if mu != nil {
      throw InvalidInput("mu", "goes with a FlowMatchEulerDiscreteScheduler with use_dynamic_shifting = true")
    }
    let result: EulerSigmas
    switch e.kind {
    case .flowMatch: result = flowMatchSigmas(e, steps: n, mu: mu)
    case .eulerDiscrete: result = try eulerDiscreteSigmas(e, steps: n, option: option)
    case .edm:
      result = edmSigmas(e, steps: n)
    }
    guard result.sigmas.allSatisfy({ $0.isFinite && $0 >= 0 }), result.networkTimes.allSatisfy(\.isFinite) else {
      throw InvalidInput(option, "set_timesteps(\(n)) gives a sigma that is not a finite non-negative number for this scheduler config")
    }
    // diffusers finds the first step by value: a first timestep that recurs would start the loop at its second occurrence
    if result.networkTimes.dropFirst().contains(result.networkTimes[0]) {
      throw InvalidInput(option, "set_timesteps(\(n)) repeats the first timestep \(result.networkTimes[0]): diffusers' step indexing would skip steps; use fewer steps")
    }
    return result
  }

  /// FlowMatchEulerDiscrete: the training table's ends (float32, shifted unless dynamic), numpy linspace between them
  /// times T, divided by T, shifted (shift, or mu's time shift), stretched to shift_terminal, respaced, rounded to
  /// float32; the network time is sigma T in float32; final sigma 0 (1 with invert_sigmas, sigmas then 1 - sigma).
  func flowMatchSigmas(_ e: EulerFamilyOptions, steps n: Int, mu: Double?) -> EulerSigmas {
    let t = Double(trainSteps), tf = Float(trainSteps)
    func initShift(_ s: Float) -> Float { e.dynamicShifting ? s : Float(e.shift) * s / (1 + Float(e.shift - 1) * s) }
    let sigmaMax = Double(initShift(tf / tf)), sigmaMin = Double(initShift(Float(1) / tf))
    var s = NumPyGrid.linspace(sigmaMax * t, sigmaMin * t, count: n).map { $0 / t }
    if e.dynamicShifting, let mu {
      let m = e.timeShift == .exponential ? exp(mu) : mu
      s = s.map { m / (m + (1 / $0 - 1)) }
    } else {
      s = s.map { e.shift * $0 / (1 + (e.shift - 1) * $0) }
    }
    if let terminal = e.shiftTerminal, terminal != 0 {
      let scale = (1 - s[n - 1]) / (1 - terminal)
      s = s.map { 1 - (1 - $0) / scale }
    }
    s = Self.respaced(s, e.spacing, low: s[n - 1], high: s[0], steps: n)
    var s32 = s.map { Float($0) }
    if e.invertSigmas { s32 = s32.map { 1 - $0 } }
    return EulerSigmas(sigmas: s32.map(Double.init) + [e.invertSigmas ? 1 : 0], networkTimes: s32.map { Double($0 * tf) }, initNoiseSigma: 1)
  }

  /// EulerDiscrete: the timesteps of the spacing (float32), sigma = sqrt((1 - abar) / abar) interpolated linearly in
  /// the training step (numpy's interp, float64), respaced (then the timesteps are diffusers' `_sigma_to_t`: linear in
  /// log sigma between training steps), the final sigma, all rounded to float32. init_noise_sigma is the largest sigma
  /// (sqrt(sigma^2 + 1) for leading spacing).
  func eulerDiscreteSigmas(_ e: EulerFamilyOptions, steps n: Int, option: String) throws -> EulerSigmas {
    let tCount = trainSteps
    let abar = alphasCumprod()
    let table = abar.map { ((1 - $0) / $0).squareRoot() }
    let logTable = table.map { log($0) }
    var timesteps: [Double]
    switch timestepSpacing {
    case .linspace: timesteps = NumPyGrid.linspace(0, Double(tCount - 1), count: n).map { Double(Float($0)) }.reversed()
    case .leading:
      let ratio = tCount / n
      timesteps = (0..<n).reversed().map { Double(Float($0 * ratio) + Float(stepsOffset)) }
    case .trailing:
      timesteps = NumPyGrid.arange(Double(tCount), 0, -Double(tCount) / Double(n)).map { Double(Float($0.rounded(.toNearestOrEven) - 1)) }
    }
    guard timesteps.count == n else { throw InvalidInput(option, "set_timesteps(\(n)) gives \(timesteps.count) timesteps with timestep_spacing \(timestepSpacing.rawValue)") }
    if let bad = timesteps.first(where: { !($0 >= 0 && $0 <= Double(tCount - 1)) }) {
      throw InvalidInput(option, "set_timesteps(\(n)) gives timestep \(bad), outside 0...\(tCount - 1) (timestep_spacing \(timestepSpacing.rawValue), steps_offset \(stepsOffset))")
    }
    var s = timesteps.map { Self.interp($0, table) }
    if e.spacing != .plain {
      s = Self.respaced(s, e.spacing, low: e.sigmaMin ?? s[n - 1], high: e.sigmaMax ?? s[0], steps: n)
      timesteps = s.map { Self.sigmaToT($0, logTable) }
    }
    let last = finalSigmasType == .zero ? 0 : table[0]
    let s32 = (s + [last]).map { Double(Float($0)) }
    let largest = s32.max()!  // invariant: n >= 1
    return EulerSigmas(sigmas: s32, networkTimes: timesteps.map { Double(Float($0)) },
                       initNoiseSigma: timestepSpacing == .leading ? (largest * largest + 1).squareRoot() : largest)
  }

  /// EDMEuler: torch's float64 linspace(0, 1, N) as the Karras ramp (or the exponential schedule in torch's float32),
  /// rounded to float32; the network time c_noise = 0.25 log(sigma), here in float64 from the float32 sigma;
  /// init_noise_sigma = sqrt(sigma_max^2 + 1).
  func edmSigmas(_ e: EulerFamilyOptions, steps n: Int) -> EulerSigmas {
    let lo = e.sigmaMin!, hi = e.sigmaMax!  // invariant: validateEulerFamily requires both for EDM
    var s32: [Float]
    switch e.spacing {
    case .exponential:
      // torch.linspace(log lo, log hi, N) in float32 as its CPU kernel computes it (start + step i, end - step (N - 1 - i),
      // each one fused multiply-add), a correctly rounded float32 exp (torch's vectorized one is 1 ulp off on a few
      // percent of the entries), flipped
      let start = Float(log(lo)), end = Float(log(hi))
      let step = n > 1 ? (end - start) / Float(n - 1) : 0
      s32 = (0..<n).map { i -> Float in
        let v = i < n / 2 ? start.addingProduct(step, Float(i)) : end.addingProduct(-step, Float(n - i - 1))
        return Float(Foundation.exp(Double(n == 1 ? start : v)))
      }.reversed()
    default:
      let ramp = Self.torchLinspace(0, 1, count: n)
      let minInv = pow(lo, 1 / e.rho), maxInv = pow(hi, 1 / e.rho)
      s32 = ramp.map { Float(pow(maxInv + $0 * (minInv - maxInv), e.rho)) }
    }
    let sigmas = s32.map(Double.init)
    return EulerSigmas(sigmas: sigmas + [finalSigmasType == .zero ? 0 : sigmas[n - 1]], networkTimes: sigmas.map { 0.25 * log($0) },
                       initNoiseSigma: (hi * hi + 1).squareRoot())
  }

  /// diffusers' `_convert_to_karras` (rho 7) and `_convert_to_exponential` between `high` and `low` (numpy, float64).
  static func respaced(_ s: [Double], _ spacing: EulerFamilyOptions.Spacing, low: Double, high: Double, steps n: Int) -> [Double] {
    switch spacing {
    case .plain: return s
    case .karras:
      let rho = 7.0, minInv = pow(low, 1 / rho), maxInv = pow(high, 1 / rho)
      return NumPyGrid.linspace(0, 1, count: n).map { pow(maxInv + $0 * (minInv - maxInv), rho) }
    case .exponential:
      return NumPyGrid.linspace(log(high), log(low), count: n).map { exp($0) }
    }
  }

  /// numpy's `interp(x, arange(count), table)` for 0 <= x <= count - 1: slope (f[j+1] - f[j]) / 1 times (x - j) plus f[j].
  static func interp(_ x: Double, _ table: [Double]) -> Double {
    let last = table.count - 1
    if x >= Double(last) { return table[last] }
    let j = Int(x.rounded(.down))
    return (table[j + 1] - table[j]) / 1 * (x - Double(j)) + table[j]
  }

  /// diffusers' `_sigma_to_t`: the last training step whose log sigma is at or below log(sigma) (clipped to count - 2),
  /// then the linear weight in log sigma to the next one, clipped to [0, 1].
  static func sigmaToT(_ sigma: Double, _ logTable: [Double]) -> Double {
    let logSigma = log(max(sigma, 1e-10))
    var low = 0, count = 0, best = 0
    for (k, l) in logTable.enumerated() where logSigma - l >= 0 {  // argmax of the cumulative count: its first maximum
      count += 1
      if count > best { (best, low) = (count, k) }
    }
    low = min(low, logTable.count - 2)
    let lo = logTable[low], hi = logTable[low + 1]
    let w = min(max((lo - logSigma) / (lo - hi), 0), 1)
    return (1 - w) * Double(low) + w * Double(low + 1)
  }

  /// torch.linspace(start, end, n) in float64: start + step i for the first half, end - step (n - 1 - i) after.
  static func torchLinspace(_ start: Double, _ end: Double, count n: Int) -> [Double] {
    guard n > 1 else { return n == 1 ? [start] : [] }
    let step = (end - start) / Double(n - 1)
    return (0..<n).map { i in i < n / 2 ? start + step * Double(i) : end - step * Double(n - i - 1) }
  }
}
