import DiffusionCore
import Integrators

/// The ways of making a morph compared in the experiment: the two baselines, and gradient descent on (x_T, z) with
/// any gradient method of the registry (`GradientMethods`), named as everywhere else (`MethodSpec`).
public enum MorphMethod: Sendable, Hashable, CustomStringConvertible {
  /// DiM: encode both images to x_T, slerp x_T and average z at w = 1/2, sample.
  case dim
  /// Morph-PIPE-like: DiM at several blend weights w, keep the morph with the smallest morph loss.
  case morphPipe
  /// Gradient descent on (x_T, z) from the DiM blend, gradients from this method.
  case gradient(MethodSpec)

  /// The experiment's default methods, in table order.
  public static var allCases: [MorphMethod] { [.dim, .morphPipe] + gradientMethods }
  public static var gradientMethods: [MorphMethod] {
    ["adjointdeis-1/ode", "adjointdeis-1/sde", "adjointdeis-2m/ode", "dto", "rk45", "adjointdeis-gl-1", "adjointdeis-gl-2m"].map { .gradient(try! MethodSpec($0)) }  // invariant: registry names
  }

  /// The name in tables: `dim`, `morph-pipe`, or the method as given (e.g. `adjointdeis-1/ode`).
  public var rawValue: String {
    switch self {
    case .dim: return "dim"
    case .morphPipe: return "morph-pipe"
    case let .gradient(spec): return spec.text
    }
  }
  public var description: String { rawValue }

  public var isGradient: Bool { if case .gradient = self { return true } else { return false } }

  /// `dim`, `morph-pipe`, or a gradient method's name; errors name the option `methods`.
  public static func named(_ name: String) throws -> MorphMethod {
    switch name {
    case "dim": return .dim
    case "morph-pipe": return .morphPipe
    default:
      do { return .gradient(try MethodSpec(name, option: "methods")) } catch let e as InvalidInput {
        throw InvalidInput("methods", "unknown method '\(name)' (expected dim, morph-pipe or a gradient method: \(GradientMethods.names.joined(separator: ", ")), with /ode or /sde): \(e.reason)")
      }
    }
  }

  /// The experiment's defaults for a gradient method: DDIM (DPM-Solver-1) for the ODE, N = M, states recorded by
  /// the output sampler (as in the paper), the run's grid and SDE noise, no dL/dtheta.
  public static func defaults(steps: Int, spacing: GridSpacing, noiseSeed: UInt64, rtol: Double, statistics: DataStatistics? = nil) -> GradientOptions {
    var o = GradientOptions()
    o.statistics = statistics  // for the methods with a linear part; the others ignore a default
    o.sampler = .dpmSolver1
    (o.samplerSteps, o.adjointSteps) = (steps, steps)
    o.states = .recorded
    o.grid = spacing
    o.noise = .seeded(noiseSeed)
    (o.rtol, o.atol) = (rtol, rtol)
    o.wantParameters = false
    return o
  }

  /// The gradient method with the experiment's defaults (nil for the baselines); `statistics`: data statistics for a
  /// method with a linear part, when the model cannot supply them.
  /// `adjust`: a context's change to those defaults (a pipeline's AdjointDEIS form, `PipelineDefaults.adjoint`).
  public func method(steps: Int, spacing: GridSpacing, noiseSeed: UInt64, rtol: Double, statistics: DataStatistics? = nil,
                     adjust: (GradientOptions) -> GradientOptions = { $0 }) throws -> (any GradientMethod)? {
    guard case let .gradient(spec) = self else { return nil }
    return try spec.make(defaults: adjust(Self.defaults(steps: steps, spacing: spacing, noiseSeed: noiseSeed, rtol: rtol, statistics: statistics)))
  }

  /// The sampler whose output is the morph: the SDE step for an SDE method, DDIM (DPM-Solver-1) otherwise (the
  /// methods with a Gaussian linear part use their own sampler instead: `MorphProblem.morph(_:method:xT:z:)`).
  public var outputSampler: SamplerKind {
    guard case let .gradient(spec) = self else { return .dpmSolver1 }
    let sde = spec.options.sampler?.isSDE == true || spec.options.dynamics == .sde
    return sde ? .sde : .dpmSolver1
  }
}
