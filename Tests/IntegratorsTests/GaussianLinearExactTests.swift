import DiffusionCore
import Foundation
import ToyModels
import XCTest

@testable import Integrators

extension TestGaussian: DataStatisticsProvider {
  /// N(mu + W z, diag(s^2)): its own mean and covariance.
  func dataStatistics(z: [Double]) throws -> DataStatistics {
    let s2 = logS.map { exp(2 * $0) }
    let isotropic = s2.allSatisfy { $0 == s2[0] }
    if isotropic { return try DataStatistics(mean: mean(z[...]), variance: s2[0], field: "test") }
    let d = dataDimension
    var q = [Double](repeating: 0, count: d * d)
    for i in 0..<d { q[i * d + i] = 1 }
    return try DataStatistics(mean: mean(z[...]), eigenvalues: s2, eigenvectors: q, field: "test")
  }
}

/// On Gaussian data the Jacobian of eps is the linear part itself (R = 0), so the adjoint with a Gaussian linear part
/// is exact at every M, M = 1 included (docs/gaussian-linear-part.md#a-x). The exact gradient comes from the closed-form
/// flow map, which shares no code with the solver: along the PF-ODE of N(m, Q diag(s^2) Q^T),
/// `x_t = alpha_t m + Q diag(D_t / D_T) Q^T (x_T - alpha_T m)`, `D_t = sqrt(alpha_t^2 s^2 + sigma_t^2)`, so
/// `dL/dx_T = Q diag(D_0 / D_T) Q^T g` and `dL/dm = alpha_0 g - alpha_T dL/dx_T`, g = dL/dx_0.
final class GaussianLinearExactTests: XCTestCase {
  let schedule = NoiseSchedule.vpLinear
  let (tEps, T) = (1e-3, 1.0)

  /// The closed-form flow `x_t` and the gradients for data N(m, Q diag(s2) Q^T) (Q row-major, columns = eigenvectors).
  struct Flow {
    let m: [Double], s2: [Double], q: [Double], xT: [Double], schedule: NoiseSchedule, T: Double
    func scale(_ t: Double, _ k: Int) -> Double {
      let (a, s, aT, sT) = (schedule.alpha(t), schedule.sigma(t), schedule.alpha(T), schedule.sigma(T))
      return (a * a * s2[k] + s * s).squareRoot() / (aT * aT * s2[k] + sT * sT).squareRoot()
    }
    /// `Q diag(f_k) Q^T v`.
    func apply(_ f: (Int) -> Double, _ v: [Double]) -> [Double] {
      let d = v.count
      var out = [Double](repeating: 0, count: d)
      for k in 0..<d {
        var p = 0.0
        for i in 0..<d { p += q[i * d + k] * v[i] }
        for i in 0..<d { out[i] += q[i * d + k] * f(k) * p }
      }
      return out
    }
    func state(_ t: Double) -> [Double] {
      let a = schedule.alpha(t), aT = schedule.alpha(T)
      let centred = apply({ scale(t, $0) }, zip(xT, m).map { $0 - aT * $1 })
      return zip(m, centred).map { a * $0 + $1 }
    }
  }

  func gaussianModel(isotropic: Bool) -> TestGaussian { Self.gaussianModel(isotropic: isotropic) }

  static func gaussianModel(isotropic: Bool) -> TestGaussian {
    TestGaussian(schedule: .vpLinear, dataDimension: 3, conditionDimension: 2, mu: [0.4, -0.3, 0.2],
                 w: [0.3, -0.1, -0.2, 0.2, 0.1, 0.1], logS: isotropic ? [-0.2, -0.2, -0.2] : [-0.6, 0.1, -1.2])
  }

  func testSingleDiagonalGaussianExactAtEveryM() throws {
    for isotropic in [false, true] {
      let model = gaussianModel(isotropic: isotropic)
      let z = [0.4, -0.7], xT = [0.3, -1.1, 0.8]
      let stats = try model.dataStatistics(z: z)
      let q = [1.0, 0, 0, 0, 1, 0, 0, 0, 1]
      let flow = Flow(m: model.mean(z[...]), s2: model.logS.map { exp(2 * $0) }, q: q, xT: xT, schedule: schedule, T: T)
      let x0 = flow.state(tEps)
      let loss = try SquaredDistanceLoss(target: [1.0, -0.5, 0.25])
      let g = loss.gradient(x0)
      let gradXT = flow.apply({ flow.scale(self.tEps, $0) }, g)
      let gradM = (0..<3).map { schedule.alpha(tEps) * g[$0] - schedule.alpha(T) * gradXT[$0] }
      let gradZ = (0..<2).map { k in (0..<3).reduce(0.0) { $0 + model.w[$1 * 2 + k] * gradM[$1] } }
      for kind in [LinearPartKind.gaussian, .isotropic] where isotropic || kind == .gaussian {
        for order in [1, 2] {
          for (M, spacing) in [(1, GridSpacing.lambda), (2, .lambda), (7, .timeUniform), (20, .lambda)] {
            let grid = try TimeGrid(schedule: schedule, tEps: tEps, T: T, steps: M, spacing: spacing)
            let solver = try GaussianLinearAdjoint(order: order, linearPart: GaussianLinearPart(statistics: stats, kind: kind))
            let a = try solver.solve(model: model, grid: grid, states: .exact({ flow.state($0) }), z: .constant(z), aX0: g)
            let label = "\(kind) k=\(order) M=\(M) isotropic data=\(isotropic)"
            XCTAssertLessThan(SolverFixtures.relativeError(a.ax, gradXT), 1e-10, label)
            XCTAssertEqual(a.evaluations.vjp, M, label)
            if isotropic {
              // the scalar growth of a_z / a_theta is exact for isotropic Gaussian data (docs/gaussian-linear-part.md#a-z)
              XCTAssertLessThan(SolverFixtures.relativeError(a.az[0], gradZ), 1e-10, label)
              XCTAssertLessThan(SolverFixtures.relativeError(Array(a.atheta[0..<3]), gradM), 1e-10, label)
            }
          }
        }
      }
    }
  }

  /// Full covariance (a one-component mixture): the eigenbasis is not the coordinate basis.
  func testSingleFullCovarianceGaussianExactAtEveryM() throws {
    let cov = [[0.9, 0.35, 0.0], [0.35, 0.6, -0.2], [0.0, -0.2, 0.3]]
    let model = try GaussianMixture(means: [[0.4, -0.2, 0.1]], logits: [0.3], W: [[0.5, -0.2]], cov: [cov], schedule: .vpCosine)
    let (tEps, T) = (1e-3, 0.99)
    let z = [0.4, -0.7], xT = [0.3, -1.1, 0.8]
    let stats = try model.dataStatistics(z: z)
    XCTAssertEqual(stats.mean, [0.4, -0.2, 0.1])
    let flow = Flow(m: stats.mean, s2: stats.eigenvalues, q: stats.eigenvectors, xT: xT, schedule: .vpCosine, T: T)
    // the flow's statistics reproduce the covariance (so the closed form is about the right Gaussian)
    for i in 0..<3 { for j in 0..<3 {
      let e = (0..<3).reduce(0.0) { $0 + stats.eigenvectors[i * 3 + $1] * stats.eigenvalues[$1] * stats.eigenvectors[j * 3 + $1] }
      XCTAssertEqual(e, cov[i][j], accuracy: 1e-14)
    } }
    let g = try SquaredDistanceLoss(target: [1.0, -0.5, 0.25]).gradient(flow.state(tEps))
    let gradXT = flow.apply({ flow.scale(tEps, $0) }, g)
    for dynamicsOrder in [1, 2] {
      for M in [1, 3, 20] {
        let grid = try TimeGrid(schedule: .vpCosine, tEps: tEps, T: T, steps: M, spacing: .lambda)
        let solver = try GaussianLinearAdjoint(order: dynamicsOrder, linearPart: GaussianLinearPart(statistics: stats, kind: .gaussian))
        let a = try solver.solve(model: model, grid: grid, states: .exact({ flow.state($0) }), z: .constant(z), aX0: g)
        XCTAssertLessThan(SolverFixtures.relativeError(a.ax, gradXT), 1e-10, "k=\(dynamicsOrder) M=\(M)")
      }
    }
    // the isotropic part is not exact on anisotropic data: the test can fail
    let grid = try TimeGrid(schedule: .vpCosine, tEps: tEps, T: T, steps: 20, spacing: .lambda)
    let iso = try GaussianLinearAdjoint(order: 1, linearPart: GaussianLinearPart(statistics: stats, kind: .isotropic))
    let a = try iso.solve(model: model, grid: grid, states: .exact({ flow.state($0) }), z: .constant(z), aX0: g)
    XCTAssertGreaterThan(SolverFixtures.relativeError(a.ax, gradXT), 1e-6)
  }
}

/// The matching sampler: exact on Gaussian data at any N; on a mixture, converging to the RK45 solution at order k.
final class GaussianLinearSamplerTests: XCTestCase {
  func testExactOnGaussianData() throws {
    let model = GaussianLinearExactTests.gaussianModel(isotropic: false)
    let z = [0.4, -0.7], xT = [0.3, -1.1, 0.8]
    let flow = GaussianLinearExactTests.Flow(m: model.mean(z[...]), s2: model.logS.map { exp(2 * $0) }, q: [1, 0, 0, 0, 1, 0, 0, 0, 1],
                                             xT: xT, schedule: .vpLinear, T: 1)
    let part = try GaussianLinearPart(statistics: model.dataStatistics(z: z), kind: .gaussian)
    for order in [1, 2] {
      for N in [1, 2, 10] {
        let grid = try TimeGrid(schedule: .vpLinear, tEps: 1e-3, T: 1, steps: N, spacing: .timeUniform)
        let path = try GaussianLinearSampler(order: order, linearPart: part).sample(model: model, grid: grid, xT: xT, z: .constant(z))
        for j in 0...N { XCTAssertLessThan(SolverFixtures.relativeError(path.states[j], flow.state(grid.times[j])), 1e-12, "k=\(order) N=\(N) j=\(j)") }
        XCTAssertEqual(path.evaluations.eps, N)
      }
    }
  }

  /// Orders on a mixture against the RK45 solution: error ratios between N = 80 and 160 near 2^k.
  func testOrderOnMixture() throws {
    let model = try SolverFixtures.mixture(.full, schedule: .vpCosine)
    let z = SolverFixtures.z, xT = SolverFixtures.xT
    let reference = try ReferenceAdjoint(rtol: 1e-12, atol: 1e-12).sampleODE(model: model, schedule: .vpCosine, T: 0.99, tEps: 1e-3, xT: xT, z: .constant(z))
    let part = try GaussianLinearPart(statistics: model.dataStatistics(z: z), kind: .gaussian)
    for order in [1, 2] {
      let errors = try [80, 160, 320].map { N -> Double in
        let grid = try TimeGrid(schedule: .vpCosine, tEps: 1e-3, T: 0.99, steps: N, spacing: .lambda)
        let path = try GaussianLinearSampler(order: order, linearPart: part).sample(model: model, grid: grid, xT: xT, z: .constant(z))
        return SolverFixtures.relativeError(path.x0, reference.x0)
      }
      let slope = log2(errors[1] / errors[2])
      XCTAssertEqual(slope, Double(order), accuracy: 0.15, "k=\(order): errors \(errors)")
    }
  }
}

/// The SDE form (docs/gaussian-linear-part.md#sde): given the path, the adjoint of the diffusion SDE on Gaussian data is
/// linear with the doubled coefficient, so `dL/dx_T = (alpha_T / alpha_0) Q diag(D_0^2 / D_T^2) Q^T g` whatever the
/// path (the Jacobian does not depend on x). Checked on a recorded SDE path at M = 1, 5, 20.
final class GaussianLinearSDETests: XCTestCase {
  func testExactOnGaussianDataAlongAnyPath() throws {
    let model = GaussianLinearExactTests.gaussianModel(isotropic: false)
    let z = [0.4, -0.7], xT = [0.3, -1.1, 0.8]
    let s2 = model.logS.map { exp(2 * $0) }
    let part = try GaussianLinearPart(statistics: model.dataStatistics(z: z), kind: .gaussian)
    let schedule = NoiseSchedule.vpLinear
    let (a0, aT, s0, sT) = (schedule.alpha(1e-3), schedule.alpha(1), schedule.sigma(1e-3), schedule.sigma(1))
    for M in [1, 5, 20] {
      let grid = try TimeGrid(schedule: schedule, tEps: 1e-3, T: 1, steps: M, spacing: .lambda)
      let noise = try NoiseSource.seeded(3).draws(grid: grid, dimension: 3)
      let path = try Sampler(kind: .sde).sample(model: model, grid: grid, xT: xT, z: .constant(z), noise: noise)
      let g = try SquaredDistanceLoss(target: [1.0, -0.5, 0.25]).gradient(path.x0)
      let exact = (0..<3).map { k in (aT / a0) * (a0 * a0 * s2[k] + s0 * s0) / (aT * aT * s2[k] + sT * sT) * g[k] }
      for order in [1, 2] {
        let solver = try GaussianLinearAdjoint(order: order, linearPart: part, dynamics: .sde)
        let a = try solver.solve(model: model, grid: grid, states: .recorded(path.states), z: .constant(z), aX0: g)
        XCTAssertLessThan(SolverFixtures.relativeError(a.ax, exact), 1e-10, "k=\(order) M=\(M)")
      }
      // the ODE form is a different (wrong) answer here: the test can fail
      let ode = try GaussianLinearAdjoint(order: 1, linearPart: part).solve(model: model, grid: grid, states: .recorded(path.states), z: .constant(z), aX0: g)
      XCTAssertGreaterThan(SolverFixtures.relativeError(ode.ax, exact), 1e-3)
    }
  }
}

extension GaussianLinearSamplerTests {
  /// DTO through the Gaussian-linear sampler against fourth-order central differences of the sampler's loss.
  func testDTOMatchesFiniteDifferences() throws {
    let model = try SolverFixtures.mixture(.full, schedule: .vpCosine)
    let z = SolverFixtures.z, xT = SolverFixtures.xT
    let loss = try SolverFixtures.loss()
    let grid = try TimeGrid(schedule: .vpCosine, tEps: 1e-3, T: 0.99, steps: 6, spacing: .lambda)
    for kind in [LinearPartKind.gaussian, .isotropic] {
      let part = try GaussianLinearPart(statistics: model.dataStatistics(z: z), kind: kind)
      for order in [1, 2] {
        let sampler = try GaussianLinearSampler(order: order, linearPart: part)
        let g = try sampler.gradient(model: model, grid: grid, xT: xT, z: .constant(z), loss: loss)
        let fx = try SolverFixtures.centralGradient(xT, step: 1e-4) { try loss.value(sampler.sample(model: model, grid: grid, xT: $0, z: .constant(z)).x0) }
        let fz = try SolverFixtures.centralGradient(z, step: 1e-4) { try loss.value(sampler.sample(model: model, grid: grid, xT: xT, z: .constant($0)).x0) }
        let theta = model.parameters
        let ft = try SolverFixtures.centralGradient(theta, step: 1e-4) {
          try loss.value(sampler.sample(model: model.replacingParameters($0), grid: grid, xT: xT, z: .constant(z)).x0)
        }
        XCTAssertLessThan(SolverFixtures.relativeError(g.gradXT, fx), 1e-8, "\(kind) k=\(order) x")
        XCTAssertLessThan(SolverFixtures.relativeError(g.gradZ[0], fz), 1e-8, "\(kind) k=\(order) z")
        XCTAssertLessThan(SolverFixtures.relativeError(g.gradTheta, ft), 1e-8, "\(kind) k=\(order) theta")
        XCTAssertEqual(g.adjoint.vjp, 6)
      }
    }
  }
}
