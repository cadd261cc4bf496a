// swift-tools-version:6.0
import PackageDescription

// Dependencies flow one way:
//   CBLAS <- DiffusionCore (schedules, the NoisePredictor protocol) <- ToyModels, NeuralCore, Integrators
//   <- Convergence <- Morphing (the guided-morphing experiment, guided generation, PNG via CZlib) <- adjointdeis (CLI)
let package = Package(
  name: "AdjointDEIS",
  products: [
    .executable(name: "adjointdeis", targets: ["adjointdeis"]),
    .library(name: "DiffusionCore", targets: ["DiffusionCore"]),
    .library(name: "ToyModels", targets: ["ToyModels"]),
    .library(name: "Integrators", targets: ["Integrators"]),
    .library(name: "Convergence", targets: ["Convergence"]),
    .library(name: "NeuralCore", targets: ["NeuralCore"]),
    .library(name: "Morphing", targets: ["Morphing"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
  ],
  targets: [
    .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
    .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
    .target(name: "DiffusionCore"),
    .target(name: "ToyModels", dependencies: ["DiffusionCore", "CBLAS"]),
    .target(name: "Integrators", dependencies: ["DiffusionCore"]),
    .target(name: "NeuralCore", dependencies: ["DiffusionCore", "CBLAS"]),
    .target(name: "Convergence", dependencies: ["DiffusionCore", "ToyModels", "Integrators", "NeuralCore"]),
    .target(name: "Morphing", dependencies: ["DiffusionCore", "ToyModels", "Integrators", "NeuralCore", "Convergence", "CZlib"]),
    .executableTarget(
      name: "adjointdeis",
      dependencies: [
        "DiffusionCore", "ToyModels", "Integrators", "Convergence", "NeuralCore", "Morphing",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .testTarget(name: "DiffusionCoreTests", dependencies: ["DiffusionCore"]),
    .testTarget(name: "ToyModelsTests", dependencies: ["ToyModels", "DiffusionCore"]),
    .testTarget(name: "IntegratorsTests", dependencies: ["Integrators", "ToyModels", "DiffusionCore"]),
    .testTarget(name: "NeuralCoreTests", dependencies: ["NeuralCore", "DiffusionCore"], exclude: ["Fixtures"]),
    .testTarget(name: "MorphingTests", dependencies: ["Morphing", "Convergence", "NeuralCore", "Integrators", "ToyModels", "DiffusionCore"]),
    .testTarget(name: "ConvergenceTests", dependencies: ["Convergence", "Integrators", "ToyModels", "DiffusionCore"]),
  ]
)
