import DiffusionCore
import Foundation
import Integrators

extension MorphProblem {
  /// The gradient that a method's gradient is compared with: the RK45 continuous adjoint for the ODE methods;
  /// for the SDE method, the exact gradient of its own objective (DTO through the same SDE path and noise), since
  /// the probability-flow ODE's gradient is not the gradient of an SDE sample.
  func referenceMethod(for method: MorphMethod) throws -> (any GradientMethod)? {
    let reference = try MorphMethod.named(method.outputSampler.isSDE ? "dto/sde" : "rk45")
    return try reference.method(steps: settings.samplerSteps, spacing: settings.spacing, noiseSeed: settings.noiseSeed,
                                rtol: settings.referenceTolerance)
  }

  /// The problem from (x_T, z) of every pair.
  func problem(xT: [Double], z: [Double]) throws -> GradientProblem<LockstepBatch<Model>, MorphLoss<Embedding>> {
    try GradientProblem(model: batch, schedule: schedule, T: settings.T, tEps: settings.tEps, xT: xT, z: .constant(z), loss: loss)
  }

  /// Gradient descent on (x_T, z) from the DiM blend (`settings.update`: plain or normalized steps),
  /// `settings.optimizationSteps` times, then the morph is sampled from the final (x_T, z) with the method's output sampler.
  /// `trackReference`: compare each `referenceEvery`-th gradient with the reference gradient (not counted in the NFE).
  public func optimize(_ method: MorphMethod, learningRate lr: Double, trackReference: Bool) throws -> MorphOutcome {
    guard lr.isFinite, lr > 0 else { throw InvalidInput("learning_rate", "must be a positive number, got \(lr)") }
    let isRK45: Bool = { if case let .gradient(spec) = method { return spec.name == ReferenceRK45Method.entry.name } else { return false } }()
    guard let gradientMethod = try method.method(steps: settings.samplerSteps, spacing: settings.spacing, noiseSeed: settings.noiseSeed,
                                                 rtol: isRK45 ? settings.rk45Tolerance : settings.referenceTolerance)
    else { throw InvalidInput("method", "\(method.rawValue) is not a gradient method") }
    let reference = trackReference && settings.referenceEvery > 0 ? try referenceMethod(for: method) : nil
    let start = DispatchTime.now().uptimeNanoseconds
    var (xT, z) = blend(0.5)
    let start0 = xT
    var count = EvaluationCount(eps: encodeEvaluations)
    var path: [PathPoint] = []
    var referenceSeconds = 0.0
    for k in 0..<settings.optimizationSteps {
      let r = try gradientMethod.gradient(try problem(xT: xT, z: z))
      count = count + r.sampling + r.adjoint
      let g = r.gradXT, gz = r.gradZ.first ?? []
      var points = try loss.perPair(r.x0).enumerated().map { PathPoint(step: k, pair: $0.offset, loss: $0.element) }
      if let reference, k % settings.referenceEvery == 0 {
        let t0 = DispatchTime.now().uptimeNanoseconds
        // the start is every method's: its reference is computed once (exact (x_T, z) match, same reference method)
        let compute = { try reference.gradient(try problem(xT: xT, z: z)) }
        let ref = k == 0 ? try references.gradient(reference.label, xT: xT, z: z, compute: compute) : try compute()
        for p in 0..<pairs.count {
          let (c, ratio) = compare(g, gz, ref.gradXT, ref.gradZ.first ?? [], pair: p)
          points[p].cosine = c
          points[p].normRatio = ratio
        }
        referenceSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
      }
      path += points
      descent.step(&xT, &z, gradient: g, gradientZ: gz, start: start0, blocks: pairs.count, lr: lr)
      try Check.finite(xT, "x_T (gradient descent diverged: lower the learning rate)")
    }
    let x0 = try morph(method, gradientMethod, xT: xT, z: z)
    count.eps += settings.samplerSteps
    var outcome = MorphOutcome(method: method, morphs: x0, loss: try loss.perPair(x0), evaluations: count,
                               seconds: elapsed(since: start) - referenceSeconds)
    outcome.path = path
    outcome.learningRate = lr
    outcome.noiseNormRatio = (0..<pairs.count).map { p in
      let r = (p * d)..<((p + 1) * d)
      return (r.map { xT[$0] * xT[$0] }.reduce(0, +) / r.map { start0[$0] * start0[$0] }.reduce(0, +)).squareRoot()
    }
    return outcome
  }

  /// The morph from the final (x_T, z), sampled as the method's gradients saw it: with the Gaussian-linear sampler
  /// (the same linear part, docs/gaussian-linear-part.md#sampler) for an ODE method with a linear part, with its own
  /// sampler for a reversible method, else with the method's output sampler.
  func morph(_ method: MorphMethod, _ gradientMethod: any GradientMethod, xT: [Double], z: [Double]) throws -> [Double] {
    if let gl = gradientMethod as? GaussianLinearSampling, !gl.sampler.isSDE {
      return try gl.sampleLinear(model: batch, grid: grid, xT: xT, z: .constant(z))
    }
    if let reversible = gradientMethod as? ReversibleMethod {  // its own sampler (Rex, BDIA, ...)
      return try reversible.sample(model: batch, schedule: schedule, tEps: grid.times[0], T: grid.times[grid.steps], xT: xT, z: .constant(z))
    }
    return try sample(method.outputSampler, xT: xT, z: z).x0
  }

  /// The update rule of every gradient method: `settings.update`, `settings.constraint`, blocks of (d, m).
  var descent: ProjectedDescent { ProjectedDescent(update: settings.update, constraint: settings.constraint, d: d, m: m) }

  /// cos(g_p, r_p) and |g_p| / |r_p| for pair p over the joint vector (dL/dx_T, dL/dz).
  func compare(_ g: [Double], _ gz: [Double], _ r: [Double], _ rz: [Double], pair p: Int) -> (Double, Double) {
    var gr = 0.0, gg = 0.0, rr = 0.0
    for i in (p * d)..<((p + 1) * d) { gr += g[i] * r[i]; gg += g[i] * g[i]; rr += r[i] * r[i] }
    for i in (p * m)..<((p + 1) * m) { gr += gz[i] * rz[i]; gg += gz[i] * gz[i]; rr += rz[i] * rz[i] }
    return (gr / max((gg * rr).squareRoot(), .leastNormalMagnitude), (gg / max(rr, .leastNormalMagnitude)).squareRoot())
  }
}
