import DiffusionCore

/// The morph experiment's update of (x_T, z), shared by guided generation: P independent blocks (pairs, or images
/// of a batch), block p holding `x_T[p d ..< (p+1) d]` and `z[p m ..< (p+1) m]`. A step moves each block by
/// `scale_p g_p` (`DescentUpdate`), then, with the sphere constraint, rescales block p of x_T to the norm of the
/// same block of the start.
public struct ProjectedDescent: Sendable, Equatable {
  public var update: DescentUpdate
  public var constraint: NoiseConstraint
  /// d and m of one block.
  public let d: Int
  public let m: Int

  public init(update: DescentUpdate, constraint: NoiseConstraint, d: Int, m: Int) {
    self.update = update
    self.constraint = constraint
    self.d = d
    self.m = m
  }

  /// One step on every block: `x_T -= scale_p g`, `z -= scale_p g_z`, then the projection.
  public func step(_ xT: inout [Double], _ z: inout [Double], gradient g: [Double], gradientZ gz: [Double], start: [Double], blocks: Int, lr: Double) {
    for p in 0..<blocks {
      let scale = stepScale(g, gz, block: p, lr: lr)
      for i in (p * d)..<((p + 1) * d) { xT[i] -= scale * g[i] }
      for i in (p * m)..<((p + 1) * m) where i < gz.count { z[i] -= scale * gz[i] }
      if constraint == .sphere { project(&xT, onto: start, block: p) }
    }
  }

  /// Rescales block p of x to the norm of the same block of `reference`.
  public func project(_ x: inout [Double], onto reference: [Double], block p: Int) {
    let r = (p * d)..<((p + 1) * d)
    let norm = r.map { x[$0] * x[$0] }.reduce(0, +).squareRoot(), target = r.map { reference[$0] * reference[$0] }.reduce(0, +).squareRoot()
    guard norm > 0 else { return }
    for i in r { x[i] *= target / norm }
  }

  /// The factor multiplying block p's gradient: lr (plain) or lr sqrt(d + m) / |g_p| (normalized; 0 for a zero gradient).
  public func stepScale(_ g: [Double], _ gz: [Double], block p: Int, lr: Double) -> Double {
    guard update == .normalized else { return lr }
    var norm = 0.0
    for i in (p * d)..<((p + 1) * d) { norm += g[i] * g[i] }
    for i in (p * m)..<((p + 1) * m) where i < gz.count { norm += gz[i] * gz[i] }
    return norm > 0 ? lr * Double(d + m).squareRoot() / norm.squareRoot() : 0
  }
}
