import DiffusionCore
import Foundation

/// Where the SDE sampler's standard-normal draws come from.
public enum NoiseSource: Sendable {
  /// Fresh draws from a seeded generator, step by step from T downwards.
  case seeded(UInt64)
  /// Given draws: entry i is xi of step i (the step from the i-th grid time counted from T downwards).
  case given([[Double]])
  /// Coarse steps that sum the increments of one fine Brownian path (see `BrownianPath`).
  case brownian(BrownianPath)

  /// The N x d draws for the sampling grid.
  public func draws(grid: TimeGrid, dimension d: Int) throws -> [[Double]] {
    switch self {
    case let .seeded(seed):
      var rng = SeededGenerator(seed: seed)
      return (0..<grid.steps).map { _ in rng.normals(d) }
    case let .given(xi):
      guard xi.count == grid.steps else {
        throw InvalidInput("noise", "expected \(grid.steps) arrays (one per sampling step), got \(xi.count)")
      }
      for (i, row) in xi.enumerated() { try Check.count(row, d, "noise[\(i)]"); try Check.finite(row, "noise[\(i)]") }
      return xi
    case let .brownian(path):
      return try path.noise(on: grid, dimension: d)
    }
  }
}

/// One fine sample path of the reverse SDE's noise, shared by every coarser grid nested in it.
///
/// Fine step k (from u_{k+1} down to u_k) injects `I_k = sigma_{u_k} sqrt(e^{2 h_k} - 1) xi_k`. A coarse step from s
/// down to t carries these to t with the factor `alpha_t / alpha_{u_k}` (the linear part's exact flow), so its noise is
/// `sum_k (alpha_t/alpha_{u_k}) I_k`, which has variance `sigma_t^2 (e^{2h} - 1)`: exactly one coarse step's, divided
/// out to give a standard-normal xi for `Sampler`.
public struct BrownianPath: Sendable {
  public let fine: TimeGrid
  /// `xi[k]` belongs to the fine step that ends at grid index k (ascending), i.e. from u_{k+1} to u_k.
  public let xi: [[Double]]

  public init(fine: TimeGrid, dimension d: Int, seed: UInt64) {
    self.fine = fine
    var rng = SeededGenerator(seed: seed)
    self.xi = (0..<fine.steps).map { _ in rng.normals(d) }
  }

  public func noise(on grid: TimeGrid, dimension d: Int) throws -> [[Double]] {
    guard let d0 = xi.first?.count, d0 == d else { throw InvalidInput("noise", "the Brownian path has the wrong dimension") }
    // Map each coarse time to its fine index.
    var index = [Int](repeating: 0, count: grid.times.count)
    var k = 0
    for (j, t) in grid.times.enumerated() {
      while k < fine.times.count && fine.times[k] < t * (1 - 1e-12) { k += 1 }
      guard k < fine.times.count, abs(fine.times[k] - t) <= 1e-12 * max(1, t) else {
        throw InvalidInput("grid", "time \(t) is not a point of the fine Brownian grid: the coarse grid must be nested in it")
      }
      index[j] = k
    }
    let n = grid.steps
    return (0..<n).map { step in
      let s = n - step, t = s - 1
      var sum = [Double](repeating: 0, count: d)
      for f in index[t]..<index[s] {
        let hk = fine.lambdas[f] - fine.lambdas[f + 1]
        let w = (grid.alphas[t] / fine.alphas[f]) * fine.sigmas[f] * sqrt(Foundation.expm1(2 * hk))
        for i in 0..<d { sum[i] += w * xi[f][i] }
      }
      let h = grid.lambdas[t] - grid.lambdas[s]
      let scale = grid.sigmas[t] * sqrt(Foundation.expm1(2 * h))
      return sum.map { $0 / scale }
    }
  }
}
