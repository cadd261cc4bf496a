import DiffusionCore
import Foundation
import TestSupport
import XCTest

@testable import NeuralCore

/// The Euler-family loops (FlowMatchEulerDiscrete, EulerDiscrete, EDMEuler) against diffusers' own loop
/// (scripts/fixtures/make_euler_fixtures.py): set_timesteps' sigmas and network times bit for bit, the final sample
/// and the float64 autograd gradient of 0.5 |x_0 - target|^2 w.r.t. the noise x_T (and z) to 1e-10; DTO through a
/// flow-matching loop against central differences; contradictory configs refused naming the field.
final class DiffusersLoopEulerTests: XCTestCase {
  static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/pipelines/loop/euler")
  static let pipelines = folder.deletingLastPathComponent().deletingLastPathComponent()

  struct Case: Decodable { let name: String; let unet: String; let steps: Int; let z: Bool; let mu: Double? }

  static func cases() throws -> [Case] {
    try JSONDecoder().decode([Case].self, from: Data(contentsOf: folder.appendingPathComponent("cases.json")))
  }

  static func pipeline(_ c: Case) throws -> DiffusionPipeline<Double> {
    try DiffusionPipeline<Double>.load(directory: pipelines.appendingPathComponent(c.unet),
                                       schedulerOverride: folder.appendingPathComponent("schedulers/\(c.name).json"))
  }

  private func relative(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).map { abs($0 - $1) }.max()! / b.map(abs).max()!
  }

  /// Every fixture case: sigmas and network times equal diffusers' bit for bit, sample and gradients to 1e-10.
  func testSampleAndGradientEqualDiffusersEulerLoopsInFloat64() throws {
    let file = try SafeTensorsFile.read(Self.folder.appendingPathComponent("references.safetensors"))
    let cases = try Self.cases()
    XCTAssertEqual(cases.count, 27)
    var worst = (sample: 0.0, gradient: 0.0)
    for c in cases {
      func t(_ key: String) throws -> [Double] { try file.tensor("\(c.name).\(key)").doubles() }
      let p = try Self.pipeline(c)
      var loop = try DiffusersLoop(config: p.scheduler, steps: c.steps, mu: c.mu)
      if let noise = file["\(c.name).noise"]?.doubles() {  // stochastic_sampling: the draws step takes in turn
        XCTAssertTrue(loop.isStochastic)
        let d = noise.count / c.steps
        loop = try loop.withNoise((0..<c.steps).map { Array(noise[($0 * d)..<(($0 + 1) * d)]) })
      }
      XCTAssertEqual(loop.sigmas, try t("sigmas"), "\(c.name): sigmas")
      XCTAssertEqual(loop.networkTimes, try t("timesteps"), "\(c.name): network times")
      let model = try UNetNoisePredictor(model: p.unet, schedule: p.schedule)
      let z = c.z ? try t("z") : []
      let r = try loop.gradient(model: model, xT: try t("x_T"), z: z, batch: 1, loss: try SquaredDistanceLoss(target: try t("target")))
      let sample = relative(r.x0, try t("x_0")), gradient = relative(r.gradXT, try t("grad_x_T"))
      XCTAssertLessThan(sample, 1e-10, "\(c.name): x_0")
      XCTAssertLessThan(gradient, 1e-10, "\(c.name): dL/dx_T")
      if c.z { XCTAssertLessThan(relative(r.gradZ, try t("grad_z")), 1e-10, "\(c.name): dL/dz") }
      XCTAssertEqual(try loop.sample(model: model, xT: try t("x_T"), z: z, batch: 1), r.x0, c.name)
      XCTAssertEqual([r.forwardCalls, r.vjpCalls], [c.steps, c.steps], c.name)
      worst = (max(worst.sample, sample), max(worst.gradient, gradient))
      let gz = c.z ? relative(r.gradZ, try t("grad_z")) : -1
      // one line per fixture for scripts/measure-euler-loop.sh
      print("euler-fixture \(c.name) \(p.scheduler.className) \(c.steps) \(sample) \(gradient) \(gz) \(relative(try t("x_0_stock"), try t("x_0")))")
    }
    print("worst relative difference from diffusers (Euler family): sample \(worst.sample), gradient \(worst.gradient)")
  }

  /// DTO through the flow-matching loop (shift 3, dynamic shifting, z, stochastic with given noise; also EDM and
  /// Karras EulerDiscrete) against central differences of the loop's own
  /// loss (Float64, h = 1e-5), batch 2, in x_T and z; and checkpointing gives the same gradient to the last bit.
  func testFlowMatchGradientEqualsCentralDifferences() throws {
    for c in try Self.cases() where ["fm-shift3", "fm-dynamic-mu", "fm-shift3-z", "fm-shift3-stochastic", "edm-karras-v", "euler-karras-eps"].contains(c.name) {
      let p = try Self.pipeline(c)
      var loop = try DiffusersLoop(config: p.scheduler, steps: 6, mu: c.mu)
      let model = try UNetNoisePredictor(model: p.unet, schedule: p.schedule)
      var rng = SeededGenerator(seed: 23)
      let d = model.dataDimension, m = model.conditionDimension
      if loop.isStochastic { loop = try loop.withNoise((0..<6).map { _ in rng.normals(2 * d) }) }
      let xT = rng.normals(2 * d), z = rng.normals(2 * m)
      let loss = try SquaredDistanceLoss(target: (0..<(2 * d)).map { _ in 0.3 * rng.normal() })
      let r = try loop.gradient(model: model, xT: xT, z: z, batch: 2, loss: loss)
      XCTAssertEqual(try loop.gradient(model: model, xT: xT, z: z, batch: 2, loss: loss, checkpointEvery: 4).gradXT, r.gradXT, c.name)
      func value(_ xT: [Double], _ z: [Double]) throws -> Double { loss.value(try loop.sample(model: model, xT: xT, z: z, batch: 2)) }
      let h = 1e-5
      for i in [0, 29, d + 3, 2 * d - 1] {
        var plus = xT, minus = xT
        plus[i] += h
        minus[i] -= h
        let fd = (try value(plus, z) - value(minus, z)) / (2 * h)
        XCTAssertEqual(r.gradXT[i], fd, accuracy: 1e-6 * max(1, abs(fd)), "\(c.name) dL/dx_T[\(i)]")
      }
      for i in m == 0 ? [] : [1, 2 * m - 2] {
        var plus = z, minus = z
        plus[i] += h
        minus[i] -= h
        let fd = (try value(xT, plus) - value(xT, minus)) / (2 * h)
        XCTAssertEqual(r.gradZ[i], fd, accuracy: 1e-6 * max(1, abs(fd)), "\(c.name) dL/dz[\(i)]")
      }
    }
  }

  /// The flow-matching pipeline folder loads with its scheduler and its continuous-time schedule (flow-matching from
  /// pure noise to the loop's last nonzero sigma, shift 3 for the shifted grid); only invert_sigmas is refused to the
  /// continuous-time methods, with the reason; EulerDiscrete keeps its VP schedule, EDMEuler gets edm on [sigma_min, sigma_max].
  func testFlowMatchPipelineLoadsWithItsContinuousSchedule() throws {
    let p = try DiffusionPipeline<Double>.load(directory: Self.pipelines.appendingPathComponent("flowmatch-tiny"))
    XCTAssertEqual(p.scheduler.euler?.kind, .flowMatch)
    XCTAssertEqual(p.scheduler.euler?.shift, 3)
    XCTAssertNil(p.scheduler.continuousUnsupported)
    XCTAssertEqual(p.schedule.kind, .flowMatching)
    XCTAssertEqual(p.schedule.tMax, 1)
    XCTAssertEqual(p.schedule.grids.shift, 3)
    XCTAssertEqual(p.scheduler.ignored, [])
    XCTAssertEqual(p.scheduler.predictionName, "velocity (flow matching)")
    let loop = try DiffusersLoop(config: p.scheduler, steps: 8)
    XCTAssertEqual(loop.label, "FlowMatchEulerDiscreteScheduler/shift-3.0 network times 1000.0...8.928571701049805 (8)")
    let euler = try SchedulerConfig.load(from: Self.folder.appendingPathComponent("schedulers/euler-karras-eps.json"))
    XCTAssertNil(euler.continuousUnsupported)
    XCTAssertTrue(euler.notApplied.contains { $0.hasPrefix("use_karras_sigmas") })
    XCTAssertTrue(try euler.schedule().isVariancePreserving)
    let inverted = try SchedulerConfig.load(from: Self.folder.appendingPathComponent("schedulers/fm-invert.json"))
    XCTAssertTrue(inverted.continuousUnsupported?.contains("invert_sigmas") ?? false)
    let edm = try SchedulerConfig.load(from: Self.folder.appendingPathComponent("schedulers/edm-karras-rho5-sigmamin.json"))
    let schedule = try edm.schedule()
    XCTAssertEqual(schedule.kind, .edm)
    XCTAssertEqual([schedule.tMin, schedule.tMax, schedule.grids.rho], [edm.euler!.sigmaMin!, edm.euler!.sigmaMax!, 5])
  }

  /// Seeded mutations of every fixture config (values replaced by extremes, keys dropped or added) and random step
  /// counts and mu: each either builds a loop whose sigmas and network times are finite, or throws an InvalidInput;
  /// never a crash or another error.
  func testMutatedEulerConfigsEitherBuildAFiniteLoopOrThrowInvalidInput() throws {
    var rng = SeededGenerator(seed: 22)
    var built = 0, refused = 0
    for c in try Self.cases() {
      let text = try Data(contentsOf: Self.folder.appendingPathComponent("schedulers/\(c.name).json"))
      let json = try JSONReader.parse(text, source: c.name, nonFiniteLiterals: true)
      for _ in 0..<60 {
        var mutated = json
        for _ in 0..<(1 + Int(rng.next() % 3)) { mutated = JSONMutation.mutate(mutated, &rng) }
        let steps = [1, 2, 3, 7, 16, 33, 1000][Int(rng.next() % 7)]
        let mu: Double? = rng.next() % 2 == 0 ? c.mu : [0.5, -3, 800, 1e-300][Int(rng.next() % 4)]
        do {
          let loop = try DiffusersLoop(config: try SchedulerConfig.parse(Data(JSONMutation.render(mutated).utf8)), steps: steps, mu: mu)
          XCTAssertTrue(loop.sigmas.allSatisfy(\.isFinite) && loop.networkTimes.allSatisfy(\.isFinite) && loop.initNoiseSigma.isFinite,
                        JSONMutation.render(mutated))
          XCTAssertEqual(loop.steps.count, steps)
          built += 1
        } catch is InvalidInput {
          refused += 1
        }
      }
    }
    XCTAssertGreaterThan(built, 100)
    XCTAssertGreaterThan(refused, 500)
    print("mutated Euler-family configs: \(built) loops built, \(refused) refused")
  }

  /// Contradictory or unreproduced fields: one error naming the field, with the reason.
  func testBadEulerConfigsAreRefusedNamingTheField() throws {
    func parse(_ json: String) throws -> SchedulerConfig { try SchedulerConfig.parse(Data(json.utf8)) }
    let fm = #""_class_name": "FlowMatchEulerDiscreteScheduler""#
    let edm = #""_class_name": "EDMEulerScheduler""#
    let euler = #""_class_name": "EulerDiscreteScheduler""#
    XCTAssertThrowsInvalid(try parse("{\(fm), \"shift\": 0}"), field: "shift")
    XCTAssertThrowsInvalid(try parse("{\(fm), \"shift\": -2}"), field: "shift")
    XCTAssertThrowsInvalid(try parse("{\(fm), \"shift_terminal\": 1.0}"), field: "shift_terminal")
    // stochastic_sampling: the draws of every step, of the right size; without them the loop runs its mean path (every draw 0)
    let stochastic = try DiffusersLoop(config: try parse("{\(fm), \"stochastic_sampling\": true}"), steps: 3)
    let p = try DiffusionPipeline<Double>.load(directory: Self.pipelines.appendingPathComponent("flowmatch-tiny"))
    let model = try UNetNoisePredictor(model: p.unet, schedule: p.schedule)
    let xT = [Double](repeating: 0.1, count: model.dataDimension)
    XCTAssertThrowsInvalid(try stochastic.withNoise([xT, xT]), field: "noise")
    XCTAssertThrowsInvalid(try stochastic.withNoise([xT, xT, [1]]), field: "noise")
    XCTAssertThrowsInvalid(try stochastic.withNoise([[1], [1], [1]]).sample(model: model, xT: xT, z: [], batch: 1), field: "noise")
    let meanPath = try stochastic.sample(model: model, xT: xT, z: [], batch: 1)
    let noisy = try stochastic.withNoise([xT, xT, xT]).sample(model: model, xT: xT, z: [], batch: 1)
    XCTAssertNotEqual(meanPath, noisy)  // the draws enter the sample
    let deterministic = try DiffusersLoop(config: try parse("{\(fm)}"), steps: 3)
    XCTAssertThrowsInvalid(try deterministic.withNoise([xT, xT, xT]), field: "noise")
    XCTAssertThrowsInvalid(try parse("{\(fm), \"use_beta_sigmas\": true}"), field: "use_beta_sigmas")
    XCTAssertThrowsInvalid(try parse("{\(fm), \"use_karras_sigmas\": true, \"use_exponential_sigmas\": true}"), field: "use_karras_sigmas")
    XCTAssertThrowsInvalid(try parse("{\(fm), \"time_shift_type\": \"cubic\"}"), field: "time_shift_type")
    XCTAssertThrowsInvalid(try parse("{\(edm), \"sigma_min\": 90}"), field: "sigma_min")
    XCTAssertThrowsInvalid(try parse("{\(edm), \"sigma_min\": 0}"), field: "sigma_min")
    XCTAssertThrowsInvalid(try parse("{\(edm), \"sigma_data\": 0}"), field: "sigma_data")
    XCTAssertThrowsInvalid(try parse("{\(edm), \"rho\": -1}"), field: "rho")
    XCTAssertThrowsInvalid(try parse("{\(edm), \"prediction_type\": \"sample\"}"), field: "prediction_type")
    XCTAssertThrowsInvalid(try parse("{\(edm), \"sigma_schedule\": \"linear\"}"), field: "sigma_schedule")
    XCTAssertThrowsInvalid(try parse("{\(euler), \"interpolation_type\": \"log_linear\"}"), field: "interpolation_type")
    XCTAssertThrowsInvalid(try parse("{\(euler), \"rescale_betas_zero_snr\": true}"), field: "rescale_betas_zero_snr")
    XCTAssertThrowsInvalid(try parse("{\(euler), \"prediction_type\": \"v_prediction\", \"timestep_type\": \"continuous\"}"), field: "timestep_type")
    XCTAssertThrowsInvalid(try parse("{\(euler), \"use_karras_sigmas\": true, \"sigma_min\": 5, \"sigma_max\": 1}"), field: "sigma_min")
    XCTAssertTrue(invalidInputReason { try parse("{\(fm), \"shift\": 0}") }.hasPrefix("shift: must be positive"))
    XCTAssertEqual(try parse("{\(fm), \"prediction_type\": \"epsilon\"}").ignored, ["prediction_type: not an option of FlowMatchEulerDiscreteScheduler (diffusers ignores it too)"])
    XCTAssertTrue(invalidInputReason { try parse("{\(euler), \"rescale_betas_zero_snr\": true}") }.contains("2^-24"))
    // mu: needed with dynamic shifting, refused without it; custom timesteps and step counts diffusers would misindex
    let dynamic = try parse("{\(fm), \"use_dynamic_shifting\": true}")
    XCTAssertThrowsInvalid(try DiffusersLoop(config: dynamic, steps: 8), field: "mu")
    XCTAssertThrowsInvalid(try DiffusersLoop(config: try parse("{\(fm)}"), steps: 8, mu: 0.5), field: "mu")
    XCTAssertThrowsInvalid(try DiffusersLoop(config: try parse("{\(fm), \"use_dynamic_shifting\": true, \"time_shift_type\": \"linear\"}"), steps: 8, mu: -1), field: "mu")
    XCTAssertThrowsInvalid(try DiffusersLoop(config: try parse("{\(euler)}"), steps: 0), field: "sampler-steps")
    XCTAssertThrowsInvalid(try DiffusersLoop(config: try parse("{\(euler)}"), timesteps: [999, 500]), field: "timesteps")
    XCTAssertThrowsInvalid(try DiffusersLoop(config: try parse("{\(euler), \"timestep_spacing\": \"leading\", \"steps_offset\": 1}"), steps: 1000), field: "sampler-steps")
    XCTAssertThrowsInvalid(try DiffusersLoop(config: try parse("{\(euler), \"timestep_spacing\": \"leading\"}"), steps: 1001), field: "sampler-steps")
    XCTAssertThrowsInvalid(try DiffusersLoop(config: try parse("{\"_class_name\": \"DDIMScheduler\"}"), steps: 8, mu: 1), field: "mu")
  }
}
