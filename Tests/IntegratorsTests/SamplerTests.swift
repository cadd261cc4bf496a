import DiffusionCore
import ToyModels
import XCTest

@testable import Integrators

final class SamplerTests: XCTestCase {
  func testGridsHitTheirEndsAndSpacing() throws {
    // `shifted` is flow matching's own grid (BeyondVPGridTests); on vp-linear it is refused, naming the option.
    XCTAssertThrowsInvalid(try TimeGrid(schedule: .vpLinear, tEps: 1e-3, T: 1, steps: 10, spacing: .shifted), field: "grid")
    for spacing in GridSpacing.allCases where spacing != .shifted {
      let g = try TimeGrid(schedule: .vpLinear, tEps: 1e-3, T: 1, steps: 10, spacing: spacing)
      XCTAssertEqual(g.times.first, 1e-3)
      XCTAssertEqual(g.times.last, 1)
      XCTAssertEqual(g.steps, 10)
    }
    let lambda = try TimeGrid(schedule: .vpCosine, tEps: 1e-3, T: 0.99, steps: 8, spacing: .lambda)
    let hs = zip(lambda.lambdas, lambda.lambdas.dropFirst()).map { $1 - $0 }
    for h in hs { XCTAssertEqual(h, hs[0], accuracy: 1e-11) }
    XCTAssertThrowsInvalid(try TimeGrid(schedule: .vpLinear, tEps: 1e-3, T: 1, steps: 0, spacing: .lambda), field: "steps")
    XCTAssertThrowsInvalid(try TimeGrid(schedule: .vpLinear, tEps: 1, T: 1e-3, steps: 5, spacing: .lambda), field: "t_eps")
    XCTAssertThrowsInvalid(try GridSpacing.named("log"), field: "grid")
  }

  /// Cycle-SDE: the noise recovered from a recorded path is the noise that made it (1e-9 absolute).
  func testCycleSDERecoversNoise() throws {
    let model = try SolverFixtures.mixture()
    let grid = try TimeGrid(schedule: .vpLinear, tEps: 1e-3, T: 1, steps: 12, spacing: .lambda)
    let noise = try NoiseSource.seeded(5).draws(grid: grid, dimension: 3)
    let path = try Sampler(kind: .sde).sample(model: model, grid: grid, xT: SolverFixtures.xT, z: .constant(SolverFixtures.z), noise: noise)
    let recovered = Sampler.recoverNoise(path)
    for (a, b) in zip(recovered, noise) { for (u, v) in zip(a, b) { XCTAssertEqual(u, v, accuracy: 1e-9) } }
  }

  /// A Brownian path seen on its own grid gives back its draws; on a nested coarse grid it gives standard normals
  /// (variance within 3% over 40 000 draws: 5 standard errors) and the same path at every resolution.
  func testBrownianPathNesting() throws {
    let fine = try TimeGrid(schedule: .vpLinear, tEps: 1e-3, T: 1, steps: 16, spacing: .lambda)
    let d = 10_000
    let path = BrownianPath(fine: fine, dimension: d, seed: 9)
    let same = try path.noise(on: fine, dimension: d)
    for k in 0..<16 { for i in 0..<5 { XCTAssertEqual(same[k][i], path.xi[15 - k][i], accuracy: 1e-13) } }
    let coarse = try TimeGrid(schedule: .vpLinear, times: stride(from: 0, through: 16, by: 4).map { fine.times[$0] })
    let xi = try path.noise(on: coarse, dimension: d)
    let all = xi.flatMap { $0 }
    let variance = all.map { $0 * $0 }.reduce(0, +) / Double(all.count)
    XCTAssertEqual(variance, 1, accuracy: 0.03)
    let notNested = try TimeGrid(schedule: .vpLinear, tEps: 1e-3, T: 1, steps: 5, spacing: .timeUniform)
    XCTAssertThrowsInvalid(try path.noise(on: notNested, dimension: d), field: "grid")
  }

  func testGivenNoiseOfWrongShapeIsAnError() throws {
    let grid = try TimeGrid(schedule: .vpLinear, tEps: 1e-3, T: 1, steps: 3, spacing: .lambda)
    XCTAssertThrowsInvalid(try NoiseSource.given([[0, 0, 0]]).draws(grid: grid, dimension: 3), field: "noise")
    XCTAssertThrowsInvalid(try NoiseSource.given([[0, 0, 0], [0, 0], [0, 0, 0]]).draws(grid: grid, dimension: 3), field: "noise[1]")
    XCTAssertThrowsInvalid(try NoiseSource.given([[0, 0, 0], [0, .nan, 0], [0, 0, 0]]).draws(grid: grid, dimension: 3), field: "noise[1]")
  }
}
