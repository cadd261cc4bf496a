import DiffusionCore
import Foundation

/// The schedule-specific grids (docs/math.md#natural-grids), as a map from u in [0, 1] to t with u = 0 at t_eps and
/// u = 1 at T: Karras' rho-spaced `s = e^-lambda` (sigma on EDM) and flow matching's shifted time.
struct NaturalGrid {
  let time: (Double) -> Double

  /// nil for the spacings that are not schedule-specific; throws (naming the option) where a spacing cannot apply.
  init?(schedule: NoiseSchedule, tEps: Double, T: Double, spacing: GridSpacing) throws {
    let p = schedule.grids
    switch spacing {
    case .lambda:
      guard schedule.lambda(T).isFinite, schedule.lambda(tEps).isFinite else {
        throw InvalidInput("grid", "lambda spacing needs a finite lambda at both ends, and \(schedule.name) has alpha = 0 (lambda = -inf) at T = \(T): use time-uniform or shifted")
      }
      return nil
    case .timeUniform, .timeQuadratic:
      return nil
    case .karras:
      guard schedule.lambda(T).isFinite else {
        throw InvalidInput("grid", "karras spaces s = sigma/alpha, which is infinite at T = \(T) on \(schedule.name) (alpha = 0): use time-uniform or shifted")
      }
      let r = p.rho
      if case .edm = schedule.kind {  // s = sigma = t
        let (a, b) = (pow(tEps, 1 / r), pow(T, 1 / r))
        time = { u in pow(a + u * (b - a), r) }
      } else {
        let (a, b) = (pow(exp(-schedule.lambda(tEps)), 1 / r), pow(exp(-schedule.lambda(T)), 1 / r))
        time = { u in schedule.t(lambda: -log(pow(a + u * (b - a), r))) }
      }
    case .shifted:
      guard case .flowMatching = schedule.kind else {
        throw InvalidInput("grid", "shifted is flow matching's grid (a warp of t in (0, 1]); \(schedule.name) has none: use lambda, time-uniform or karras")
      }
      let warp = ShiftedTime(shift: p.effectiveShift, terminal: p.shiftTerminal, tEps: tEps)
      let (a, b) = (try warp.inverse(tEps), try warp.inverse(T))
      time = { u in warp.forward(a + u * (b - a)) }
    }
  }
}

/// diffusers' FlowMatchEulerDiscreteScheduler time warp: `w(u) = s u / (1 + (s - 1) u)`, then (with `shift_terminal`)
/// the affine stretch `1 - t -> (1 - t) c` that takes w(t_eps) to shift_terminal (diffusers stretches its last sigma).
struct ShiftedTime {
  let shift: Double
  let c: Double

  init(shift: Double, terminal: Double?, tEps: Double) {
    self.shift = shift
    let wEps = shift * tEps / (1 + (shift - 1) * tEps)
    c = terminal.map { (1 - $0) / (1 - wEps) } ?? 1
  }

  func forward(_ u: Double) -> Double {
    let w = shift * u / (1 + (shift - 1) * u)
    return c == 1 ? w : 1 - (1 - w) * c
  }

  /// u with forward(u) = t; throws when the stretch cannot reach t.
  func inverse(_ t: Double) throws -> Double {
    let w = c == 1 ? t : 1 - (1 - t) / c
    guard w > 0, w <= 1 else {
      throw InvalidInput("shift_terminal", "the stretched grid cannot reach t = \(t) (stretch factor \(c)); choose shift_terminal closer to t_eps")
    }
    return w / (shift - (shift - 1) * w)
  }
}
