import ArgumentParser

/// `adjointdeis network-study` (filled in below).
struct NetworkStudyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "network-study", abstract: "Toy versus trained network convergence.")
  func run() throws {}
}
