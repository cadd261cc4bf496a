import DiffusionCore

/// A network that takes diffusers' time input directly (a possibly fractional timestep, sigma T, or EDM's
/// 0.25 log sigma), as the Euler-family loops pass it; `UNetNoisePredictor` is one.
public protocol NetworkTimeInput: NoisePredictor {
  /// The raw output at `networkTime`.
  func output(_ x: [Double], z: [Double], networkTime: Double, batch: Int) throws -> [Double]
  /// Its VJP (`eps` is the raw output).
  func outputVJP(_ x: [Double], z: [Double], networkTime: Double, batch: Int, cotangent: [Double], wantParameters: Bool) throws -> NoiseVJP
}

extension DiffusersLoop {
  /// The network's raw output at step `step` from state x: `model(x, time(k))` for the DDIM/DDPM/DPMSolver steps
  /// (unchanged), `model(inputScale x, networkTime)` for the Euler family. A model without `NetworkTimeInput` gets
  /// t = (networkTime + 1) / T (its time convention, t = (k + 1) / T, continued).
  func network<M: NoisePredictor>(_ model: M, _ x: [Double], z: [Double], step: DiffusersStep, batch: Int) throws -> [Double] {
    guard let tau = step.networkTime else { return try model.eps(x, z: z, t: time(step.timestep), batch: batch) }
    let input = step.inputScale == 1 ? x : x.map { step.inputScale * $0 }
    if let net = model as? any NetworkTimeInput { return try net.output(input, z: z, networkTime: tau, batch: batch) }
    return try model.eps(input, z: z, t: (tau + 1) / Double(config.trainSteps), batch: batch)
  }

  /// The VJP of `network` in x (through the input scale), z and theta.
  func networkVJP<M: NoisePredictor>(_ model: M, _ x: [Double], z: [Double], step: DiffusersStep, batch: Int, cotangent: [Double],
                                     wantParameters: Bool) throws -> NoiseVJP {
    guard let tau = step.networkTime else {
      return try model.vjp(x, z: z, t: time(step.timestep), batch: batch, cotangent: cotangent, wantParameters: wantParameters)
    }
    let input = step.inputScale == 1 ? x : x.map { step.inputScale * $0 }
    var r: NoiseVJP
    if let net = model as? any NetworkTimeInput {
      r = try net.outputVJP(input, z: z, networkTime: tau, batch: batch, cotangent: cotangent, wantParameters: wantParameters)
    } else {
      r = try model.vjp(input, z: z, t: (tau + 1) / Double(config.trainSteps), batch: batch, cotangent: cotangent, wantParameters: wantParameters)
    }
    if step.inputScale != 1 { r.x = r.x.map { step.inputScale * $0 } }
    return r
  }
}
