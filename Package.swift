// swift-tools-version:6.0
import PackageDescription

// Dependencies flow one way:
//   CBLAS <- DiffusionCore (schedules, the NoisePredictor protocol, GradientProblem) <- ToyModels, NeuralCore,
//   Integrators (gradient methods), Reports (CSV, SVG plots, number formats)
//   <- Convergence (studies, order fits) <- Morphing (the guided-morphing experiment, guided generation on pipelines,
//   PNG via CZlib; Reports, not Convergence) <- adjointdeis (CLI)
let package = Package(
  name: "AdjointDEIS",
  products: [
    .executable(name: "adjointdeis", targets: ["adjointdeis"]),
    .library(name: "DiffusionCore", targets: ["DiffusionCore"]),
    .library(name: "ToyModels", targets: ["ToyModels"]),
    .library(name: "Integrators", targets: ["Integrators"]),
    .library(name: "Reports", targets: ["Reports"]),
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
    .target(name: "Reports", dependencies: ["DiffusionCore"]),
    .target(name: "Convergence", dependencies: ["DiffusionCore", "ToyModels", "Integrators", "NeuralCore", "Reports"]),
    .target(name: "Morphing", dependencies: ["DiffusionCore", "ToyModels", "Integrators", "NeuralCore", "Reports", "CZlib"]),
    .executableTarget(
      name: "adjointdeis",
      dependencies: [
        "DiffusionCore", "ToyModels", "Integrators", "Reports", "Convergence", "NeuralCore", "Morphing",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      // A GNU build-id (a hash of the linked code): the code version every shard of a sharded run records.
      linkerSettings: [.unsafeFlags(["-Xlinker", "--build-id=sha1"], .when(platforms: [.linux]))]),
    // Helpers shared by the test targets (XCTAssertThrowsInvalid, JSONMutation): one copy instead of one per target.
    .target(name: "TestSupport", dependencies: ["DiffusionCore"], path: "Tests/TestSupport"),
    .testTarget(name: "DiffusionCoreTests", dependencies: ["TestSupport", "DiffusionCore"]),
    .testTarget(name: "ToyModelsTests", dependencies: ["ToyModels", "DiffusionCore"]),
    .testTarget(name: "IntegratorsTests", dependencies: ["TestSupport", "Integrators", "ToyModels", "DiffusionCore"]),
    .testTarget(name: "NeuralCoreTests", dependencies: ["TestSupport", "NeuralCore", "DiffusionCore", "CBLAS"], exclude: ["Fixtures"]),
    .testTarget(name: "MorphingTests", dependencies: ["TestSupport", "Morphing", "Convergence", "Reports", "NeuralCore", "Integrators", "ToyModels", "DiffusionCore"]),
    .testTarget(name: "ConvergenceTests", dependencies: ["TestSupport", "Convergence", "Reports", "Integrators", "ToyModels", "NeuralCore", "DiffusionCore", "CBLAS"]),
  ]
)
