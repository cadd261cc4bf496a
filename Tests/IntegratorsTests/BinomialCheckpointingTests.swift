import DiffusionCore
import ToyModels
import XCTest

@testable import Integrators

/// Binomial (Revolve) checkpointing (docs/math.md#checkpointing): Griewank's closed form against the dynamic
/// programme, the generic reversal against the optimum it must realize, and DTO under it against full storage,
/// with the eps and VJP calls counted by a wrapper around the model (not by DTO's own counters).
final class BinomialCheckpointingTests: XCTestCase {
  /// p(l, s) by the dynamic programme, independent of the closed form: `table[l][s]`.
  static func dynamicProgramme(steps: Int, slots: Int) -> [[Int]] {
    var p = [[Int]](repeating: [Int](repeating: 0, count: slots + 1), count: steps + 1)
    for l in 2...steps {
      p[l][1] = l * (l - 1) / 2
      for s in stride(from: 2, through: slots, by: 1) {
        p[l][s] = (1..<l).map { m in m + p[l - m][s - 1] + p[m][s] }.min()!  // invariant: l >= 2
      }
    }
    return p
  }

  func testClosedFormEqualsDynamicProgramme() {
    let p = Self.dynamicProgramme(steps: 60, slots: 8)
    for l in 1...60 {
      for s in 1...8 {
        XCTAssertEqual(BinomialSchedule.extraAdvances(steps: l, slots: s), p[l][s], "l = \(l), s = \(s)")
      }
    }
    // s >= l - 1 slots: every state stored on the way, l - 1 advances
    XCTAssertEqual(BinomialSchedule.extraAdvances(steps: 500, slots: 499), 499)
  }

  /// The reversal calls `advance` exactly p(l, s) times, visits the steps l-1 ... 0 once each with the right state,
  /// holds at most s states, and starts with the sweep x_0 -> x_{l-1} in order.
  func testReversalRealizesTheOptimum() throws {
    let p = Self.dynamicProgramme(steps: 40, slots: 8)
    for l in 1...40 {
      for s in 1...min(l, 8) {
        var advanced: [Int] = [], reversed: [Int] = []
        let r = try BinomialSchedule.reverse(
          steps: l, slots: s, start: 0,
          advance: { (x: inout Int, i: Int) in
            XCTAssertEqual(x, i)
            x += 1
            advanced.append(i)
          },
          reverseStep: { x, i in
            XCTAssertEqual(x, i)
            reversed.append(i)
          })
        XCTAssertEqual(r.advances, p[l][s], "l = \(l), s = \(s)")
        XCTAssertEqual(advanced.count, p[l][s])
        XCTAssertEqual(reversed, Array((0..<l).reversed()))
        XCTAssertLessThanOrEqual(r.peakSlots, s)
        XCTAssertEqual(Array(advanced.prefix(l - 1)), Array(0..<(l - 1)), "the first sweep, l = \(l), s = \(s)")
      }
    }
  }

  /// Counts the model's calls.
  final class Calls: @unchecked Sendable { var eps = 0, vjp = 0 }  // single-threaded tests
  struct Counted: NoisePredictor {
    let model: GaussianMixture
    let calls: Calls
    var dataDimension: Int { model.dataDimension }
    var conditionDimension: Int { model.conditionDimension }
    var parameterBlocks: [ParameterBlock] { model.parameterBlocks }
    var parameters: [Double] { model.parameters }
    func replacingParameters(_ theta: [Double]) throws -> Counted { Counted(model: try model.replacingParameters(theta), calls: calls) }
    func eps(_ x: [Double], z: [Double], t: Double, batch: Int) throws -> [Double] {
      calls.eps += 1
      return try model.eps(x, z: z, t: t, batch: batch)
    }
    func vjp(_ x: [Double], z: [Double], t: Double, batch: Int, cotangent v: [Double], wantParameters: Bool) throws -> NoiseVJP {
      calls.vjp += 1
      return try model.vjp(x, z: z, t: t, batch: batch, cotangent: v, wantParameters: wantParameters)
    }
  }

  func run(_ kind: SamplerKind, steps n: Int, _ policy: CheckpointPolicy) throws -> (GradientResult, Calls) {
    let calls = Calls()
    let model = Counted(model: try SolverFixtures.mixture(.full, schedule: .vpCosine), calls: calls)
    let grid = try TimeGrid(schedule: .vpCosine, tEps: 1e-3, T: 0.99, steps: n, spacing: .lambda)
    let noise = kind.isSDE ? try NoiseSource.seeded(5).draws(grid: grid, dimension: 3) : []
    let result = try DiscretizeThenOptimize(sampler: kind, checkpoint: policy).gradient(
      model: model, grid: grid, xT: SolverFixtures.xT, z: .constant(SolverFixtures.z), noise: noise, loss: try SolverFixtures.loss())
    return (result, calls)
  }

  /// N = 20, S = 2, 3, 5: 1 + p(20, S) eps in all (66, 46, 34) and 20 VJPs, the gradient bit for bit that of full
  /// storage (the same states, the same VJPs in the same order). The prototype's 85, 65, 53 (docs/math.md) are
  /// N + p(20, S): a sampling sweep that stores nothing, then the reversal; placing the checkpoints during the sweep
  /// saves N - 1.
  func testBinomialEqualsFullStorageAtTheOptimalCounts() throws {
    let n = 20
    let p = Self.dynamicProgramme(steps: n, slots: n)
    for kind in [SamplerKind.dpmSolver1, .dpmSolver2M, .dpmSolver3M, .sde] {
      let (full, fullCalls) = try run(kind, steps: n, .all)
      XCTAssertEqual(fullCalls.eps, n)
      XCTAssertEqual(fullCalls.vjp, n)
      for s in [2, 3, 5, n] {
        let (r, calls) = try run(kind, steps: n, .binomial(slots: s))
        XCTAssertEqual(calls.eps, 1 + p[n][s], "\(kind) S = \(s)")
        XCTAssertLessThan(calls.eps, n + p[n][s])
        XCTAssertEqual(calls.vjp, n, "\(kind) S = \(s)")
        XCTAssertEqual(r.sampling.eps + r.adjoint.eps, calls.eps)
        XCTAssertEqual(r.statistics["forwards"], calls.eps)
        XCTAssertEqual(r.adjoint.vjp, calls.vjp)
        XCTAssertEqual(r.sampling.eps, n)  // the first sweep
        XCTAssertEqual(r.statistics["checkpoint_states"], s)
        XCTAssertEqual(r.statistics["checkpoint_slots"], s)
        XCTAssertEqual(r.x0, full.x0, "\(kind) S = \(s)")
        XCTAssertEqual(r.gradXT, full.gradXT, "\(kind) S = \(s)")
        XCTAssertEqual(r.gradZ, full.gradZ, "\(kind) S = \(s)")
        XCTAssertEqual(r.gradTheta, full.gradTheta, "\(kind) S = \(s)")
      }
      // S = N is full storage: N eps, nothing recomputed
      XCTAssertEqual(try run(kind, steps: n, .binomial(slots: n)).0.adjoint.eps, 0)
    }
  }

  /// A longer chain: N = 80 with S = 3 and 7 through the three-deep multistep rule (counts and bits).
  func testLongChain() throws {
    let n = 80
    let (full, _) = try run(.dpmSolver3M, steps: n, .all)
    for s in [3, 7] {
      let (r, calls) = try run(.dpmSolver3M, steps: n, .binomial(slots: s))
      XCTAssertEqual(calls.eps, 1 + BinomialSchedule.extraAdvances(steps: n, slots: s))
      XCTAssertEqual(calls.vjp, n)
      XCTAssertEqual(r.gradXT, full.gradXT)
      XCTAssertEqual(r.gradTheta, full.gradTheta)
      // a state holds at most the two earlier outputs the 3M step needs
      XCTAssertLessThanOrEqual(r.statistics["stored_states"]!, 3 * s)
    }
  }

  /// The memory bound the method checks is the peak the runs report, in states.
  func testKeptStatesBoundThePeak() throws {
    for policy in [CheckpointPolicy.all, .every(1), .every(3), .every(7), .every(20), .every(50), .binomial(slots: 1), .binomial(slots: 4)] {
      let (r, _) = try run(.dpmSolver2M, steps: 20, policy)
      XCTAssertEqual(r.statistics["checkpoint_states"], policy.keptStates(steps: 20), "\(policy)")
    }
  }

  func testRejectsBadCheckpoints() throws {
    XCTAssertEqual(try CheckpointPolicy(parsing: "binomial:4"), .binomial(slots: 4))
    XCTAssertEqual(try CheckpointPolicy(parsing: "5"), .every(5))
    for text in ["binomial:0", "binomial:x", "binomial:", "binomial:-2", "-3", "0", "x", "", "binomial 3"] {
      XCTAssertThrowsInvalid(try CheckpointPolicy(parsing: text), field: "checkpoint", text)
    }
    var options = GradientOptions()
    options.samplerSteps = 20
    options.checkpoint = .binomial(slots: 21)
    XCTAssertThrowsInvalid(try MethodSpec("dto").make(given: options), field: "checkpoint")
    options.checkpoint = .binomial(slots: 20)
    XCTAssertNoThrow(try MethodSpec("dto").make(given: options))
    XCTAssertThrowsInvalid(try run(.dpmSolver1, steps: 20, .binomial(slots: 21)), field: "checkpoint")
    XCTAssertThrowsInvalid(try DiscretizeThenOptimize(sampler: .dpmSolver1, checkpoint: .binomial(slots: 0)), field: "checkpoint")
    XCTAssertThrowsInvalid(try BinomialSchedule.reverse(steps: 3, slots: 0, start: 0, advance: { $0 += $1 }, reverseStep: { _, _ in }), field: "slots")
    // more slots than states: full storage, no overflow
    XCTAssertEqual(try BinomialSchedule.reverse(steps: 3, slots: .max, start: 0, advance: { x, _ in x += 1 }, reverseStep: { _, _ in }).advances, 2)
  }
}
