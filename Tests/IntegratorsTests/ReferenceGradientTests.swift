import DiffusionCore
import Foundation
import XCTest

@testable import Integrators

/// The RK45 reference gradient against closed forms and central finite differences of the RK45 forward solve.
/// FD step 1e-5 (central); RK45 at rtol = atol = 1e-12 on both sides.
final class ReferenceGradientTests: XCTestCase {
  let schedule = NoiseSchedule.vpLinear
  let T = 1.0, tEps = 1e-3
  let fdStep = 1e-5

  func gaussian() -> TestGaussian {
    TestGaussian(schedule: schedule, dataDimension: 3, conditionDimension: 2, mu: [0.3, -0.5, 0.8],
                 w: [0.4, -0.2, 0.1, 0.5, -0.3, 0.2], logS: [log(0.7), log(1.2), log(0.5)])
  }

  func mixture() -> TestMixture1D {
    TestMixture1D(schedule: schedule, mu: [-1.2, 0.9], b: [0.5, -0.3], logS: [log(0.4), log(0.6)], logits: [0.2, -0.1])
  }

  func reference(_ states: ReferenceAdjoint.StateSource) throws -> ReferenceAdjoint {
    try ReferenceAdjoint(rtol: 1e-12, atol: 1e-12, states: states)
  }

  // MARK: - The test models' VJPs

  /// Every VJP entry of both test models against central differences of `v . eps` (h = 1e-6, tolerance 1e-8 relative
  /// to max(1, |fd|)), at three times and a batch of 2.
  func testModelVJPsAgainstFiniteDifferences() throws {
    var rng = SeededGenerator(seed: 7)
    try checkVJP(gaussian(), rng: &rng)
    try checkVJP(mixture(), rng: &rng)
  }

  func checkVJP<M: NoisePredictor>(_ model: M, rng: inout SeededGenerator) throws {
    let d = model.dataDimension, m = model.conditionDimension, batch = 2, h = 1e-6
    for t in [2e-3, 0.3, 0.9] {
      let x = rng.normals(batch * d), z = rng.normals(batch * m), v = rng.normals(batch * d)
      let vjp = try model.vjp(x, z: z, t: t, batch: batch, cotangent: v, wantParameters: true)
      XCTAssertEqual(vjp.eps, try model.eps(x, z: z, t: t, batch: batch))
      func dot(_ e: [Double]) -> Double { zip(e, v).reduce(0) { $0 + $1.0 * $1.1 } }
      func check(_ analytic: Double, _ plus: Double, _ minus: Double, _ what: String) {
        let fd = (plus - minus) / (2 * h)
        XCTAssertEqual(analytic, fd, accuracy: 1e-8 * max(1, abs(fd)), "\(M.self) \(what) t=\(t)")
      }
      for i in 0..<x.count {
        var xp = x, xm = x
        xp[i] += h; xm[i] -= h
        check(vjp.x[i], dot(try model.eps(xp, z: z, t: t, batch: batch)), dot(try model.eps(xm, z: z, t: t, batch: batch)), "x[\(i)]")
      }
      for i in 0..<z.count {
        var zp = z, zm = z
        zp[i] += h; zm[i] -= h
        check(vjp.z[i], dot(try model.eps(x, z: zp, t: t, batch: batch)), dot(try model.eps(x, z: zm, t: t, batch: batch)), "z[\(i)]")
      }
      let theta = model.parameters
      XCTAssertEqual(vjp.theta.count, theta.count)
      for i in 0..<theta.count {
        var tp = theta, tm = theta
        tp[i] += h; tm[i] -= h
        let plus = dot(try model.replacingParameters(tp).eps(x, z: z, t: t, batch: batch))
        let minus = dot(try model.replacingParameters(tm).eps(x, z: z, t: t, batch: batch))
        check(vjp.theta[i], plus, minus, "theta[\(i)]")
      }
    }
  }

  // MARK: - Against the closed form

  /// The single Gaussian's PF-ODE map is known in closed form: x_0 to 1e-10 and all gradients to 1e-10 relative to each
  /// block's largest entry, for both x_t sources; the forward dense solution matches the exact path x_t to 1e-9.
  func testGaussianAgainstClosedForm() throws {
    let model = gaussian()
    let xT = [0.9, -1.3, 0.4], z = [0.6, -0.8], target = [0.5, 0.1, -0.2]
    let loss = try SquaredDistanceLoss(target: target)
    let exactX0 = model.exactX0(xT: xT, z: z, T: T, tEps: tEps)
    let exact = model.exactGradient(xT: xT, z: z, T: T, tEps: tEps, target: target)
    for source in ReferenceAdjoint.StateSource.allCases {
      let r = try reference(source).gradient(model: model, schedule: schedule, T: T, tEps: tEps, xT: xT, z: .constant(z), loss: loss)
      print("reference \(source) (Gaussian, d = 3): eps \(r.sampling.eps), vjp \(r.adjoint.vjp), \(r.statistics)")
      for j in 0..<3 { XCTAssertEqual(r.x0[j], exactX0[j], accuracy: 1e-10) }
      XCTAssertEqual(r.gradZ.count, 1)
      assertClose(r.gradXT, exact.xT, 1e-10, "\(source) x_T")
      assertClose(r.gradZ[0], exact.z, 1e-10, "\(source) z")
      assertClose(r.gradTheta, exact.theta, 1e-10, "\(source) theta")
    }
    // The forward dense solution on the exact path x_t = alpha_t m + sqrt(D_t/D_T)(x_T - alpha_T m).
    let forward = try reference(.interpolate).sampleODE(model: model, schedule: schedule, T: T, tEps: tEps, xT: xT, z: .constant(z))
    for t in [0.0123, 0.2, 0.5377, 0.9] {
      let xt = try forward.state(t)
      let exactXt = model.exactX0(xT: xT, z: z, T: T, tEps: t)
      for j in 0..<3 { XCTAssertEqual(xt[j], exactXt[j], accuracy: 1e-9, "x(\(t))") }
    }
  }

  /// The `discrete` schedule (split at its 1000 knots, where f jumps): x_0 to 1e-10 and gradients to 1e-10 of the
  /// closed form, backsolve, on a shorter range to stay fast.
  func testDiscreteScheduleAgainstClosedForm() throws {
    let discrete = NoiseSchedule.discrete
    var model = gaussian()
    model = TestGaussian(schedule: discrete, dataDimension: 3, conditionDimension: 2, mu: model.mu, w: model.w, logS: model.logS)
    let xT = [0.9, -1.3, 0.4], z = [0.6, -0.8], target = [0.5, 0.1, -0.2]
    let (T, tEps) = (0.3, 0.05)
    let r = try reference(.backsolve).gradient(model: model, schedule: discrete, T: T, tEps: tEps, xT: xT, z: .constant(z),
                                              loss: try SquaredDistanceLoss(target: target))
    XCTAssertEqual(r.statistics["intervals"], 250)
    let exactX0 = model.exactX0(xT: xT, z: z, T: T, tEps: tEps)
    let exact = model.exactGradient(xT: xT, z: z, T: T, tEps: tEps, target: target)
    for j in 0..<3 { XCTAssertEqual(r.x0[j], exactX0[j], accuracy: 1e-10) }
    assertClose(r.gradXT, exact.xT, 1e-10, "discrete x_T")
    assertClose(r.gradZ[0], exact.z, 1e-10, "discrete z")
    assertClose(r.gradTheta, exact.theta, 1e-10, "discrete theta")
  }

  // MARK: - Against finite differences of the RK45 forward solve

  /// Gaussian (d = 3, m = 2): constant z and a 3-step z schedule, both x_t sources, 1e-6 relative to each block's
  /// largest entry.
  func testGaussianAgainstFiniteDifferences() throws {
    try checkAgainstFiniteDifferences(gaussian(), xT: [0.9, -1.3, 0.4], zRows: [[0.6, -0.8], [0.1, 0.3], [-0.5, 0.2]],
                                      target: [0.5, 0.1, -0.2])
  }

  /// The nonlinear 1-d two-component mixture: constant z and a 3-step z schedule, both x_t sources, 1e-6 relative.
  func testMixtureAgainstFiniteDifferences() throws {
    try checkAgainstFiniteDifferences(mixture(), xT: [0.35], zRows: [[0.7], [-0.4], [0.25]], target: [0.6])
  }

  func checkAgainstFiniteDifferences<M: NoisePredictor>(_ model: M, xT: [Double], zRows: [[Double]], target: [Double]) throws {
    let loss = try SquaredDistanceLoss(target: target)
    let grid = try TimeGrid(schedule: schedule, tEps: tEps, T: T, steps: zRows.count, spacing: .lambda)
    let forwardSolver = try reference(.interpolate)
    for z in [Conditioning.constant(zRows[0]), .perStep(zRows)] {
      let samplingGrid: TimeGrid? = z.count == 1 ? nil : grid
      func lossOf(_ model: M, _ xT: [Double], _ z: Conditioning) throws -> Double {
        loss.value(try forwardSolver.sampleODE(model: model, schedule: schedule, T: T, tEps: tEps, xT: xT, z: z,
                                               samplingGrid: samplingGrid).x0)
      }
      let fdXT = try centralDifferences(xT) { try lossOf(model, $0, z) }
      let fdZ: [[Double]] = try (0..<z.count).map { row in
        try centralDifferences(z.z(step: row)) { zr in
          if case var .perStep(rows) = z { rows[row] = zr; return try lossOf(model, xT, .perStep(rows)) }
          return try lossOf(model, xT, .constant(zr))
        }
      }
      let fdTheta = try centralDifferences(model.parameters) { try lossOf(try model.replacingParameters($0), xT, z) }
      for source in ReferenceAdjoint.StateSource.allCases {
        let r = try reference(source).gradient(model: model, schedule: schedule, T: T, tEps: tEps, xT: xT, z: z,
                                              samplingGrid: samplingGrid, loss: loss)
        let label = "\(M.self) \(source) z rows \(z.count)"
        XCTAssertEqual(r.loss, try lossOf(model, xT, z), accuracy: 1e-14)
        XCTAssertEqual(r.gradZ.count, z.count)
        assertClose(r.gradXT, fdXT, 1e-6, "\(label) x_T")
        for row in 0..<z.count { assertClose(r.gradZ[row], fdZ[row], 1e-6, "\(label) z[\(row)]") }
        assertClose(r.gradTheta, fdTheta, 1e-6, "\(label) theta")
      }
    }
  }

  /// A z schedule whose rows are all equal gives the constant-z gradient split into rows that sum to it.
  func testScheduleRowsSumToConstantGradient() throws {
    let model = gaussian(), xT = [0.9, -1.3, 0.4], z = [0.6, -0.8]
    let loss = try SquaredDistanceLoss(target: [0.5, 0.1, -0.2])
    let grid = try TimeGrid(schedule: schedule, tEps: tEps, T: T, steps: 4, spacing: .timeUniform)
    let solver = try reference(.interpolate)
    let constant = try solver.gradient(model: model, schedule: schedule, T: T, tEps: tEps, xT: xT, z: .constant(z), loss: loss)
    let perStep = try solver.gradient(model: model, schedule: schedule, T: T, tEps: tEps, xT: xT,
                                      z: .perStep(Array(repeating: z, count: 4)), samplingGrid: grid, loss: loss)
    XCTAssertEqual(perStep.gradZ.count, 4)
    let summed = (0..<2).map { k in perStep.gradZ.reduce(0) { $0 + $1[k] } }
    assertClose(summed, constant.gradZ[0], 1e-8, "rows summed")
    // The row of the step at T (row 0) differs from the row of the last step (row 3).
    XCTAssertGreaterThan(abs(perStep.gradZ[0][0] - perStep.gradZ[3][0]), 1e-6)
  }

  // MARK: - Inputs

  func testInvalidInputs() throws {
    let model = gaussian(), solver = try reference(.backsolve)
    let loss = try SquaredDistanceLoss(target: [0, 0, 0])
    func expectInvalid(_ field: String, _ body: () throws -> Void) {
      XCTAssertThrowsError(try body()) { XCTAssertEqual(($0 as? InvalidInput)?.field, field, "\($0)") }
    }
    expectInvalid("x_T") { _ = try solver.gradient(model: model, schedule: self.schedule, T: 1, tEps: 1e-3, xT: [1, 2], z: .constant([0, 0]), loss: loss) }
    expectInvalid("x_T") { _ = try solver.gradient(model: model, schedule: self.schedule, T: 1, tEps: 1e-3, xT: [1, .nan, 0], z: .constant([0, 0]), loss: loss) }
    expectInvalid("z") { _ = try solver.gradient(model: model, schedule: self.schedule, T: 1, tEps: 1e-3, xT: [1, 2, 3], z: .constant([0]), loss: loss) }
    expectInvalid("z") { _ = try solver.gradient(model: model, schedule: self.schedule, T: 1, tEps: 1e-3, xT: [1, 2, 3], z: .perStep([[0, 0]]), loss: loss) }
    expectInvalid("t_eps") { _ = try solver.gradient(model: model, schedule: self.schedule, T: 0.5, tEps: 0.5, xT: [1, 2, 3], z: .constant([0, 0]), loss: loss) }
    expectInvalid("T") { _ = try solver.gradient(model: model, schedule: self.schedule, T: 2, tEps: 0.5, xT: [1, 2, 3], z: .constant([0, 0]), loss: loss) }
    let grid = try TimeGrid(schedule: schedule, tEps: 0.01, T: 1, steps: 2, spacing: .lambda)
    expectInvalid("grid") { _ = try solver.gradient(model: model, schedule: self.schedule, T: 1, tEps: 1e-3, xT: [1, 2, 3], z: .perStep([[0, 0], [0, 0]]), samplingGrid: grid, loss: loss) }
    expectInvalid("z") { _ = try solver.gradient(model: model, schedule: self.schedule, T: 1, tEps: 0.01, xT: [1, 2, 3], z: .perStep([[0, 0]]), samplingGrid: grid, loss: loss) }
    expectInvalid("rtol") { _ = try ReferenceAdjoint(rtol: 0) }
  }

  // MARK: - Helpers

  /// Central differences of a scalar function, step `fdStep`.
  func centralDifferences(_ p: [Double], _ f: ([Double]) throws -> Double) throws -> [Double] {
    try (0..<p.count).map { i in
      var plus = p, minus = p
      plus[i] += fdStep
      minus[i] -= fdStep
      return (try f(plus) - f(minus)) / (2 * fdStep)
    }
  }

  /// |a_i - b_i| <= tolerance * max_j |b_j| for every i (relative to the block's largest entry).
  func assertClose(_ a: [Double], _ b: [Double], _ tolerance: Double, _ label: String,
                   file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, label, file: file, line: line)
    let scale = b.map(abs).max() ?? 0
    var worst = 0.0
    for i in 0..<min(a.count, b.count) { worst = max(worst, abs(a[i] - b[i])) }
    print(String(format: "  %@: worst deviation %.2e relative to the block max %.3e", label, worst / max(scale, 1e-300), scale))
    XCTAssertLessThanOrEqual(worst, tolerance * scale, "\(label): \(a) vs \(b)", file: file, line: line)
  }
}
