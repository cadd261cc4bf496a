import ArgumentParser
import DiffusionCore
import Integrators
import Convergence
import Morphing

// Typed options: every name the CLI accepts comes from the type it parses to, so `--help` lists the registry's names.

extension MethodSpec: ExpressibleByArgument {
  public init?(argument: String) { try? self.init(argument) }
  public static var allValueStrings: [String] { GradientMethods.names }
  public var defaultValueDescription: String { text }
}

/// A comma-separated list of gradient methods (`--solvers`).
struct MethodList: ExpressibleByArgument {
  let specs: [MethodSpec]
  init?(argument: String) {
    guard let specs = try? argument.split(separator: ",", omittingEmptySubsequences: false).map({ try MethodSpec(String($0).trimmingCharacters(in: .whitespaces), option: "solvers") })
    else { return nil }
    self.specs = specs
  }
  static var allValueStrings: [String] { GradientMethods.names }
}

/// A comma-separated list of morph methods (`--methods`): dim, morph-pipe, or gradient methods.
struct MorphMethodList: ExpressibleByArgument {
  let methods: [MorphMethod]
  init?(argument: String) {
    guard let methods = try? argument.split(separator: ",", omittingEmptySubsequences: false).map({ try MorphMethod.named(String($0)) }) else { return nil }
    self.methods = methods
  }
  static var allValueStrings: [String] { ["dim", "morph-pipe"] + GradientMethods.names }
}

extension SamplerKind: ExpressibleByArgument {}
extension StateChoice: ExpressibleByArgument {}
extension GridSpacing: ExpressibleByArgument {}
extension MultistepWeight: ExpressibleByArgument {}
extension ReferenceAdjoint.StateSource: ExpressibleByArgument {}
extension StudyKind: ExpressibleByArgument {}
extension LinearPartKind: ExpressibleByArgument {}
extension Parameterization: ExpressibleByArgument {}
extension AdjointForm: ExpressibleByArgument {}

/// The registry's methods, one a line, for a command's discussion.
func methodListHelp() -> String {
  GradientMethods.all.map { "  \($0.name): \($0.summary)" }.joined(separator: "\n")
}
extension DescentUpdate: ExpressibleByArgument {}
extension NoiseConstraint: ExpressibleByArgument {}
