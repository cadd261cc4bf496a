import DiffusionCore
import Foundation
import Integrators
import Morphing
import NeuralCore
import XCTest

/// `gradient --pipeline` and `guide --pipeline` on diffusers' loop (the same calls): the problem's loop gradient is
/// diffusers' autograd gradient (fixture by scripts/fixtures/make_loop_fixtures.py), images of a batch run in
/// lockstep, the cross-check warns about a far-off method and not about DTO, and a guided run on the loop lowers the
/// loss and keeps the loop's image of its last x_T.
final class PipelineLoopTests: XCTestCase {
  static let pipelines = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../NeuralCoreTests/Fixtures/pipelines").standardizedFileURL
  typealias Model = EpsilonConversion<UNetNoisePredictor<Double>>

  private func problem(_ unet: String, scheduler: String, xT: [Double], target: [Double]) throws -> (DiffusionPipeline<Double>, PipelineProblem<Model>) {
    let p = try DiffusionPipeline<Double>.load(directory: Self.pipelines.appendingPathComponent(unet),
                                               schedulerOverride: Self.pipelines.appendingPathComponent("loop/schedulers/\(scheduler).json"))
    let d = p.sampleShape.reduce(1, *)
    return (p, try PipelineProblem(model: try p.predictor(), schedule: p.schedule, shape: p.sampleShape, xT: xT, z: [],
                                   loss: try PixelLoss(kind: .squaredDistance, target: target, dimension: d)))
  }

  func testLoopGradientIsDiffusersAutogradGradientAndBatchesInLockstep() throws {
    let file = try SafeTensorsFile.read(Self.pipelines.appendingPathComponent("loop/references.safetensors"))
    let name = "ddpm-trailing-cosine-v"
    let xT = try file.tensor("\(name).x_T").doubles(), target = try file.tensor("\(name).target").doubles()
    let (p, one) = try problem("ddpm-linear-epsilon", scheduler: name, xT: xT, target: target)
    let loop = try DiffusersLoop(config: p.scheduler, steps: 10)
    let r = try one.loopGradient(loop)
    let expected = try file.tensor("\(name).grad_x_T").doubles()
    let scale = expected.map(abs).max()!
    for i in expected.indices { XCTAssertEqual(r.gradXT[i], expected[i], accuracy: 1e-10 * scale) }
    XCTAssertEqual(r.x0, try one.loopSample(loop))
    XCTAssertEqual([r.sampling.eps, r.adjoint.vjp], [10, 10])
    // a second image beside the first: the first image's gradient is unchanged
    var rng = SeededGenerator(seed: 3)
    let (_, two) = try problem("ddpm-linear-epsilon", scheduler: name, xT: xT + rng.normals(64), target: target + rng.normals(64))
    let both = try two.loopGradient(loop)
    for i in 0..<64 { XCTAssertEqual(both.gradXT[i], r.gradXT[i], accuracy: 1e-12 * scale) }
  }

  func testCrossCheckWarnsAboutAFarOffMethodOnly() throws {
    var rng = SeededGenerator(seed: 8)
    let (p, pr) = try problem("ddpm-linear-epsilon", scheduler: "ddim-leading-eps-clip", xT: rng.normals(64), target: rng.normals(64))
    let loop = try DiffusersLoop(config: p.scheduler, steps: 10)
    let exact = try pr.loopGradient(loop)
    let same = GradientCrossCheck(exact, exact: exact)
    XCTAssertEqual(same.cosine, 1, accuracy: 1e-12)
    XCTAssertNil(same.warning(method: "dto"))
    var flipped = exact
    flipped.gradXT = exact.gradXT.map { -$0 }
    let far = GradientCrossCheck(flipped, exact: exact)
    XCTAssertEqual(far.cosine, -1, accuracy: 1e-12)
    XCTAssertEqual(far.relativeError, 2, accuracy: 1e-12)
    XCTAssertTrue(far.warning(method: "adjointdeis-1")?.contains("adjointdeis-1") == true)
  }

  /// Three guided steps with DTO through the loop lower the loss; the trace's image is the loop's sample of its x_T,
  /// and its best iterate the lowest loss of the trace;
  /// an approximate method on the loop reports the loop's losses (its first loss is the loop's start loss).
  func testGuidedDescentOnTheLoop() throws {
    var rng = SeededGenerator(seed: 9)
    let (p, pr) = try problem("ddpm-linear-epsilon", scheduler: "ddim-trailing-v", xT: rng.normals(64), target: rng.normals(64).map { 0.5 * $0 })
    let loop = try DiffusersLoop(config: p.scheduler, steps: 6)
    let guide = GuidedGeneration(steps: 3, learningRate: 0.1)
    let exact = try guide.run(GuideMethod<Model>.onLoop(loop, name: "dto", method: nil) { _ in }, on: pr)
    XCTAssertLessThan(exact.losses[3][0], 0.9 * exact.losses[0][0])
    XCTAssertEqual(exact.x0, try pr.moved(xT: exact.xT, z: exact.z).loopSample(loop))
    // the best iterate is the lowest loss of the trace (what loss.csv holds), and its x_0 is the loop's image of its x_T
    let column = exact.losses.map { $0[0] }
    XCTAssertEqual(exact.bestLoss, [column.min()!])
    XCTAssertEqual(exact.bestStep, [column.firstIndex(of: column.min()!)!])
    XCTAssertEqual(pr.loss.perSample(exact.bestX0), exact.bestLoss)
    XCTAssertEqual(exact.bestX0, try pr.moved(xT: exact.bestXT, z: exact.bestZ).loopSample(loop))
    var given = GradientOptions()
    given.samplerSteps = 6
    let method = try MethodSpec("adjointdeis-1").make(given: given, defaults: PipelineDefaults.gradientOptions())
    let approximate = try guide.run(GuideMethod<Model>.onLoop(loop, name: "adjointdeis-1", method: method) { _ in }, on: pr)
    XCTAssertEqual(approximate.losses[0][0], exact.losses[0][0], accuracy: 1e-12 * exact.losses[0][0])
  }
}
