import DiffusionCore
import Foundation

/// Which exact reformulation of the probability-flow ODE a reversible solver integrates
/// (docs/reversible-solvers.md#parameterizations): with time variable gamma, weight w and state y = x / w,
/// the ODE is `dy/dgamma = k(x, t)` with no linear term.
public enum Parameterization: String, CaseIterable, Sendable {
  /// gamma = alpha / sigma = e^lambda, w = sigma, k = D(x, t) = (x - sigma eps) / alpha (the data prediction).
  case data
  /// gamma = sigma / alpha = e^-lambda, w = alpha, k = eps(x, t).
  case noise

  public static func named(_ name: String, option: String = "parameterization") throws -> Parameterization {
    try parse(name, option: option, what: "parameterization")
  }

  /// gamma at grid index i.
  func gamma(_ grid: TimeGrid, _ i: Int) -> Double {
    self == .data ? grid.alphas[i] / grid.sigmas[i] : grid.sigmas[i] / grid.alphas[i]
  }

  /// The node at grid index i (its time, alpha, sigma taken from the grid).
  func node(_ grid: TimeGrid, _ i: Int) -> Node {
    Node(t: grid.times[i], alpha: grid.alphas[i], sigma: grid.sigmas[i], gamma: gamma(grid, i), parameterization: self)
  }

  /// The node at gamma between two grid times: t = t(lambda) with lambda = +-log gamma; for a variance-preserving
  /// schedule alpha^2 + sigma^2 = 1, so the weight is 1 / sqrt(1 + gamma^2) in both parameterizations; other
  /// schedules take alpha and sigma at t.
  func node(gamma g: Double, schedule: NoiseSchedule) -> Node {
    let lambda = self == .data ? Foundation.log(g) : -Foundation.log(g)
    if !schedule.isVariancePreserving {  // flow matching, EDM: alpha and sigma from t(lambda) (docs/math.md#beyond-vp)
      let t = schedule.t(lambda: lambda)
      return Node(t: t, alpha: schedule.alpha(t), sigma: schedule.sigma(t), gamma: g, parameterization: self)
    }
    let unit = 1 / (1 + g * g).squareRoot()
    let (alpha, sigma) = self == .data ? (g * unit, unit) : (unit, g * unit)
    return Node(t: schedule.t(lambda: lambda), alpha: alpha, sigma: sigma, gamma: g, parameterization: self)
  }

  /// One point of the ODE's time axis.
  struct Node: Sendable {
    let t, alpha, sigma, gamma: Double
    let parameterization: Parameterization
    /// w: sigma (data) or alpha (noise); x = w y.
    var weight: Double { parameterization == .data ? sigma : alpha }

    /// `k(x) = dy/dgamma` from `eps(x, t)` (docs/reversible-solvers.md#parameterizations). One network forward.
    func k<M: NoisePredictor>(_ x: [Double], model: M, z: [Double], count: inout EvaluationCount) throws -> [Double] {
      let eps = try model.eps(x, z: z, t: t, batch: 1)
      count.eps += 1
      return fromEps(eps, x: x)
    }

    func fromEps(_ eps: [Double], x: [Double]) -> [Double] {
      guard parameterization == .data else { return eps }
      return (0..<x.count).map { (x[$0] - sigma * eps[$0]) / alpha }
    }

    /// `k(x)` and the pull-back `kbar^T dk/dx` of the cotangent kbar; adds `kbar^T dk/dz` into gz and `kbar^T dk/dtheta`
    /// into gtheta. One VJP (its eps gives k, no extra forward).
    func kVJP<M: NoisePredictor>(_ x: [Double], cotangent kbar: [Double], model: M, z: [Double], wantParameters: Bool,
                                 gz: inout [Double], gtheta: inout [Double], count: inout EvaluationCount) throws -> (k: [Double], x: [Double]) {
      // D = (x - sigma eps) / alpha: the cotangent on eps is -(sigma/alpha) kbar, and x gets kbar / alpha directly.
      let scale = parameterization == .data ? -sigma / alpha : 1
      let v = kbar.map { scale * $0 }
      let r = try model.vjp(x, z: z, t: t, batch: 1, cotangent: v, wantParameters: wantParameters)
      count.vjp += 1
      for j in 0..<gz.count { gz[j] += r.z[j] }
      if wantParameters { for j in 0..<gtheta.count { gtheta[j] += r.theta[j] } }
      var gx = r.x
      if parameterization == .data { for j in 0..<gx.count { gx[j] += kbar[j] / alpha } }
      return (fromEps(r.eps, x: x), gx)
    }
  }
}
