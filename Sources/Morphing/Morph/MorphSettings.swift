import DiffusionCore
import Integrators

/// How a gradient step moves (x_T, z).
public enum DescentUpdate: String, CaseIterable, Sendable {
  /// `(x_T, z) <- (x_T, z) - lr g`.
  case plain
  /// `(x_T, z) <- (x_T, z) - lr sqrt(d + m) g / |g|` per pair: a step of length lr times the typical norm of a
  /// standard-normal x_T, whatever the gradient's norm (which differs by orders of magnitude between methods and pairs).
  case normalized

  public static func named(_ name: String) throws -> DescentUpdate {
    try parse(name, option: "update", what: "update")
  }
}

/// Where x_T may go during the descent.
public enum NoiseConstraint: String, CaseIterable, Sendable {
  /// Anywhere: the descent may leave the standard-normal shell (and then finds adversarial noise images).
  case none
  /// Projected descent: after each step each pair's x_T is rescaled to the norm it had at the DiM start, so it stays
  /// on the shell |x_T| ~ sqrt(d) where the sampler's inputs live (z is not constrained).
  case sphere

  public static func named(_ name: String) throws -> NoiseConstraint {
    try parse(name, option: "constraint", what: "constraint")
  }
}

/// The numerical settings shared by every method of one morphing run.
public struct MorphSettings: Sendable, Equatable {
  /// N = M: sampling steps and AdjointDEIS/DTO adjoint steps (the paper: 20).
  public var samplerSteps = 20
  /// Gradient-descent steps on (x_T, z) (the paper: 50).
  public var optimizationSteps = 50
  public var tEps = 1e-3
  public var T = 1.0
  public var spacing: GridSpacing = .timeUniform
  public var update: DescentUpdate = .normalized
  public var constraint: NoiseConstraint = .sphere
  /// Seed of the SDE sampler's noise (fixed during an optimization, so the SDE objective is deterministic).
  public var noiseSeed: UInt64 = 0
  /// Compare the gradient with the reference every this many optimization steps (0: never).
  public var referenceEvery = 1
  /// Tolerance of the RK45 reference gradient (rtol = atol).
  public var referenceTolerance = 1e-9
  /// Tolerance of RK45 used as an optimizer's gradient method (rtol = atol).
  public var rk45Tolerance = 1e-6
  /// The blend weights w searched by the Morph-PIPE-like baseline.
  public var blendWeights: [Double] = (0...20).map { Double($0) / 20 }

  public init() {}

  public func validate() throws {
    guard (1...1000).contains(samplerSteps) else { throw InvalidInput("sampler_steps", "must be in 1...1000, got \(samplerSteps)") }
    guard (0...10000).contains(optimizationSteps) else {
      throw InvalidInput("steps", "must be in 0...10000, got \(optimizationSteps)")
    }
    guard referenceEvery >= 0 else { throw InvalidInput("reference_every", "must be >= 0, got \(referenceEvery)") }
    for (name, tol) in [("reference_tolerance", referenceTolerance), ("rk45_tolerance", rk45Tolerance)] {
      guard tol.isFinite, tol > 0, tol < 1 else { throw InvalidInput(name, "must be in (0, 1), got \(tol)") }
    }
    guard !blendWeights.isEmpty else { throw InvalidInput("blend_weights", "needs at least one weight") }
    for w in blendWeights where !(w.isFinite && w >= 0 && w <= 1) {
      throw InvalidInput("blend_weights", "every weight must be in [0, 1], got \(w)")
    }
  }
}
