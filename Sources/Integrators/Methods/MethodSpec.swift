import DiffusionCore

/// A gradient method as named on the command line and in configs: `NAME[/QUALIFIER]...`, NAME from the registry
/// (`GradientMethods`), each qualifier one option's value: a sampler (`dpm-solver-1`, `dpm-solver-2m`, `sde`),
/// `ode` (an ODE sampler), a state source (`exact`, `recorded`, `resolved`), a 2M weight (`paper`, `phi2`) or a
/// reversible sampler's parameterization (`data`, `noise`) and numbers (`coupling=0.99`, `gamma=0.5`, `mix=0.9`), or
/// DTO's checkpointing (`checkpoint=binomial:3`, `checkpoint=5`).
/// E.g. `rk45`, `adjointdeis-1/recorded`, `adjointdeis-2m-phi2/exact`, `adjointdeis-1/sde`, `dto/dpm-solver-2m`.
public struct MethodSpec: Sendable, Hashable, CustomStringConvertible {
  /// The text as given: studies and the morph experiment label their rows with it.
  public let text: String
  public let entry: GradientMethodEntry
  /// The options the qualifiers set.
  public let options: GradientOptions

  /// Parses `text`; errors name `option` (the CLI option or config key that held it).
  public init(_ text: String, option: String = "solver") throws {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    self.text = text
    self.entry = try GradientMethods.entry(named: parts[0], option: option)
    var o = GradientOptions()
    for q in parts.dropFirst() {
      func once<T>(_ current: T?, _ value: T) throws -> T {
        guard current == nil else { throw InvalidInput(option, "'\(text)' sets the same option twice") }
        return value
      }
      if q.hasPrefix("checkpoint=") {
        // DTO's checkpointing, e.g. dto/dpm-solver-2m/checkpoint=binomial:3
        o.checkpoint = try once(o.checkpoint, CheckpointPolicy(parsing: String(q.dropFirst("checkpoint=".count)), option: option))
      } else if let eq = q.firstIndex(of: "="), let key = GradientOption(rawValue: String(q[..<eq])), [.coupling, .gamma, .mix].contains(key) {
        // a reversible sampler's number, e.g. rex-rk4/coupling=0.99, bdia/gamma=0.5, edict/mix=0.9
        guard let value = Double(q[q.index(after: eq)...]), value.isFinite else {
          throw InvalidInput(option, "'\(q)' in '\(text)': \(key.rawValue) must be a finite number")
        }
        switch key {
        case .coupling: o.coupling = try once(o.coupling, value)
        case .gamma: o.gamma = try once(o.gamma, value)
        default: o.mix = try once(o.mix, value)
        }
      } else if q == "ode" {
        o.dynamics = try once(o.dynamics, .ode)
      } else if let s = SamplerKind(rawValue: q) {
        o.sampler = try once(o.sampler, s)
      } else if let s = StateChoice(rawValue: q) {
        o.states = try once(o.states, s)
      } else if let w = MultistepWeight(rawValue: q) {
        o.weight = try once(o.weight, w)
      } else if let l = LinearPartKind(rawValue: q) {
        o.linearPart = try once(o.linearPart, l)
      } else if let f = AdjointForm(rawValue: q) {
        o.adjointForm = try once(o.adjointForm, f)
      } else if let p = Parameterization(rawValue: q) {
        o.parameterization = try once(o.parameterization, p)
      } else {
        throw InvalidInput(option, "unknown qualifier '\(q)' in '\(text)' (expected a sampler (\(SamplerKind.allCases.map(\.rawValue).joined(separator: ", "))), ode, "
          + "a state source (\(StateChoice.allCases.map(\.rawValue).joined(separator: ", "))), a linear part (\(LinearPartKind.allCases.map(\.rawValue).joined(separator: ", "))), a parameterization (data, noise), an adjoint form (standard, angle), coupling=, gamma=, mix=, checkpoint= or a weight (\(MultistepWeight.allCases.map(\.rawValue).joined(separator: ", "))))")
      }
    }
    self.options = o
  }

  public var name: String { entry.name }
  public var description: String { text }

  /// The method, from the qualifiers and `given` (both are the user's: each unused option is an error, and the two
  /// may not disagree) over the context's `defaults`.
  public func make(given: GradientOptions = GradientOptions(), defaults: GradientOptions = GradientOptions()) throws -> any GradientMethod {
    try entry.make(try options.merging(given), defaults)
  }

  public static func == (a: MethodSpec, b: MethodSpec) -> Bool { a.text == b.text }
  public func hash(into hasher: inout Hasher) { hasher.combine(text) }
}
