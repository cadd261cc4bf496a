import DiffusionCore

/// One way of computing `dL/dx_T`, `dL/dz`, `dL/dtheta` for a `GradientProblem`: a value made from its registry
/// name and options (see `GradientMethods`), which rejects the options it has no use for when it is made, checks
/// the problem in `validate`, and returns x_0, the loss, the three gradients and its evaluation counts.
///
/// Each conforming type states, in its doc comment, its cost (eps and VJP evaluations in terms of N and M) and its
/// memory, in the manner of diffrax's adjoint classes.
public protocol GradientMethod: Sendable {
  /// The registry name the method was made from, e.g. `adjointdeis-2m`.
  var name: String { get }
  /// The method with its settings, for the CLI's JSON and for logs, e.g. `adjointdeis-2m[phi2]/ode/exact`.
  var label: String { get }
  /// Whether the gradient is the probability-flow ODE's or the diffusion SDE's.
  var dynamics: Dynamics { get }
  /// Everything that can be checked about `problem` before any work (shapes, a z schedule against N, ...).
  func validate<M: NoisePredictor, L: GuidanceLoss>(_ problem: GradientProblem<M, L>) throws
  /// Samples x_0 and computes the gradient of `loss(x_0)`; validates first.
  func gradient<M: NoisePredictor, L: GuidanceLoss>(_ problem: GradientProblem<M, L>) throws -> GradientResult
  /// The exact gradient of the discrete sampler this method's x_0 comes from (reverse mode through the same steps,
  /// every state stored), against which its own gradient separates the sampler's discretization error from its
  /// gradient's; nil when x_0 is not a grid sampler's output (exact states, RK45).
  var discreteReference: (any GradientMethod)? { get }
}

extension GradientMethod {
  public var discreteReference: (any GradientMethod)? { nil }
}

/// One registry line: a method's name, a one-line summary for `--help`, and how to make it from options.
public struct GradientMethodEntry: Sendable {
  public let name: String
  public let summary: String
  /// `make(given, defaults)`: the user's options (each unused one is an error) over the context's defaults.
  public let make: @Sendable (GradientOptions, GradientOptions) throws -> any GradientMethod

  public init(name: String, summary: String, make: @escaping @Sendable (GradientOptions, GradientOptions) throws -> any GradientMethod) {
    self.name = name
    self.summary = summary
    self.make = make
  }
}
