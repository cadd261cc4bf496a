import DiffusionCore
import Foundation
import XCTest

@testable import NeuralCore

/// Pipeline folders made by diffusers (scripts/fixtures/make_pipeline_fixtures.py): the scheduler configs give
/// diffusers' alphas_cumprod to the last bit and the continuous schedule reproduces it at every training step;
/// prediction types convert to eps with VJPs that match finite differences; bad folders are errors naming the file.
final class PipelineLoadingTests: XCTestCase {
  static let pipelines = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/pipelines")
  static let names = ["ddpm-linear-epsilon", "ddim-scaled-linear-v", "dpmsolver-cosine-sample", "ddim-trained-betas", "ddpm-cifar10-layout", "ddpm-class-labels"]

  func testAlphasCumprodAndTheContinuousScheduleMatchDiffusersAtEveryTrainingStep() throws {
    let dir = Self.pipelines.appendingPathComponent("schedules")
    let reference = try SafeTensorsFile.read(dir.appendingPathComponent("alphas_cumprod.safetensors"))
    let configs = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
    XCTAssertEqual(configs.count, 9)
    for file in configs {
      let name = String(file.dropLast(5))
      let expected = try reference.tensor("alphas_cumprod." + name).doubles()
      let config = try SchedulerConfig.load(from: dir.appendingPathComponent(file))
      let computed = config.alphasCumprod()
      XCTAssertEqual(computed.count, expected.count, name)
      let schedule = try config.schedule()
      let n = Double(expected.count)
      var worst = 0.0, worstSchedule = 0.0
      for i in expected.indices {
        worst = max(worst, abs(computed[i] - expected[i]))
        let t = Double(i + 1) / n  // knot i of DPM-Solver's discrete schedule
        worstSchedule = max(worstSchedule, abs(schedule.alpha(t) * schedule.alpha(t) - expected[i]))
        worstSchedule = max(worstSchedule, abs(schedule.sigma(t) * schedule.sigma(t) - (1 - expected[i])))
      }
      XCTAssertLessThanOrEqual(worst, 1e-12, "\(name): alphas_cumprod")
      XCTAssertLessThanOrEqual(worstSchedule, 1e-12, "\(name): alpha_t^2, sigma_t^2 at t_i = (i+1)/N")
      // and lambda's inverse returns the knots
      for i in [0, expected.count / 3, expected.count - 1] {
        let t = Double(i + 1) / n
        XCTAssertEqual(schedule.t(lambda: schedule.lambda(t)), t, accuracy: 1e-10, "\(name): t(lambda(t_\(i)))")
      }
    }
  }

  func testPipelinesLoadWithTheirSchedulerAndPredictionType() throws {
    let expected: [String: (PredictionType, Int, Int)] = [
      "ddpm-linear-epsilon": (.epsilon, 1000, 0), "ddim-scaled-linear-v": (.vPrediction, 1000, 0),
      "dpmsolver-cosine-sample": (.sample, 100, 16), "ddim-trained-betas": (.epsilon, 50, 0), "ddpm-cifar10-layout": (.epsilon, 1000, 0),
      "ddpm-class-labels": (.epsilon, 1000, 16),
    ]
    for name in Self.names {
      let p = try DiffusionPipeline<Float>.load(directory: Self.pipelines.appendingPathComponent(name))
      let (prediction, steps, m) = expected[name]!
      XCTAssertEqual(p.scheduler.predictionType, prediction, name)
      XCTAssertEqual(p.schedule.trainingSteps, steps, name)
      XCTAssertEqual(try p.predictor().conditionDimension, m, name)
      XCTAssertTrue(p.scheduler.notApplied.contains { $0.hasPrefix("timestep_spacing") }, name)
    }
    let cifar = try DiffusionPipeline<Float>.load(directory: Self.pipelines.appendingPathComponent("ddpm-cifar10-layout"))
    XCTAssertEqual(cifar.sampleShape, [3, 32, 32])
    XCTAssertEqual(cifar.scheduler.className, "DDPMScheduler")
    XCTAssertTrue(cifar.scheduler.notApplied.contains { $0.hasPrefix("clip_sample = true") })
    // num_class_embeds: the embedding table is kept apart, labels pick its rows as z
    let labelled = try DiffusionPipeline<Float>.load(directory: Self.pipelines.appendingPathComponent("ddpm-class-labels"))
    XCTAssertEqual(labelled.classEmbedding?.count, 3 * 16)
    XCTAssertEqual(try labelled.z(classLabels: [2, 0]), Array(labelled.classEmbedding![32..<48] + labelled.classEmbedding![0..<16]))
    XCTAssertThrowsError(try labelled.z(classLabels: [3])) { XCTAssertTrue("\($0)".contains("outside 0..<3"), "\($0)") }
    XCTAssertThrowsError(try cifar.z(classLabels: [0])) { XCTAssertTrue("\($0)".contains("no class embedding"), "\($0)") }
  }

  /// A bare UNet folder (config.json + weights) takes diffusers' DDPMScheduler defaults, or the scheduler config given.
  func testBareUNetFolderWithDefaultOrGivenScheduler() throws {
    let bare = Self.pipelines.appendingPathComponent("ddim-scaled-linear-v/unet")
    let plain = try DiffusionPipeline<Float>.load(directory: bare)
    XCTAssertNil(plain.schedulerFile)
    XCTAssertEqual(plain.scheduler, SchedulerConfig())
    XCTAssertEqual(plain.schedule, try NoiseSchedule.discrete(alphasCumprod: DiffusersBetas.alphasCumprod(DiffusersBetas.linear(start: 1e-4, end: 0.02, count: 1000)), name: "DDPMScheduler/linear"))
    let given = Self.pipelines.appendingPathComponent("ddim-scaled-linear-v/scheduler/scheduler_config.json")
    let withScheduler = try DiffusionPipeline<Float>.load(directory: bare, schedulerOverride: given)
    XCTAssertEqual(withScheduler.scheduler.predictionType, .vPrediction)
    XCTAssertEqual(withScheduler.scheduler.betaSchedule, .scaledLinear)
  }

  /// eps = a out + b x for sample and v prediction: values from the definitions, VJPs in x, z and theta against
  /// central differences (Float64, h = 1e-5, tolerance 1e-6 relative as for the UNet itself).
  func testPredictionTypeConversionVJPs() throws {
    let p = try DiffusionPipeline<Double>.load(directory: Self.pipelines.appendingPathComponent("dpmsolver-cosine-sample"))
    let raw = try UNetNoisePredictor(model: p.unet, schedule: p.schedule)
    var rng = SeededGenerator(seed: 3)
    let x = rng.normals(128), z = rng.normals(32), v = rng.normals(128)
    for prediction in PredictionType.allCases {
      let model = EpsilonConversion(raw, prediction: prediction, schedule: p.schedule)
      for t in [0.05, 0.6] {
        let (alpha, sigma) = (p.schedule.alpha(t), p.schedule.sigma(t))
        let out = try raw.eps(x, z: z, t: t, batch: 2), eps = try model.eps(x, z: z, t: t, batch: 2)
        for i in [0, 77] {
          let want: Double
          switch prediction {
          case .epsilon: want = out[i]
          case .sample: want = (x[i] - alpha * out[i]) / sigma  // x_t = alpha x_0 + sigma eps
          case .vPrediction: want = alpha * out[i] + sigma * x[i]  // v = alpha eps - sigma x_0
          }
          XCTAssertEqual(eps[i], want, accuracy: 1e-12 * max(1, abs(want)))
        }
        let r = try model.vjp(x, z: z, t: t, batch: 2, cotangent: v, wantParameters: true)
        for i in eps.indices { XCTAssertEqual(r.eps[i], eps[i], accuracy: 1e-12 * max(1, abs(eps[i]))) }
        let what = "\(prediction.rawValue) t=\(t)"
        let fdX = try FiniteDifferences.gradient(x, indices: [0, 63, 127]) { FiniteDifferences.dot(v, try model.eps($0, z: z, t: t, batch: 2)) }
        FiniteDifferences.assertClose(r.x, fdX, tolerance: 1e-6, "vjp_x " + what)
        let fdZ = try FiniteDifferences.gradient(z, indices: [1, 30]) { FiniteDifferences.dot(v, try model.eps(x, z: $0, t: t, batch: 2)) }
        FiniteDifferences.assertClose(r.z, fdZ, tolerance: 1e-6, "vjp_z " + what)
        let theta = model.parameters
        let fdTheta = try FiniteDifferences.gradient(theta, indices: [3, theta.count - 2]) {
          FiniteDifferences.dot(v, try model.replacingParameters($0).eps(x, z: z, t: t, batch: 2))
        }
        FiniteDifferences.assertClose(r.theta, fdTheta, tolerance: 1e-6, "vjp_theta " + what)
      }
    }
  }

  /// `make-pipeline`'s writer: the folder loads back to the same config and weights (F32), for every built-in layout's
  /// config, and the scheduler config back to the same schedule.
  func testWrittenPipelinesLoadBackExactly() throws {
    for config in [UNetConfig.cifar10, .small, .tiny] {
      XCTAssertEqual(try UNetConfig.parse(Data(config.diffusersJSON.utf8)), config)
    }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("written-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    let unet = try UNet2DModel<Float>(config: .tiny, seed: 5)
    var scheduler = SchedulerConfig()
    scheduler.predictionType = .vPrediction
    scheduler.betaSchedule = .scaledLinear
    try DiffusionPipeline<Float>.write(unet: unet, scheduler: scheduler, to: dir)
    let back = try DiffusionPipeline<Float>.load(directory: dir)
    XCTAssertEqual(back.unet.config, unet.config)
    XCTAssertEqual(back.unet.parameters, unet.parameters)
    XCTAssertEqual(back.scheduler.predictionType, .vPrediction)
    XCTAssertEqual(back.schedule, try scheduler.schedule())
    XCTAssertThrowsError(try DiffusionPipeline<Float>.write(unet: unet, scheduler: scheduler, to: dir)) {
      XCTAssertTrue("\($0)".contains("already holds a pipeline"), "\($0)")
    }
  }

  // MARK: - bad folders

  private func copyOfFixture(_ name: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-\(UUID().uuidString)")
    try FileManager.default.copyItem(at: Self.pipelines.appendingPathComponent(name), to: dir)
    addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
  }

  private func assertRejects(_ dir: URL, naming file: String, saying words: String, line: UInt = #line) {
    do {
      _ = try DiffusionPipeline<Float>.load(directory: dir)
      XCTFail("loaded a bad pipeline", line: line)
    } catch let e as InvalidInput {
      XCTAssertTrue(e.field.contains(file), "error does not name \(file): \(e)", line: line)
      XCTAssertTrue("\(e)".contains(words), "error does not say '\(words)': \(e)", line: line)
    } catch {
      XCTFail("unexpected error \(error)", line: line)
    }
  }

  private func edit(_ url: URL, _ change: (inout [String: Any]) -> Void) throws {
    var json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    change(&json)
    try JSONSerialization.data(withJSONObject: json).write(to: url)
  }

  func testBadFoldersAreErrorsNamingTheFile() throws {
    let fm = FileManager.default
    assertRejects(Self.pipelines.appendingPathComponent("schedules"), naming: "schedules", saying: "not a diffusers pipeline folder")
    assertRejects(Self.pipelines.appendingPathComponent("nonexistent"), naming: "nonexistent", saying: "no such directory")

    var dir = try copyOfFixture("ddpm-linear-epsilon")
    try fm.removeItem(at: dir.appendingPathComponent("unet/diffusion_pytorch_model.safetensors"))
    assertRejects(dir, naming: "unet/diffusion_pytorch_model.safetensors", saying: "missing")

    dir = try copyOfFixture("ddpm-linear-epsilon")
    try fm.removeItem(at: dir.appendingPathComponent("scheduler/scheduler_config.json"))
    assertRejects(dir, naming: "scheduler/scheduler_config.json", saying: "missing")

    dir = try copyOfFixture("ddpm-linear-epsilon")
    try fm.removeItem(at: dir.appendingPathComponent("unet/config.json"))
    assertRejects(dir, naming: "unet/config.json", saying: "missing")

    dir = try copyOfFixture("ddpm-linear-epsilon")
    try edit(dir.appendingPathComponent("scheduler/scheduler_config.json")) { $0["_class_name"] = "HeunDiscreteScheduler" }
    assertRejects(dir, naming: "scheduler_config.json: _class_name", saying: "HeunDiscreteScheduler")

    dir = try copyOfFixture("ddpm-linear-epsilon")
    try edit(dir.appendingPathComponent("scheduler/scheduler_config.json")) { $0["prediction_type"] = "flow_prediction" }
    assertRejects(dir, naming: "scheduler_config.json: prediction_type", saying: "flow_prediction")

    dir = try copyOfFixture("ddpm-linear-epsilon")
    try edit(dir.appendingPathComponent("scheduler/scheduler_config.json")) { $0["beta_schedule"] = "sigmoid" }
    assertRejects(dir, naming: "scheduler_config.json: beta_schedule", saying: "sigmoid")

    dir = try copyOfFixture("ddpm-linear-epsilon")
    try edit(dir.appendingPathComponent("scheduler/scheduler_config.json")) { $0["rescale_betas_zero_snr"] = true }
    assertRejects(dir, naming: "scheduler_config.json: rescale_betas_zero_snr", saying: "terminal SNR")

    dir = try copyOfFixture("ddpm-linear-epsilon")
    try edit(dir.appendingPathComponent("model_index.json")) { $0["vae"] = ["diffusers", "AutoencoderKL"] }
    assertRejects(dir, naming: "model_index.json", saying: "vae")

    // weights that do not match the config: the config asks for wider blocks than the file holds
    dir = try copyOfFixture("ddpm-linear-epsilon")
    try edit(dir.appendingPathComponent("unet/config.json")) { $0["block_out_channels"] = [8, 8] }
    assertRejects(dir, naming: "unet/diffusion_pytorch_model.safetensors", saying: "do not match config.json")

    dir = try copyOfFixture("ddpm-linear-epsilon")
    try edit(dir.appendingPathComponent("unet/config.json")) { $0["down_block_types"] = ["CrossAttnDownBlock2D", "DownBlock2D"] }
    assertRejects(dir, naming: "unet/config.json: down_block_types", saying: "CrossAttnDownBlock2D")
  }
}
