import DiffusionCore
import Foundation
import Integrators

/// One morphing run on one model: P pairs encoded once (DiM's encoder), then any method from the DiM blend.
/// All pairs advance together through `LockstepBatch`; every per-pair result equals the batch-1 result.
public struct MorphProblem<Model: NoisePredictor, Embedding: IdentityEmbedding>: Sendable {
  public let batch: LockstepBatch<Model>
  public let schedule: NoiseSchedule
  public let pairs: MorphPairs
  public let settings: MorphSettings
  public let grid: TimeGrid
  public let loss: MorphLoss<Embedding>
  /// z of each pair's identities (P x m; empty when the model is unconditioned).
  public let zA: [Double]
  public let zB: [Double]
  /// The encoded noises x_T^a, x_T^b (P x d).
  public let xTA: [Double]
  public let xTB: [Double]
  /// Evaluations per morph and wall seconds spent encoding (charged to every method).
  public let encodeEvaluations: Int
  public let encodeSeconds: Double
  /// The reference gradients at the shared start (x_T, z) of every method (see `ReferenceCache`).
  let references = ReferenceCache()

  /// Encodes both images of every pair with the probability-flow ODE. `condition(k)` is the z of identity k.
  public init(
    model: Model, schedule: NoiseSchedule, pairs: MorphPairs, recognizer: Embedding, settings: MorphSettings,
    condition: (Int) -> [Double]
  ) throws {
    try settings.validate()
    guard pairs.count > 0 else { throw InvalidInput("pairs", "the pair set is empty") }
    guard pairs.dimension == model.dataDimension else {
      throw InvalidInput("model", "the model takes d = \(model.dataDimension) but the pairs have d = \(pairs.dimension)")
    }
    guard recognizer.inputDimension == model.dataDimension else {
      throw InvalidInput("recognizers", "a recognizer takes d = \(recognizer.inputDimension) but the model makes d = \(model.dataDimension)")
    }
    self.batch = try LockstepBatch(model, count: pairs.count)
    self.schedule = schedule
    self.pairs = pairs
    self.settings = settings
    self.grid = try TimeGrid(schedule: schedule, tEps: settings.tEps, T: settings.T, steps: settings.samplerSteps, spacing: settings.spacing)
    self.loss = try MorphLoss(recognizer: recognizer, xA: pairs.xA, xB: pairs.xB, pairs: pairs.count)
    zA = pairs.classA.flatMap(condition)
    zB = pairs.classB.flatMap(condition)
    try Check.count(zA, batch.conditionDimension, "z")
    let start = DispatchTime.now().uptimeNanoseconds
    let encoder = Encoder()
    let a = try encoder.encode(model: batch, grid: grid, x0: pairs.xA, z: zA)
    let b = try encoder.encode(model: batch, grid: grid, x0: pairs.xB, z: zB)
    xTA = a.xT
    xTB = b.xT
    encodeEvaluations = a.evaluations + b.evaluations
    encodeSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
  }

  var d: Int { pairs.dimension }
  var m: Int { batch.model.conditionDimension }

  /// The DiM blend at weight w: slerp of the noises, mean (lerp) of the conditions.
  public func blend(_ w: Double) -> (xT: [Double], z: [Double]) {
    var xT: [Double] = [], z: [Double] = []
    for p in 0..<pairs.count {
      xT += slerp(xTA[(p * d)..<((p + 1) * d)], xTB[(p * d)..<((p + 1) * d)], w)
      z += lerp(zA[(p * m)..<((p + 1) * m)], zB[(p * m)..<((p + 1) * m)], w)
    }
    return (xT, z)
  }

  /// The morph from (x_T, z) with a sampler on the run's grid (the SDE with the run's fixed noise).
  public func sample(_ kind: SamplerKind, xT: [Double], z: [Double]) throws -> Trajectory {
    let noise = kind.isSDE ? try NoiseSource.seeded(settings.noiseSeed).draws(grid: grid, dimension: batch.dataDimension) : []
    return try Sampler(kind: kind).sample(model: batch, grid: grid, xT: xT, z: .constant(z), noise: noise)
  }

  func elapsed(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 + encodeSeconds }

  /// DiM: the blend at w = 1/2, sampled with DDIM.
  public func dim() throws -> MorphOutcome {
    let start = DispatchTime.now().uptimeNanoseconds
    let (xT, z) = blend(0.5)
    let x0 = try sample(.dpmSolver1, xT: xT, z: z).x0
    return MorphOutcome(method: .dim, morphs: x0, loss: try loss.perPair(x0),
                        evaluations: EvaluationCount(eps: encodeEvaluations + grid.steps), seconds: elapsed(since: start))
  }

  /// The Morph-PIPE-like search: DiM at every blend weight, the smallest morph loss per pair wins.
  public func morphPipe() throws -> MorphOutcome {
    let start = DispatchTime.now().uptimeNanoseconds
    var best = [Double](repeating: .infinity, count: pairs.count)
    var chosen = [Double](repeating: .nan, count: pairs.count)
    var morphs = [Double](repeating: 0, count: pairs.count * d)
    for w in settings.blendWeights {
      let (xT, z) = blend(w)
      let x0 = try sample(.dpmSolver1, xT: xT, z: z).x0
      for (p, l) in try loss.perPair(x0).enumerated() where l < best[p] {
        best[p] = l
        chosen[p] = w
        morphs.replaceSubrange((p * d)..<((p + 1) * d), with: x0[(p * d)..<((p + 1) * d)])
      }
    }
    var outcome = MorphOutcome(method: .morphPipe, morphs: morphs, loss: best,
                               evaluations: EvaluationCount(eps: encodeEvaluations + grid.steps * settings.blendWeights.count),
                               seconds: elapsed(since: start))
    outcome.chosenWeight = chosen
    return outcome
  }
}
