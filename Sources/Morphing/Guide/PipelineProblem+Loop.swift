import DiffusionCore
import Foundation
import Integrators
import NeuralCore

/// Which sampler a pipeline run differentiates: diffusers' own loop (the pipeline's scheduler config, exactly), or
/// the testbed's continuous-time samplers on the VP schedule interpolated between the training steps (for the
/// convergence studies).
public enum PipelineSampler: String, CaseIterable, Sendable {
  case diffusers
  case continuous
}

extension PipelineProblem {
  /// diffusers' final sample for every image (`DiffusersLoop.sample`; the network batched over the B images).
  /// Cost: N network calls.
  public func loopSample<Raw>(_ loop: DiffusersLoop) throws -> [Double] where Model == EpsilonConversion<Raw> {
    try checkPrediction(loop)
    return try loop.sample(model: model.model.model, xT: xT, z: z, batch: batch)
  }

  /// The exact gradient of the pixel loss on diffusers' final sample: DTO through `loop`
  /// (docs/diffusers-loop.md#reverse-mode). Cost: N network calls + N VJPs; memory 2N states, or with
  /// `checkpointEvery = k` about 3N/k + 2k states for N more network calls.
  public func loopGradient<Raw>(_ loop: DiffusersLoop, checkpointEvery: Int? = nil) throws -> GradientResult where Model == EpsilonConversion<Raw> {
    try checkPrediction(loop)
    let r = try loop.gradient(model: model.model.model, xT: xT, z: z, batch: batch, loss: loss, checkpointEvery: checkpointEvery)
    return GradientResult(x0: r.x0, loss: r.loss, gradXT: r.gradXT, gradZ: [r.gradZ], gradTheta: [],
                          sampling: EvaluationCount(eps: r.forwardCalls), adjoint: EvaluationCount(eps: r.recomputedCalls, vjp: r.vjpCalls),
                          statistics: ["checkpoint_every": checkpointEvery ?? 1, "stored_states": Self.loopStoredStates(steps: loop.steps.count, every: checkpointEvery)])
  }

  /// The d-vectors DTO through the loop holds (docs/diffusers-loop.md#reverse-mode): per step its input and the model
  /// output history, 2N; with every k-th step kept, 3 per kept step and 2 per step of the segment being reversed.
  public static func loopStoredStates(steps n: Int, every k: Int?) -> Int {
    guard let k else { return 2 * n }
    return 3 * ((n + k - 1) / k) + 2 * min(k, n)
  }

  /// The loop converts the raw network output itself: its prediction type must be the one the problem's model has.
  private func checkPrediction<Raw>(_ loop: DiffusersLoop) throws where Model == EpsilonConversion<Raw> {
    guard model.model.prediction == loop.config.predictionType else {
      throw InvalidInput("prediction_type", "the loop's scheduler config says \(loop.config.predictionType.rawValue), the model converts \(model.model.prediction.rawValue)")
    }
  }
}

/// The cosine and the relative error |g - g_exact| / |g_exact| between an approximate method's dL/d(x_T, z) and
/// DTO's through diffusers' loop, and the warning a pipeline run prints when it is far off: a cosine below
/// `minimumCosine` or a relative error above `maximumRelativeError` (a gradient can point the right way with a norm
/// 1e8 times too large: adjointdeis-2m on a squaredcos_cap_v2 v-prediction pipeline, cosine 0.97).
public struct GradientCrossCheck: Sendable {
  public static let minimumCosine = 0.9
  public static let maximumRelativeError = 0.5
  public let cosine: Double
  public let relativeError: Double

  public init(_ approximate: GradientResult, exact: GradientResult) {
    let c = GradientComparison(approximate.gradXT + (approximate.gradZ.first ?? []), reference: exact.gradXT + (exact.gradZ.first ?? []))
    // a zero gradient has no direction: two zero gradients agree (cosine 1), one zero gradient does not (cosine 0)
    cosine = c.cosine.isNaN ? (c.relativeError == 0 ? 1 : 0) : c.cosine
    relativeError = c.relativeError
  }

  /// One line for stderr when the method's gradient is far from the exact one, else nil.
  public func warning(method: String) -> String? {
    guard !(cosine >= Self.minimumCosine && relativeError <= Self.maximumRelativeError) else { return nil }
    return "warning: \(method)'s gradient is far from the exact gradient of diffusers' loop (cosine \(String(format: "%.3g", cosine)), "
      + "relative error \(String(format: "%.3g", relativeError))): dto, the default, is exact"
  }
}

extension GuideMethod {
  /// A guided method on diffusers' loop. `method == nil`: DTO through the loop (the exact gradient; cost per step
  /// N network calls + N VJPs). Otherwise the method's gradient, with x_0 and the loss replaced by the loop's (the
  /// pipeline's image; N more network calls per step), checked on its first call against DTO's gradient (`warn`
  /// receives the line when it is far off).
  public static func onLoop<Raw>(_ loop: DiffusersLoop, name: String, method: (any GradientMethod)?,
                                 warn: @escaping @Sendable (String) -> Void) -> GuideMethod where Model == EpsilonConversion<Raw> {
    guard let method else { return GuideMethod(name: name, gradient: { try $0.loopGradient(loop) }, sample: { try $0.loopSample(loop) }) }
    let first = FirstCall()
    return GuideMethod(name: name, gradient: { p in
      var r = try p.gradient(method)
      if first.claim() {
        let exact = try p.loopGradient(loop)
        if let line = GradientCrossCheck(r, exact: exact).warning(method: method.label) { warn(line) }
        (r.x0, r.loss) = (exact.x0, exact.loss)
        r.sampling = r.sampling + exact.sampling
        r.adjoint = r.adjoint + exact.adjoint
      } else {
        r.x0 = try p.loopSample(loop)
        r.loss = p.loss.value(r.x0)
        r.sampling.eps += loop.steps.count
      }
      return r
    }, sample: { try $0.loopSample(loop) })
  }
}

/// True exactly once (thread-safe): a guided run's first gradient call.
final class FirstCall: @unchecked Sendable {
  private var used = false
  private let lock = NSLock()
  func claim() -> Bool {
    lock.lock()
    defer { lock.unlock() }
    if used { return false }
    used = true
    return true
  }
}
