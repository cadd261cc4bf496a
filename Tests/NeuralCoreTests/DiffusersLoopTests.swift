import DiffusionCore
import Foundation
import XCTest

@testable import NeuralCore

/// `DiffusersLoop` against diffusers' own loop (scripts/fixtures/make_loop_fixtures.py): `set_timesteps(N)` for every
/// class x spacing x offset x num_train_timesteps, and on tiny UNets the final sample and the float64 autograd
/// gradient of 0.5 |x_0 - target|^2 for DDIM, DDPM (variance 0, and with its noise given) and DPMSolverMultistep
/// configs (every prediction type, clip_sample, thresholding, orders 1-3, dpmsolver++ / dpmsolver and their sde-
/// variants with the noise given, final sigmas); and DTO through the loop
/// against central differences of its own output.
final class DiffusersLoopTests: XCTestCase {
  static let loop = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/pipelines/loop")
  static let pipelines = loop.deletingLastPathComponent()

  struct Case: Decodable { let name: String; let unet: String; let steps: Int; let z: Bool; let timesteps: [Int]?; let noise: Bool? }

  static func cases() throws -> [Case] {
    try JSONDecoder().decode([Case].self, from: Data(contentsOf: loop.appendingPathComponent("cases.json")))
  }

  static func scheduler(_ name: String) throws -> SchedulerConfig {
    try SchedulerConfig.load(from: loop.appendingPathComponent("schedulers/\(name).json"))
  }

  /// set_timesteps(N), integer for integer, on every config diffusers accepts in timesteps.json.
  func testTimestepsEqualDiffusersSetTimestepsForEverySpacingAndOffset() throws {
    struct Config: Decodable {
      let num_train_timesteps: Int
      let timestep_spacing: String
      let steps_offset: Int
      let lambda_min_clipped: Double?
      let final_sigmas_type: String?
    }
    struct Entry: Decodable { let scheduler: String; let config: Config; let steps: Int; let timesteps: [Int] }
    let rows = try JSONDecoder().decode([Entry].self, from: Data(contentsOf: Self.loop.appendingPathComponent("timesteps.json")))
    XCTAssertGreaterThan(rows.count, 500)
    var checked = 0, refused = 0
    for row in rows {
      var c = SchedulerConfig(className: row.scheduler)
      c.trainSteps = row.config.num_train_timesteps
      c.timestepSpacing = SchedulerConfig.TimestepSpacing(rawValue: row.config.timestep_spacing)!
      c.stepsOffset = row.config.steps_offset
      if let l = row.config.lambda_min_clipped { c.lambdaMinClipped = l }
      let what = "\(row.scheduler) \(row.config.timestep_spacing) offset \(row.config.steps_offset) T=\(c.trainSteps) l=\(c.lambdaMinClipped) N=\(row.steps)"
      let valid = row.timesteps.allSatisfy { (0..<c.trainSteps).contains($0) } && zip(row.timesteps, row.timesteps.dropFirst()).allSatisfy { $0 > $1 }
      if valid {
        XCTAssertEqual(try c.timesteps(steps: row.steps), row.timesteps, what)
        checked += 1
      } else {  // diffusers would index outside the table or repeat a timestep: refused, naming the step count
        XCTAssertThrowsError(try c.timesteps(steps: row.steps), what) { XCTAssertEqual(($0 as? InvalidInput)?.field, "sampler-steps") }
        refused += 1
      }
    }
    XCTAssertGreaterThan(checked, 500)
    XCTAssertLessThan(refused, checked / 5)
  }

  private struct Reference {
    let xT: [Double], target: [Double], z: [Double], x0: [Double], x0Stock: [Double], gradXT: [Double], gradZ: [Double], timesteps: [Int], sigmas: [Double]?
    /// The given draws of a stochastic case, one per step.
    let noise: [[Double]]?
  }

  private func reference(_ c: Case) throws -> Reference {
    let file = try SafeTensorsFile.read(Self.loop.appendingPathComponent("references.safetensors"))
    func t(_ key: String) throws -> [Double] { try file.tensor("\(c.name).\(key)").doubles() }
    return Reference(xT: try t("x_T"), target: try t("target"), z: c.z ? try t("z") : [], x0: try t("x_0"), x0Stock: try t("x_0_stock"),
                     gradXT: try t("grad_x_T"), gradZ: c.z ? try t("grad_z") : [], timesteps: try t("timesteps").map { Int($0) },
                     sigmas: file["\(c.name).sigmas"]?.doubles(),
                     noise: c.noise == true ? try t("noise").chunked(c.steps) : nil)
  }

  private func relative(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).map { abs($0 - $1) }.max()! / b.map(abs).max()!
  }

  /// Sample and gradient to 1e-10 relative (max-norm) of diffusers' float64 loop on every fixture case; the
  /// timesteps exactly; DPMSolver's float32 sigmas bit for bit. (The stock loop, with diffusers' float32 casts,
  /// differs from the float64 one by 2e-8 to 4e-4: those casts, not this reproduction, set that gap.)
  func testSampleAndGradientEqualDiffusersLoopInFloat64() throws {
    var worst = (sample: 0.0, gradient: 0.0)
    for c in try Self.cases() {
      let p = try DiffusionPipeline<Double>.load(directory: Self.pipelines.appendingPathComponent(c.unet),
                                                 schedulerOverride: Self.loop.appendingPathComponent("schedulers/\(c.name).json"))
      let ref = try reference(c)
      var loop = try c.timesteps.map { try DiffusersLoop(config: p.scheduler, timesteps: $0) } ?? DiffusersLoop(config: p.scheduler, steps: c.steps)
      if let noise = ref.noise { loop = try loop.withNoise(noise) }
      XCTAssertEqual(loop.isStochastic, p.scheduler.isStochastic, c.name)
      XCTAssertEqual(loop.timesteps, ref.timesteps, c.name)
      if let sigmas = ref.sigmas { XCTAssertEqual(loop.sigmas, sigmas, c.name) }
      let model = try UNetNoisePredictor(model: p.unet, schedule: p.schedule)
      let loss = try SquaredDistanceLoss(target: ref.target)
      let r = try loop.gradient(model: model, xT: ref.xT, z: ref.z, batch: 1, loss: loss)
      let sample = relative(r.x0, ref.x0), gradient = relative(r.gradXT, ref.gradXT)
      XCTAssertLessThan(sample, 1e-10, "\(c.name): x_0")
      XCTAssertLessThan(gradient, 1e-10, "\(c.name): dL/dx_T")
      if c.z { XCTAssertLessThan(relative(r.gradZ, ref.gradZ), 1e-10, "\(c.name): dL/dz") }
      XCTAssertEqual(try loop.sample(model: model, xT: ref.xT, z: ref.z, batch: 1), r.x0, c.name)
      XCTAssertEqual([r.forwardCalls, r.vjpCalls], [c.steps, c.steps], c.name)
      worst = (max(worst.sample, sample), max(worst.gradient, gradient))
      print("\(c.name): sample \(sample), gradient \(gradient), stock float32 casts \(relative(ref.x0Stock, ref.x0))")
    }
    print("worst relative difference from diffusers: sample \(worst.sample), gradient \(worst.gradient)")
  }

  /// DTO through the loop against central differences of the loop's own loss (Float64, h = 1e-5), on a clipped DDIM
  /// config (also in theta), a thresholded DPM-Solver++ and a DPM-Solver-3 one, in x_T and z, batch 2 (thresholding
  /// is per image).
  func testGradientEqualsCentralDifferencesOfTheLoopsOwnOutput() throws {
    for (name, unet) in [("ddim-leading-eps-clip", "ddpm-linear-epsilon"), ("dpmpp-1-threshold", "ddpm-linear-epsilon"),
                         ("sde-dpmpp-3-trailing-cosine-v-noise", "ddpm-linear-epsilon"), ("ddpm-leading-eps-clip-noise", "ddpm-linear-epsilon"),
                         ("dpm-3-trailing-v-eulerfinal-20", "ddpm-linear-epsilon"), ("dpmpp-2-cosine100-sample-z", "dpmsolver-cosine-sample")] {
      let p = try DiffusionPipeline<Double>.load(directory: Self.pipelines.appendingPathComponent(unet),
                                                 schedulerOverride: Self.loop.appendingPathComponent("schedulers/\(name).json"))
      var loop = try DiffusersLoop(config: p.scheduler, steps: 6)
      let model = try UNetNoisePredictor(model: p.unet, schedule: p.schedule)
      var rng = SeededGenerator(seed: 17)
      let d = model.dataDimension, m = model.conditionDimension
      let xT = rng.normals(2 * d), z = rng.normals(2 * m)
      if loop.isStochastic { loop = try loop.withNoise((0..<6).map { _ in rng.normals(2 * d) }) }  // the noise is an input, held fixed
      let loss = try SquaredDistanceLoss(target: (0..<(2 * d)).map { _ in 0.3 * rng.normal() })
      let r = try loop.gradient(model: model, xT: xT, z: z, batch: 2, loss: loss)
      func value(_ xT: [Double], _ z: [Double]) throws -> Double { loss.value(try loop.sample(model: model, xT: xT, z: z, batch: 2)) }
      let h = 1e-5
      for i in [0, 41, d + 7, 2 * d - 1] {
        var plus = xT, minus = xT
        plus[i] += h
        minus[i] -= h
        let fd = (try value(plus, z) - value(minus, z)) / (2 * h)
        XCTAssertEqual(r.gradXT[i], fd, accuracy: 1e-6 * max(1, abs(fd)), "\(name) dL/dx_T[\(i)]")
      }
      if name == "ddim-leading-eps-clip" {  // dL/dtheta: two weights of the network
        let theta = model.parameters
        let withTheta = try loop.gradient(model: model, xT: xT, z: z, batch: 2, loss: loss, wantParameters: true)
        XCTAssertEqual(withTheta.gradXT, r.gradXT)
        for i in [7, theta.count - 3] {
          var plus = theta, minus = theta
          plus[i] += h
          minus[i] -= h
          let fd = (loss.value(try loop.sample(model: model.replacingParameters(plus), xT: xT, z: z, batch: 2))
            - loss.value(try loop.sample(model: model.replacingParameters(minus), xT: xT, z: z, batch: 2))) / (2 * h)
          XCTAssertEqual(withTheta.gradTheta[i], fd, accuracy: 1e-6 * max(1, abs(fd)), "\(name) dL/dtheta[\(i)]")
        }
      }
      for i in m == 0 ? [] : [0, 2 * m - 1] {
        var plus = z, minus = z
        plus[i] += h
        minus[i] -= h
        let fd = (try value(xT, plus) - value(xT, minus)) / (2 * h)
        XCTAssertEqual(r.gradZ[i], fd, accuracy: 1e-6 * max(1, abs(fd)), "\(name) dL/dz[\(i)]")
      }
    }
  }

  /// Checkpointing every k-th step gives the same gradient to the last bit, with N more forward calls.
  func testCheckpointedGradientEqualsTheStoredOne() throws {
    let name = "dpmpp-3-trailing-cosine-v"
    let p = try DiffusionPipeline<Double>.load(directory: Self.pipelines.appendingPathComponent("ddpm-linear-epsilon"),
                                               schedulerOverride: Self.loop.appendingPathComponent("schedulers/\(name).json"))
    let loop = try DiffusersLoop(config: p.scheduler, steps: 7)
    let model = try UNetNoisePredictor(model: p.unet, schedule: p.schedule)
    var rng = SeededGenerator(seed: 21)
    let xT = rng.normals(128), loss = try SquaredDistanceLoss(target: rng.normals(128))
    let stored = try loop.gradient(model: model, xT: xT, z: [], batch: 2, loss: loss)
    XCTAssertEqual(stored.recomputedCalls, 0)
    for k in [1, 3, 7, 20] {
      let r = try loop.gradient(model: model, xT: xT, z: [], batch: 2, loss: loss, checkpointEvery: k)
      XCTAssertEqual(r.gradXT, stored.gradXT, "k = \(k)")
      XCTAssertEqual(r.x0, stored.x0, "k = \(k)")
      XCTAssertEqual([r.forwardCalls, r.recomputedCalls, r.vjpCalls], [7, 7, 7], "k = \(k)")
    }
    XCTAssertThrowsError(try loop.gradient(model: model, xT: xT, z: [], batch: 2, loss: loss, checkpointEvery: 0)) {
      XCTAssertEqual(($0 as? InvalidInput)?.field, "checkpoint")
    }
  }

  /// The clamp's VJPs against central differences: clip (mask) and thresholding with s strictly inside (1, max),
  /// so that the gradient also flows through the quantile.
  func testThresholdVJPEqualsCentralDifferences() throws {
    var rng = SeededGenerator(seed: 5)
    let x = rng.normals(2 * 40).map { 2.5 * $0 }, g = rng.normals(2 * 40)
    for clamp in [DenoisedClamp.clip(range: 1.2), .threshold(ratio: 0.8, maxValue: 10)] {
      let vjp = clamp.vjp(x, batch: 2, cotangent: g)
      let h = 1e-7
      for i in 0..<x.count {
        var plus = x, minus = x
        plus[i] += h
        minus[i] -= h
        let dot = { (y: [Double]) in zip(y, g).map { $0 * $1 }.reduce(0, +) }
        let fd = (dot(clamp.apply(plus, batch: 2)) - dot(clamp.apply(minus, batch: 2))) / (2 * h)
        XCTAssertEqual(vjp[i], fd, accuracy: 1e-6, "\(clamp) [\(i)]")
      }
    }
    // s is above 1 here, so the quantile's two entries get a gradient besides the 1/s of the unclamped ones
    XCTAssertGreaterThan(DenoisedClamp.threshold(ratio: 0.8, maxValue: 10).threshold(x[0..<40]).q, 1)
  }

  /// `--variant fp16`: diffusers' half-precision save of a fixture UNet loads into Float32 and Float64 as the float16
  /// rounding of the float32 weights; without the variant the error names the variant to give.
  func testFP16VariantLoadsAsTheHalfPrecisionRoundingOfTheWeights() throws {
    let folder = Self.loop.appendingPathComponent("unet-fp16")
    let full = try DiffusionPipeline<Double>.load(directory: Self.pipelines.appendingPathComponent("ddpm-linear-epsilon/unet"))
    let half = try DiffusionPipeline<Double>.load(directory: folder, variant: "fp16")
    XCTAssertEqual(half.unet.parameters.count, full.unet.parameters.count)
    var differing = 0
    for (h, f) in zip(half.unet.parameters, full.unet.parameters) {
      XCTAssertEqual(h, Double(Float(Float16(Float(f)))))
      if h != f { differing += 1 }
    }
    XCTAssertGreaterThan(differing, half.unet.parameters.count / 2)  // the weights really were rounded to half
    XCTAssertEqual(try DiffusionPipeline<Float>.load(directory: folder, variant: "fp16").unet.parameters.map(Double.init), half.unet.parameters)
    XCTAssertThrowsError(try DiffusionPipeline<Float>.load(directory: folder)) { XCTAssertTrue("\($0)".contains("--variant fp16"), "\($0)") }
    XCTAssertThrowsError(try DiffusionPipeline<Float>.load(directory: folder, variant: "../x")) { XCTAssertEqual(($0 as? InvalidInput)?.field, "variant") }
  }

  func testConfigsTheLoopCannotReproduceAreRefusedNamingTheOption() throws {
    let heun = Data(#"{"_class_name": "HeunDiscreteScheduler"}"#.utf8)
    XCTAssertThrowsError(try SchedulerConfig.parse(heun)) { XCTAssertTrue("\($0)".contains("--scheduler-config"), "\($0)") }
    var c = try Self.scheduler("dpmpp-2-linspace-eps")
    c.loopUnsupported = ["use_karras_sigmas = true: its sigma spacing is not reproduced"]
    XCTAssertThrowsError(try DiffusersLoop(config: c, steps: 10)) { XCTAssertTrue("\($0)".contains("use_karras_sigmas") && "\($0)".contains("--pipeline-sampler continuous"), "\($0)") }
    let sde3 = Data(#"{"_class_name": "DPMSolverMultistepScheduler", "algorithm_type": "sde-dpmsolver", "solver_order": 3, "final_sigmas_type": "sigma_min"}"#.utf8)
    XCTAssertThrowsError(try DiffusersLoop(config: try SchedulerConfig.parse(sde3), steps: 10)) { XCTAssertTrue("\($0)".contains("third-order sde-dpmsolver"), "\($0)") }
    let largeLog = Data(#"{"_class_name": "DDPMScheduler", "variance_type": "fixed_large_log"}"#.utf8)
    XCTAssertThrowsError(try DiffusersLoop(config: try SchedulerConfig.parse(largeLog), steps: 10)) { XCTAssertTrue("\($0)".contains("fixed_large_log"), "\($0)") }
    // noise: only for a loop that adds it, one draw per step
    XCTAssertThrowsError(try DiffusersLoop(config: try Self.scheduler("ddim-leading-eps-clip"), steps: 3).withNoise([[0], [0], [0]])) {
      XCTAssertEqual(($0 as? InvalidInput)?.field, "noise")
      XCTAssertTrue("\($0)".contains("adds no noise"), "\($0)")
    }
    XCTAssertThrowsError(try DiffusersLoop(config: try Self.scheduler("sde-dpmpp-2-eps-noise"), steps: 3).withNoise([[0], [0]])) { XCTAssertEqual(($0 as? InvalidInput)?.field, "noise") }
    let zeroFinal = Data(#"{"_class_name": "DPMSolverMultistepScheduler", "algorithm_type": "dpmsolver"}"#.utf8)
    XCTAssertThrowsError(try SchedulerConfig.parse(zeroFinal)) { XCTAssertEqual(($0 as? InvalidInput)?.field, "final_sigmas_type") }
    XCTAssertThrowsError(try DiffusersLoop(config: try Self.scheduler("ddim-leading-eps-clip"), steps: 1001)) { XCTAssertEqual(($0 as? InvalidInput)?.field, "sampler-steps") }
    // custom timesteps: DDIM has none; they must decrease strictly inside 0..<T
    XCTAssertThrowsError(try DiffusersLoop(config: try Self.scheduler("ddim-leading-eps-clip"), timesteps: [999, 500])) { XCTAssertEqual(($0 as? InvalidInput)?.field, "timesteps") }
    for bad in [[999, 999, 3], [1000, 5], [500, -1], []] {
      XCTAssertThrowsError(try DiffusersLoop(config: try Self.scheduler("ddpm-custom-v-clip"), timesteps: bad), "\(bad)") { XCTAssertEqual(($0 as? InvalidInput)?.field, "timesteps") }
    }
  }
}

extension Array where Element == Double {
  /// n equal consecutive pieces.
  func chunked(_ n: Int) -> [[Double]] {
    let k = count / n
    return (0..<n).map { Array(self[($0 * k)..<(($0 + 1) * k)]) }
  }
}
