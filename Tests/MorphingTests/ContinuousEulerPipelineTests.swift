import DiffusionCore
import Foundation
import Integrators
import Morphing
import NeuralCore
import XCTest

/// The continuous-time schedules of the FlowMatchEuler and EDMEuler pipelines (docs/diffusers-loop.md#continuous-schedules):
/// the network output's conversion to eps and its VJPs against central differences in Float64 (the committed
/// flowmatch-tiny and edm-tiny pipelines, scripts/fixtures/make_euler_fixtures.py), the flow-matching pure-noise end,
/// convergence of DTO and AdjointDEIS /data to the RK45 reference, and of the continuous sampler to diffusers' loop.
final class ContinuousEulerPipelineTests: XCTestCase {
  static let pipelines = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../NeuralCoreTests/Fixtures/pipelines").standardizedFileURL
  typealias Model = EpsilonConversion<UNetNoisePredictor<Double>>

  private func pipeline(_ name: String) throws -> DiffusionPipeline<Double> {
    try DiffusionPipeline<Double>.load(directory: Self.pipelines.appendingPathComponent(name))
  }

  private func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).map(*).reduce(0, +) }

  /// <u, J^T w> against the central difference of <w, f> along u (x) and along a random theta direction.
  private func checkVJP(_ model: Model, t: Double, seed: UInt64, file: StaticString = #filePath, line: UInt = #line,
                        f: (Model, [Double]) throws -> [Double], vjp: (Model, [Double], [Double]) throws -> NoiseVJP) throws {
    var rng = SeededGenerator(seed: seed)
    let d = model.dataDimension
    let x = rng.normals(d).map { t * $0 + 0.3 }, w = rng.normals(d), u = rng.normals(d)
    let r = try vjp(model, x, w)
    XCTAssertEqual(r.eps, try f(model, x), "the VJP's eps field is the value", file: file, line: line)
    // h = 1e-5 and a relative 1e-6, as the loop's own VJP tests (DiffusersLoopEulerTests): the central difference's
    // h^2 term is ~3e-7 relative on this random UNet (measured), above 1e-7
    let h = 1e-5
    let plus = try f(model, zip(x, u).map { $0 + h * $1 }), minus = try f(model, zip(x, u).map { $0 - h * $1 })
    let fd = (dot(w, plus) - dot(w, minus)) / (2 * h), analytic = dot(r.x, u)
    XCTAssertEqual(analytic, fd, accuracy: 1e-6 * max(1, abs(fd)), "x at t = \(t)", file: file, line: line)
    let theta = model.parameters, ut = rng.normals(theta.count)
    let withTheta = try vjpTheta(model, x: x, w: w, t: t)
    let mp = try model.replacingParameters(zip(theta, ut).map { $0 + h * $1 }), mm = try model.replacingParameters(zip(theta, ut).map { $0 - h * $1 })
    let fdt = (dot(w, try f(mp, x)) - dot(w, try f(mm, x))) / (2 * h)
    XCTAssertEqual(dot(withTheta, ut), fdt, accuracy: 1e-6 * max(1, abs(fdt)), "theta at t = \(t)", file: file, line: line)
  }

  private func vjpTheta(_ model: Model, x: [Double], w: [Double], t: Double) throws -> [Double] {
    t == 1 && model.schedule.kind == .flowMatching
      ? try model.noiseEndVJP(x, z: [], batch: 1, cotangent: w, wantParameters: true).theta
      : try model.vjp(x, z: [], t: t, batch: 1, cotangent: w, wantParameters: true).theta
  }

  /// Flow matching: eps = (1 - t) v + x with v the network at sigma T; alpha x0-hat + sigma eps = x for x0-hat = x - t v
  /// (the loop's denoised sample); the VJPs in x and theta against central differences; at t = 1 the pure-noise end
  /// x0-hat = x - v(x, 1) and its VJP.
  func testFlowMatchingConversionAndVJPs() throws {
    let p = try pipeline("flowmatch-tiny")
    XCTAssertEqual(p.schedule.kind, .flowMatching)
    XCTAssertEqual(p.schedule.tMax, 1)
    XCTAssertNil(p.scheduler.continuousUnsupported)
    let model = try p.predictor(), net = model.model
    var rng = SeededGenerator(seed: 1)
    for t in [0.05, 0.4, 0.93] {
      let x = rng.normals(model.dataDimension)
      let v = try net.output(x, z: [], networkTime: 1000 * t, batch: 1)
      let eps = try model.eps(x, z: [], t: t, batch: 1)
      for i in x.indices {
        let x0 = x[i] - t * v[i]
        XCTAssertEqual((1 - t) * x0 + t * eps[i], x[i], accuracy: 1e-12)
      }
      try checkVJP(model, t: t, seed: 10 + UInt64(t * 100), f: { try $0.eps($1, z: [], t: t, batch: 1) },
                   vjp: { try $0.vjp($1, z: [], t: t, batch: 1, cotangent: $2, wantParameters: false) })
    }
    let x = rng.normals(model.dataDimension)
    let v = try net.output(x, z: [], networkTime: 1000, batch: 1)
    XCTAssertEqual(try model.noiseEndPrediction(x, z: [], batch: 1), zip(x, v).map { $0 - $1 })
    try checkVJP(model, t: 1, seed: 99, f: { try $0.noiseEndPrediction($1, z: [], batch: 1) },
                 vjp: { try $0.noiseEndVJP($1, z: [], batch: 1, cotangent: $2, wantParameters: false) })
  }

  /// EDM: eps = (x - x0-hat)/sigma with diffusers' preconditioning x0-hat = c_skip x + c_out F(c_in x, 0.25 log sigma);
  /// the VJPs against central differences over sigma in [0.002, 80].
  func testEDMConversionAndVJPs() throws {
    let p = try pipeline("edm-tiny")
    XCTAssertEqual(p.schedule.kind, .edm)
    XCTAssertEqual([p.schedule.tMin, p.schedule.tMax], [0.002, 80])
    let model = try p.predictor(), net = model.model
    var rng = SeededGenerator(seed: 2)
    let sd = 0.5
    for t in [0.01, 0.7, 30] {
      let x = rng.normals(model.dataDimension).map { (1 + t * t).squareRoot() * $0 }
      let r = (t * t + sd * sd).squareRoot()
      let out = try net.output(x.map { $0 / r }, z: [], networkTime: 0.25 * log(t), batch: 1)
      let eps = try model.eps(x, z: [], t: t, batch: 1)
      for i in x.indices {
        let x0 = sd * sd / (t * t + sd * sd) * x[i] + t * sd / r * out[i]
        XCTAssertEqual(eps[i], (x[i] - x0) / t, accuracy: 1e-12 * max(1, abs(eps[i])))
      }
      try checkVJP(model, t: t, seed: 20 + UInt64(t * 100), f: { try $0.eps($1, z: [], t: t, batch: 1) },
                   vjp: { try $0.vjp($1, z: [], t: t, batch: 1, cotangent: $2, wantParameters: false) })
    }
  }

  private func problem(_ p: DiffusionPipeline<Double>, seed: UInt64) throws -> PipelineProblem<Model> {
    var rng = SeededGenerator(seed: seed)
    let d = p.sampleShape.reduce(1, *)
    return try PipelineProblem(model: try p.predictor(), schedule: p.schedule, shape: p.sampleShape, xT: rng.normals(d), z: [],
                               loss: try PixelLoss(kind: .squaredDistance, target: rng.normals(d).map { 0.5 * $0 }, dimension: d))
  }

  private func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    (zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / b.map { $0 * $0 }.reduce(0, +)).squareRoot()
  }

  /// On the flow-matching pipeline from pure noise (T = 1): DTO through the continuous dpm-solver-2m and AdjointDEIS-2M
  /// in the data form approach the RK45 reference gradient as N grows (errors strictly decreasing, the last small).
  func testFlowMatchingGradientsConvergeToTheReference() throws {
    let pr = try problem(try pipeline("flowmatch-tiny"), seed: 5)
    var reference = GradientOptions()
    (reference.rtol, reference.atol) = (1e-8, 1e-8)
    let exact = try pr.gradient(try MethodSpec("rk45").make(given: reference, defaults: PipelineDefaults.gradientOptions()))
    for spec in ["dto/dpm-solver-2m", "adjointdeis-2m/data"] {
      var errors: [Double] = []
      for n in [8, 16, 32] {
        var given = GradientOptions()
        given.samplerSteps = n
        let r = try pr.gradient(try MethodSpec(spec).make(given: given, defaults: PipelineDefaults.gradientOptions(schedule: pr.schedule)))
        errors.append(relativeError(r.gradXT, exact.gradXT))
      }
      XCTAssertLessThan(errors[1], errors[0], "\(spec): \(errors)")
      XCTAssertLessThan(errors[2], errors[1], "\(spec): \(errors)")
      XCTAssertLessThan(errors[2], 0.05, "\(spec): \(errors)")
    }
  }

  /// A pipeline run's AdjointDEIS defaults to the form that converges on its schedule (PipelineDefaults.adjoint): the
  /// data form on flow matching and EDM, where it gives the same gradient as naming `/data`; `/noise` (or an SDE,
  /// which has the eps form only) keeps the paper's form; on a VP pipeline the angle form, never the data form.
  func testPipelineAdjointDEISDefaultsToTheDataFormOffVP() throws {
    for name in ["flowmatch-tiny", "edm-tiny"] {
      let p = try pipeline(name), pr = try problem(p, seed: 5)
      let defaults = PipelineDefaults.adjoint(PipelineDefaults.gradientOptions(schedule: pr.schedule), schedule: pr.schedule,
                                              prediction: p.scheduler.predictionType)
      var given = GradientOptions()
      given.samplerSteps = 8
      let byDefault = try MethodSpec("adjointdeis-2m").make(given: given, defaults: defaults)
      let named = try MethodSpec("adjointdeis-2m/data").make(given: given, defaults: PipelineDefaults.gradientOptions(schedule: pr.schedule))
      XCTAssertTrue(byDefault.label.hasSuffix("/data"), "\(name): \(byDefault.label)")
      XCTAssertEqual(try pr.gradient(byDefault).gradXT, try pr.gradient(named).gradXT, "\(name)")
      XCTAssertFalse(try MethodSpec("adjointdeis-2m/noise").make(given: given, defaults: defaults).label.hasSuffix("/data"), name)
      XCTAssertFalse(try MethodSpec("adjointdeis-3m").make(given: given, defaults: defaults).label.hasSuffix("/data"), name)
    }
    let vp = try pipeline("ddpm-linear-epsilon")
    let defaults = PipelineDefaults.adjoint(PipelineDefaults.gradientOptions(schedule: vp.schedule), schedule: vp.schedule,
                                            prediction: vp.scheduler.predictionType)
    let label = try MethodSpec("adjointdeis-2m").make(given: GradientOptions(), defaults: defaults).label
    XCTAssertTrue(label.hasSuffix("/angle"), label)
  }

  /// The continuous dpm-solver-2m sampler and diffusers' FlowMatchEuler loop discretize the same ODE from the same
  /// x_T: their samples at N steps each draw together as N grows (measured: 0.037, 0.0074, 0.0046 at N = 5, 20, 80;
  /// the floor is the continuous run's end at t_eps = the loop's last nonzero sigma, where the loop takes one more step to 0).
  func testContinuousSamplerApproachesTheLoop() throws {
    let p = try pipeline("flowmatch-tiny")
    let pr = try problem(p, seed: 6)
    var gaps: [Double] = []
    for n in [5, 20, 80] {
      let loop = try DiffusersLoop(config: p.scheduler, steps: n)
      let a = try pr.sample(.dpmSolver2M, steps: n, spacing: .timeUniform), b = try pr.loopSample(loop)
      gaps.append(relativeError(a, b))
    }
    XCTAssertLessThan(gaps[1], gaps[0], "\(gaps)")
    XCTAssertLessThan(gaps[2], gaps[1], "\(gaps)")
  }

  /// EDM: the continuous start is sqrt(1 + sigma_max^2) x_T as the loop's init_noise_sigma, and DTO on the karras
  /// grid agrees with DTO through the loop better at N = 40 than at N = 10.
  func testEDMStartScaleAndGradientAgreement() throws {
    let p = try pipeline("edm-tiny")
    let pr = try problem(p, seed: 7)
    XCTAssertEqual(pr.startScale, (1 + 80.0 * 80).squareRoot())
    var errors: [Double] = []
    for n in [10, 40] {
      let exact = try pr.loopGradient(try DiffusersLoop(config: p.scheduler, steps: n))
      var given = GradientOptions()
      given.samplerSteps = n
      let r = try pr.gradient(try MethodSpec("dto/dpm-solver-2m").make(given: given, defaults: PipelineDefaults.gradientOptions(schedule: pr.schedule)))
      errors.append(relativeError(r.gradXT, exact.gradXT))
    }
    XCTAssertLessThan(errors[1], errors[0], "\(errors)")
    XCTAssertLessThan(errors[1], 0.2, "\(errors)")
  }

  /// EulerDiscrete keeps the VP schedule of its betas: its loop (in x / alpha coordinates, the network at
  /// x / sqrt(s^2 + 1) = the VP state) and the continuous dpm-solver-2m on that schedule draw together as N grows,
  /// for epsilon and v_prediction (measured: 0.035, 0.026, 0.0098 and 0.45, 0.10, 0.025 at N = 5, 20, 80).
  func testEulerDiscreteLoopAndTheVPScheduleAgree() throws {
    for name in ["euler-linspace-eps", "euler-trailing-v"] {
      let p = try DiffusionPipeline<Double>.load(directory: Self.pipelines.appendingPathComponent("ddpm-linear-epsilon"),
                                                 schedulerOverride: Self.pipelines.appendingPathComponent("loop/euler/schedulers/\(name).json"))
      XCTAssertTrue(p.schedule.isVariancePreserving)
      let pr = try problem(p, seed: 8)
      var gaps: [Double] = []
      for n in [5, 20, 80] {
        let a = try pr.sample(.dpmSolver2M, steps: n, spacing: .timeUniform), b = try pr.loopSample(try DiffusersLoop(config: p.scheduler, steps: n))
        gaps.append(relativeError(a, b))
      }
      XCTAssertLessThan(gaps[1], gaps[0], "\(name): \(gaps)")
      XCTAssertLessThan(gaps[2], gaps[1], "\(name): \(gaps)")
    }
  }

  /// DTO from pure noise is the exact gradient of its sampler, whose first step uses the network's x0-hat = x - v(x, 1):
  /// dL/dx_T against central differences of the sampled loss along two directions (Float64, h = 1e-5; the noise-end
  /// VJP's x part is most of it: without it the first step would pass only (sigma_t/sigma_T) of the cotangent).
  func testDTOFromPureNoiseEqualsCentralDifferences() throws {
    let pr = try problem(try pipeline("flowmatch-tiny"), seed: 11)
    var given = GradientOptions()
    given.samplerSteps = 6
    let r = try pr.gradient(try MethodSpec("dto/dpm-solver-2m").make(given: given, defaults: PipelineDefaults.gradientOptions(schedule: pr.schedule)))
    func loss(_ xT: [Double]) throws -> Double {
      pr.loss.value(try pr.moved(xT: xT, z: []).sample(.dpmSolver2M, steps: 6, spacing: .timeUniform))
    }
    XCTAssertEqual(pr.loss.value(r.x0), try loss(pr.xT), accuracy: 1e-12 * max(1, abs(pr.loss.value(r.x0))))
    var rng = SeededGenerator(seed: 12)
    let h = 1e-5
    for _ in 0..<2 {
      let u = rng.normals(pr.xT.count)
      let fd = (try loss(zip(pr.xT, u).map { $0 + h * $1 }) - loss(zip(pr.xT, u).map { $0 - h * $1 })) / (2 * h)
      XCTAssertEqual(dot(r.gradXT, u), fd, accuracy: 1e-6 * max(1, abs(fd)))
    }
  }
}
