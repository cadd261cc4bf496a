import DiffusionCore
import Foundation
import Integrators
import Morphing
import NeuralCore
import TestSupport
import XCTest

/// Gradients and guided generation on diffusers pipeline folders (fixtures by scripts/fixtures/make_pipeline_fixtures.py):
/// the testbed's DDIM (DPM-Solver-1) reproduces diffusers' DDIMScheduler.step for every scheduler and prediction
/// type; the DTO gradient equals central differences of the DDIM output's loss; guided descent lowers the loss;
/// PNG images decode as Pillow wrote them and are refused at the wrong size or channel count.
final class PipelineGuideTests: XCTestCase {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../NeuralCoreTests/Fixtures/pipelines").standardizedFileURL
  static let names = ["ddpm-linear-epsilon", "ddim-scaled-linear-v", "dpmsolver-cosine-sample", "ddim-trained-betas", "ddpm-cifar10-layout", "ddpm-class-labels"]

  static func pipeline(_ name: String) throws -> DiffusionPipeline<Double> {
    try DiffusionPipeline<Double>.load(directory: fixtures.appendingPathComponent(name))
  }

  /// diffusers ran 4 DDIM steps (eta 0, leading spacing) from timestep k_0 down to k_4 with the UNet in float64 and
  /// exact time features; DPM-Solver-1 on the grid t = (k + 1)/N is the same map (docs/math.md#dpm-solver-1), so the
  /// only differences are round-off (measured below 1e-14 relative): tolerance 1e-12 relative to the sample's size.
  func testDDIMOnTheDiscreteScheduleMatchesDiffusersDDIMSchedulerForEveryPredictionType() throws {
    for name in Self.names {
      let p = try Self.pipeline(name)
      let reference = try SafeTensorsFile.read(Self.fixtures.appendingPathComponent("\(name)/ddim-reference.safetensors"))
      let timesteps = try reference.tensor("timesteps").doubles()
      let ratio = timesteps[0] - timesteps[1]
      let n = Double(p.schedule.trainingSteps!)
      let times = (timesteps + [timesteps.last! - ratio]).reversed().map { ($0 + 1) / n }
      let grid = try TimeGrid(schedule: p.schedule, times: times)
      let xT = try reference.tensor("x_T").doubles()
      let labels = reference["class_labels"].map { $0.doubles().map { Int($0) } }
      let z = try labels.map { try p.z(classLabels: $0) } ?? reference["z"]?.doubles() ?? []
      let x = try Sampler(kind: .dpmSolver1).sample(model: try p.predictor(), grid: grid, xT: xT, z: .constant(z)).x0
      let expected = try reference.tensor("x_K").doubles()
      let scale = expected.map(abs).max()!
      let worst = zip(x, expected).map { abs($0 - $1) }.max()!
      XCTAssertLessThan(worst, 1e-12 * scale, "\(name) (\(p.scheduler.predictionType.rawValue)): max |x - diffusers| = \(worst)")
    }
  }

  private func problem(_ name: String, batch: Int, seed: UInt64) throws -> PipelineProblem<EpsilonConversion<UNetNoisePredictor<Double>>> {
    let p = try Self.pipeline(name)
    let model = try p.predictor()
    var rng = SeededGenerator(seed: seed)
    let d = model.dataDimension
    let target = (0..<(batch * d)).map { _ in 0.5 * rng.normal() }
    let z = rng.normals(batch * model.conditionDimension)
    return try PipelineProblem(model: model, schedule: p.schedule, shape: p.sampleShape, xT: rng.normals(batch * d), z: z,
                               loss: try PixelLoss(kind: .squaredDistance, target: target, dimension: d))
  }

  /// `gradient --pipeline --pipeline-sampler continuous --solver dto` (the same call) against central differences of L(DDIM(x_T, z)), Float64,
  /// N = 5, h = 1e-5: agreement to 1e-6 relative (the finite difference's own error is ~1e-9 here).
  func testDTOGradientEqualsFiniteDifferencesOfTheDDIMOutput() throws {
    for name in ["ddim-scaled-linear-v", "dpmsolver-cosine-sample"] {
      let pr = try problem(name, batch: 2, seed: 5)
      var given = GradientOptions()
      given.samplerSteps = 5
      let r = try pr.gradient(try MethodSpec("dto").make(given: given, defaults: PipelineDefaults.gradientOptions()))
      func loss(_ xT: [Double], _ z: [Double]) throws -> Double {
        pr.loss.value(try pr.moved(xT: xT, z: z).sample(.dpmSolver1, steps: 5, spacing: .timeUniform))
      }
      XCTAssertEqual(r.loss, try loss(pr.xT, pr.z), accuracy: 1e-12 * r.loss)
      let h = 1e-5
      for i in [0, 37, pr.xT.count - 1] {
        var plus = pr.xT, minus = pr.xT
        plus[i] += h
        minus[i] -= h
        let fd = (try loss(plus, pr.z) - loss(minus, pr.z)) / (2 * h)
        XCTAssertEqual(r.gradXT[i], fd, accuracy: 1e-6 * max(1, abs(fd)), "\(name) dL/dx_T[\(i)]")
      }
      for i in pr.z.isEmpty ? [] : [0, pr.z.count - 1] {
        var plus = pr.z, minus = pr.z
        plus[i] += h
        minus[i] -= h
        let fd = (try loss(pr.xT, plus) - loss(pr.xT, minus)) / (2 * h)
        XCTAssertEqual(r.gradZ[0][i], fd, accuracy: 1e-6 * max(1, abs(fd)), "\(name) dL/dz[\(i)]")
      }
    }
  }

  /// Three guided steps with the exact gradient of the sampled loss (DTO) lower every image's loss, and the lockstep
  /// batch gives each image the run it would have alone. (On these random-weight networks AdjointDEIS-1 needs more
  /// steps: at N = 6 its gradient has cosine -0.7 with DTO's, at N = 20 0.99.)
  func testGuidedDescentLowersTheLossAndBatchesInLockstep() throws {
    let pr = try problem("ddim-scaled-linear-v", batch: 2, seed: 9)
    var given = GradientOptions()
    given.samplerSteps = 6
    let setup = try MethodSpec("dto").make(given: given, defaults: PipelineDefaults.gradientOptions())
    let method = GuideMethod<EpsilonConversion<UNetNoisePredictor<Double>>>(
      name: "dto", gradient: { try $0.gradient(setup) }, sample: { try $0.sample(.dpmSolver1, steps: 6, spacing: .timeUniform) })
    let guide = GuidedGeneration(steps: 3, learningRate: 0.1)
    let both = try guide.run(method, on: pr)
    XCTAssertEqual(both.losses.count, 4)
    for p in 0..<2 { XCTAssertLessThan(both.losses[3][p], 0.9 * both.losses[0][p], "image \(p)") }
    let d = pr.shape.reduce(1, *)
    let second = try PipelineProblem(model: pr.model.model, schedule: pr.schedule, shape: pr.shape, xT: Array(pr.xT[d...]), z: [],
                                     loss: try PixelLoss(kind: .squaredDistance, target: Array(pr.loss.target[d...]), dimension: d))
    let alone = try guide.run(method, on: second)
    for k in 0..<4 { XCTAssertEqual(alone.losses[k][0], both.losses[k][1], accuracy: 1e-9 * both.losses[k][1]) }
    for i in 0..<d { XCTAssertEqual(alone.xT[i], both.xT[d + i], accuracy: 1e-9) }
  }

  /// `gradient --pipeline --solver adjointdeis-gl-1 --linear-part isotropic --statistics FILE` (the same calls): one image's statistics,
  /// block-diagonal over the batch, give each image the gradient of its own batch-1 run; without statistics the
  /// network cannot supply them and the error names the option to give.
  func testGaussianLinearGradientWithOneImagesStatisticsForEachImage() throws {
    let pr = try problem("ddim-scaled-linear-v", batch: 2, seed: 11)
    let d = pr.shape.reduce(1, *)
    let one = try DataStatistics(mean: [Double](repeating: 0.1, count: d), variance: 0.4, field: "statistics")
    func method(images: Int) throws -> any GradientMethod {
      var given = GradientOptions()
      (given.samplerSteps, given.linearPart) = (6, .isotropic)
      given.statistics = try DataStatistics.blockDiagonal([DataStatistics](repeating: one, count: images))
      return try MethodSpec("adjointdeis-gl-1").make(given: given, defaults: PipelineDefaults.gradientOptions())
    }
    let both = try pr.gradient(method(images: 2))
    let second = try PipelineProblem(model: pr.model.model, schedule: pr.schedule, shape: pr.shape, xT: Array(pr.xT[d...]), z: [],
                                     loss: try PixelLoss(kind: .squaredDistance, target: Array(pr.loss.target[d...]), dimension: d))
    let alone = try second.gradient(method(images: 1))
    for i in 0..<d { XCTAssertEqual(both.gradXT[d + i], alone.gradXT[i], accuracy: 1e-10 * max(1, abs(alone.gradXT[i]))) }
    // what `guide` samples for the method is the x_0 its gradient saw (the Gaussian-linear sampler's), not DDIM's
    let sampled = try pr.sample(for: method(images: 2), kind: .dpmSolver1, steps: 6, spacing: .timeUniform)
    for i in 0..<(2 * d) { XCTAssertEqual(sampled[i], both.x0[i], accuracy: 1e-12 * max(1, abs(both.x0[i]))) }
    let ddim = try pr.sample(.dpmSolver1, steps: 6, spacing: .timeUniform)
    XCTAssertGreaterThan(zip(ddim, both.x0).map { abs($0 - $1) }.max()!, 1e-6, "the linear part changes the sample")
    var given = GradientOptions()
    (given.samplerSteps, given.linearPart) = (6, .isotropic)
    XCTAssertThrowsInvalid(try pr.gradient(MethodSpec("adjointdeis-gl-1").make(given: given, defaults: PipelineDefaults.gradientOptions())),
                           field: "linear-part")
  }

  // MARK: - images

  func testPNGDecodingMatchesPillowForEveryColorTypeAndFilter() throws {
    let dir = Self.fixtures.appendingPathComponent("images")
    let expected = try SafeTensorsFile.read(dir.appendingPathComponent("pixels.safetensors"))
    XCTAssertEqual(expected.names.count, 8)
    for name in expected.names {
      let t = try expected.tensor(name)
      let png = try PNGPixels.read(dir.appendingPathComponent(name + ".png"))
      XCTAssertEqual([png.height, png.width, png.channels], t.shape, name)
      XCTAssertEqual(png.bytes.map(Double.init), t.doubles(), name)
    }
  }

  func testPNGRoundTripAndModelScaling() throws {
    var rng = SeededGenerator(seed: 4)
    for channels in [1, 3] {
      let bytes = (0..<(channels * 5 * 7)).map { _ in UInt8(rng.next() % 256) }
      let png = try PNGPixels(channels: channels, height: 5, width: 7, bytes: bytes)
      XCTAssertEqual(try PNGPixels.decode(try png.pngData()), png)
      let values = ModelImage.values(png)
      XCTAssertEqual(values.min()!, -1, accuracy: 1)  // in [-1, 1]
      XCTAssertTrue(values.allSatisfy { $0 >= -1 && $0 <= 1 })
      XCTAssertEqual(try ModelImage.pixels(values[...], channels: channels, height: 5, width: 7), png)
    }
    // 0 -> -1, 255 -> 1, and the (C, H, W) order: channel 1 of pixel (0, 1) is byte 4 of (H, W, C)
    let png = try PNGPixels(channels: 3, height: 1, width: 2, bytes: [0, 255, 51, 102, 204, 255])
    let expected: [Double] = [0, 102, 255, 204, 51, 255].map { 2 * $0 / 255.0 - 1 }
    XCTAssertEqual(ModelImage.values(png), expected)
  }

  func testImagesOfTheWrongSizeOrChannelCountAreRefusedNamingTheFile() throws {
    let dir = Self.fixtures.appendingPathComponent("images")
    func assertRefused(_ file: String, channels: Int, saying words: String, line: UInt = #line) {
      XCTAssertThrowsError(try ModelImage.read(dir.appendingPathComponent(file), channels: channels, height: 8, width: 8), line: line) { e in
        let text = "\(e)"
        XCTAssertTrue(text.contains(file) && text.contains(words), text, line: line)
      }
    }
    assertRefused("rgb-4x8.png", channels: 3, saying: "4 x 8 pixels")
    assertRefused("gray.png", channels: 3, saying: "gray image")
    assertRefused("rgb.png", channels: 1, saying: "RGB image")
    XCTAssertEqual(try ModelImage.read(dir.appendingPathComponent("rgb.png"), channels: 3, height: 8, width: 8).count, 192)
    var damaged = try [UInt8](Data(contentsOf: dir.appendingPathComponent("rgb.png")))
    damaged[40] ^= 0xff
    XCTAssertThrowsError(try PNGPixels.decode(Data(damaged))) { XCTAssertTrue("\($0)".contains("CRC"), "\($0)") }
    XCTAssertThrowsError(try PNGPixels.decode(Data(damaged[0..<50]))) { XCTAssertTrue("\($0)".contains("IEND") || "\($0)".contains("past the end"), "\($0)") }
  }

  func testInputFilesOfTheWrongShapeAreRefusedNamingTheFile() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("inputs-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let xT = dir.appendingPathComponent("xT.safetensors")
    try SafeTensorsFile.write([.init("x_T", shape: [2, 1, 8, 8], doubles: [Double](repeating: 0.5, count: 128))], to: xT)
    XCTAssertThrowsError(try PipelineInputs.readXT(xT, shape: [3, 8, 8])) { XCTAssertTrue("\($0)".contains("xT.safetensors") && "\($0)".contains("(B, 3, 8, 8)"), "\($0)") }
    XCTAssertEqual(try PipelineInputs.readXT(xT, shape: [1, 8, 8]).batch, 2)
    XCTAssertThrowsError(try PipelineInputs.readTarget(xT, batch: 2, shape: [1, 8, 8])) { XCTAssertTrue("\($0)".contains("no tensor named 'target'"), "\($0)") }
    XCTAssertThrowsError(try PipelineInputs.readTarget(Self.fixtures.appendingPathComponent("images/rgb.png"), batch: 1, shape: [3, 16, 16])) {
      XCTAssertTrue("\($0)".contains("rgb.png") && "\($0)".contains("16 x 16"), "\($0)")
    }
    let mask = try PipelineInputs.readMask(Self.fixtures.appendingPathComponent("images/gray.png"), batch: 2, shape: [3, 8, 8])
    XCTAssertEqual(mask.count, 2 * 192)
    XCTAssertEqual(mask[0], mask[64])  // a gray mask applies to every channel
    XCTAssertThrowsError(try PixelLoss(kind: .maskedSquaredDistance, target: [0, 0], dimension: 2)) { XCTAssertTrue("\($0)".contains("mask")) }
  }
}
