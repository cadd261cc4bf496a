import DiffusionCore

/// The registry: every gradient method, once. The CLI's `--solver`, the studies' `--solvers` and the morph
/// experiment's `--methods` all take these names (see `MethodSpec` for the `/qualifier` suffixes), and `--help`
/// lists them from here. A new method is one file with a `GradientMethod` type and its entry, plus one line below.
public enum GradientMethods {
  public static let all: [GradientMethodEntry] = [
    ReferenceRK45Method.entry,
    AdjointDEISMethod.firstOrder,
    AdjointDEISMethod.secondOrderMultistep,
    AdjointDEISMethod.secondOrderMultistepPhi2,
    AdjointDEISMethod.thirdOrderMultistep,
    DTOMethod.entry,
    GaussianLinearAdjointMethod.firstOrder,
    GaussianLinearAdjointMethod.secondOrderMultistep,
    GaussianLinearAdjointMethod.thirdOrderMultistep,
    GaussianLinearDTOMethod.entry,
    AdjointDPMMethod.euler,
    AdjointDPMMethod.midpoint,
    AdjointDPMMethod.rk4,
  ] + ReversibleMethod.entries

  public static var names: [String] { all.map(\.name) }

  /// The entry called `name`, or an `InvalidInput` for `option` listing every name.
  public static func entry(named name: String, option: String) throws -> GradientMethodEntry {
    guard let entry = all.first(where: { $0.name == name }) else {
      throw InvalidInput(option, "unknown solver '\(name)' (expected one of \(names.joined(separator: ", ")))")
    }
    return entry
  }
}
