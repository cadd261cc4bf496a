import Foundation

/// The parameters of a schedule's natural grids (docs/math.md#natural-grids): Karras' rho (sigma^(1/rho) uniform) and
/// flow matching's shifted time (diffusers' `shift`, or `use_dynamic_shifting` with `mu`: shift = e^mu;
/// `shift_terminal`: the affine stretch of 1 - t).
public struct GridParameters: Sendable, Equatable {
  public var rho: Double = 7
  public var shift: Double = 1
  /// `use_dynamic_shifting` with this mu (then the shift is e^mu).
  public var dynamicMu: Double? = nil
  public var shiftTerminal: Double? = nil
  public init(rho: Double = 7, shift: Double = 1, dynamicMu: Double? = nil, shiftTerminal: Double? = nil) {
    self.rho = rho
    self.shift = shift
    self.dynamicMu = dynamicMu
    self.shiftTerminal = shiftTerminal
  }

  /// The shift in force: e^mu with dynamic shifting (diffusers' exponential `time_shift` with sigma = 1 equals the
  /// static shift e^mu), else `shift`.
  public var effectiveShift: Double { dynamicMu.map { exp($0) } ?? shift }

  public func validate() throws {
    guard rho.isFinite, rho > 0 else { throw InvalidInput("rho", "must be a positive finite number, got \(rho)") }
    guard shift.isFinite, shift > 0 else { throw InvalidInput("shift", "must be positive (a time warp t -> shift t / (1 + (shift - 1) t)), got \(shift)") }
    if let mu = dynamicMu, !mu.isFinite || abs(mu) > 700 { throw InvalidInput("mu", "must be a finite number with |mu| <= 700 (shift = e^mu), got \(mu)") }
    if let s = shiftTerminal, !(s.isFinite && s > 0 && s < 1) {
      throw InvalidInput("shift_terminal", "must lie in (0, 1) (the time the stretched grid ends at), got \(s)")
    }
  }
}

extension NoiseSchedule {
  /// Flow matching / rectified flow: `alpha = 1 - t`, `sigma = t` on (0, 1] (docs/math.md#beyond-vp).
  public static let flowMatching = NoiseSchedule(kind: .flowMatching, name: "flow-matching", tMin: 0, tMax: 1)
  /// EDM (Karras et al.): `alpha = 1`, `sigma = t` on (0, inf); the config's T is sigma_max, t_eps is sigma_min.
  public static let edm = NoiseSchedule(kind: .edm, name: "edm", tMin: 0, tMax: .infinity)
  /// Variance exploding: the same functions as `edm` under its other name.
  public static let ve = NoiseSchedule(kind: .edm, name: "ve", tMin: 0, tMax: .infinity)

  /// The same schedule with other grid parameters (validated).
  public func with(grids: GridParameters) throws -> NoiseSchedule {
    try grids.validate()
    return NoiseSchedule(kind: kind, name: name, tMin: tMin, tMax: tMax, grids: grids)
  }

  /// `alpha = 1 - t` (flow matching) or 1 (EDM).
  @inlinable func generalAlpha(_ t: Double) -> Double {
    if case .flowMatching = kind { return 1 - t }
    return 1
  }

  /// `d alpha/dt`: -1 (flow matching), 0 (EDM); `alpha f` for a VP schedule.
  @inlinable public func dAlphaDt(_ t: Double) -> Double {
    switch kind {
    case .flowMatching: return -1
    case .edm: return 0
    default: return alpha(t) * dLogAlphaDt(t)
    }
  }

  /// `d sigma/dt`: 1 for flow matching and EDM; `-alpha^2 f / sigma` for a VP schedule.
  @inlinable public func dSigmaDt(_ t: Double) -> Double {
    if !isVariancePreserving { return 1 }
    let a = alpha(t)
    return -a * a * dLogAlphaDt(t) / sigma(t)
  }

  /// `d lambda/dt = d log alpha/dt - d log sigma/dt`: `-1/(t (1 - t))` (flow matching), `-1/t` (EDM).
  @inlinable func generalDLambdaDt(_ t: Double) -> Double {
    if case .flowMatching = kind { return -1 / (t * (1 - t)) }
    return -1 / t
  }

  /// `t(lambda)`: `1 / (1 + e^lambda)` (flow matching, written without overflow), `e^-lambda` (EDM).
  @inlinable func generalT(lambda: Double) -> Double {
    guard case .flowMatching = kind else { return exp(-lambda) }
    if lambda > 0 { let e = exp(-lambda); return e / (1 + e) }
    return 1 / (1 + exp(lambda))
  }

  /// The time-range checks of flow matching and EDM (each error names the field and says why).
  func validateGeneral(tEps: Double, T: Double) throws {
    guard tEps > 0 else { throw InvalidInput("t_eps", "must be positive for \(name) (sigma = t, and sigma_min = 0 has no finite lambda), got \(tEps)") }
    if case .flowMatching = kind {
      guard T <= 1 else { throw InvalidInput("T", "must be at most 1 for flow-matching (alpha = 1 - t; T = 1 is pure noise), got \(T)") }
      guard tEps < T else { throw InvalidInput("t_eps", "must be smaller than T (t_eps = \(tEps), T = \(T))") }
    } else {
      guard tEps < T else { throw InvalidInput("t_eps", "sigma_min (t_eps = \(tEps)) must be smaller than sigma_max (T = \(T)) for \(name)") }
    }
  }
}
