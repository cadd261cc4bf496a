import ArgumentParser

struct AdjointDEIS: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "adjointdeis",
    abstract: "Gradients through diffusion samplers with the continuous adjoint (AdjointDEIS).")
}

AdjointDEIS.main()
