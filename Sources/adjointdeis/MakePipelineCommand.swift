import ArgumentParser
import DiffusionCore
import Foundation
import Morphing
import NeuralCore

/// `adjointdeis make-pipeline`: a diffusers pipeline folder with random weights (nothing can be downloaded here).
struct MakePipelineCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "make-pipeline",
    abstract: "Write a DDPM pipeline folder (diffusers layout) with random weights: cifar10, small or tiny UNet layout.",
    discussion: """
      cifar10 is google/ddpm-cifar10-32's UNet (35.7M parameters, 3 x 32 x 32) and scheduler (DDPMScheduler, linear \
      betas 1e-4 to 0.02 over 1000 steps, epsilon prediction); weights are this project's seeded initialisation, F32. \
      diffusers loads the folder with DDPMPipeline.from_pretrained.
      """)

  @Option(help: "cifar10 | small | tiny") var layout: String = "cifar10"
  @Option(help: "Seed of the random weights.") var seed: UInt64 = 0
  @Option(help: "The new pipeline folder.") var out: String
  @Flag(name: .customLong("example-images"), help: "Also write target.png (a colour test pattern) and mask.png (left half 255) at the model's size into the folder.")
  var exampleImages = false

  func run() throws {
    let config: UNetConfig
    switch layout {
    case "cifar10": config = .cifar10
    case "small": config = .small
    case "tiny":
      config = .tiny  // class_embed_type identity: the pipeline then needs --z
    default: throw InvalidInput("layout", "unknown layout '\(layout)' (expected cifar10, small or tiny)")
    }
    // the folder checked and staged before the weights are made; its files appear together at the end, or none
    // (a full disk leaves no partial pipeline)
    let folder = try OutputFolder(out, field: "out")
    if FileManager.default.fileExists(atPath: folder.target.appendingPathComponent("model_index.json").path) {
      folder.discard()
      throw InvalidInput("out", "\(out) already holds a pipeline (model_index.json); choose a new directory")
    }
    let unet = try UNet2DModel<Float>(config: config, seed: seed)
    try folder.writing { staging in
      try DiffusionPipeline<Float>.write(unet: unet, scheduler: SchedulerConfig(), to: staging)
      if exampleImages { try writeExampleImages(config, to: staging) }
    }
    try folder.commit()
    print("wrote \(out): \(layout) UNet (\(unet.parameterCount) parameters, seed \(seed)), DDPMScheduler\(exampleImages ? ", target.png, mask.png" : "")")
  }

  /// A smooth colour pattern with a bright disc (target.png) and a mask keeping the left half (mask.png).
  private func writeExampleImages(_ config: UNetConfig, to dir: URL) throws {
    let (c, s) = (config.inChannels, config.sampleSize ?? 32)
    guard c == 1 || c == 3 else { throw InvalidInput("layout", "example images need 1 or 3 channels, the UNet has \(c)") }
    var values = [Double](repeating: 0, count: c * s * s)
    for k in 0..<c {
      for y in 0..<s {
        for x in 0..<s {
          let (u, v) = (Double(x) / Double(s - 1), Double(y) / Double(s - 1))
          let disc = (u - 0.6) * (u - 0.6) + (v - 0.4) * (v - 0.4) < 0.04 ? 0.8 : 0.0
          let ramp = [u, v, 1 - u][k % 3]
          values[(k * s + y) * s + x] = min(1, 2 * ramp - 1 + disc)
        }
      }
    }
    try ModelImage.pixels(values[...], channels: c, height: s, width: s).write(to: dir.appendingPathComponent("target.png"))
    let mask = (0..<(s * s)).map { i in UInt8(i % s < s / 2 ? 255 : 0) }
    try PNGPixels(channels: 1, height: s, width: s, bytes: mask).write(to: dir.appendingPathComponent("mask.png"))
  }
}
