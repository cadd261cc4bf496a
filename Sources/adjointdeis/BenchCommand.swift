import ArgumentParser
import DiffusionCore
import Foundation
import NeuralCore

/// `adjointdeis bench`: timings of the library's hot paths.
struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench", abstract: "Timings of the library's hot paths.", subcommands: [BenchUNetCommand.self])
}

/// `adjointdeis bench unet`: forward and forward+VJP of a UNet2DModel, median wall time and GFLOP/s.
struct BenchUNetCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "unet",
    abstract: "Time the UNet forward pass and forward + VJP (median of --runs after one warm-up).",
    discussion: """
      FLOPs count 2 per multiply-add of the convolutions, linear layers and attention products: F for the forward
      pass, 3F for forward + VJP with parameter gradients (input and weight products), 2F without.
      """)

  @Option(help: "Model directory, or cifar10 | small | tiny (random weights).") var model: String = "cifar10"
  @Option(help: "Images per batch.") var batch: Int = 8
  @Option(help: "float32 | float64") var dtype: String = "float32"
  @Option(help: "OpenBLAS threads (default: OpenBLAS's own choice).") var threads: Int?
  @Option(help: "Timed runs per measurement (after one warm-up).") var runs: Int = 5

  func run() throws {
    try Budget.count(batch, "batch", maximum: Budget.Limit.batch)
    try Budget.count(runs, "runs", maximum: Budget.Limit.runs)
    if let threads {
      try Budget.count(threads, "threads", maximum: Budget.Limit.threads)
      setBLASThreads(threads)
    }
    switch dtype {
    case "float32": try bench(Float.self)
    case "float64": try bench(Double.self)
    default: throw InvalidInput("dtype", "expected float32 or float64, got '\(dtype)'")
    }
  }

  private func bench<S: BLASScalar>(_: S.Type) throws {
    let c = try UNetConfig.named(model)
    guard let size = c.sampleSize else { throw InvalidInput("model", "the config has no sample_size") }
    // sizes and memory are checked before the model or any batch is allocated
    let inputCount = try Budget.elementCount([batch, c.inChannels, size, size], "batch")
    let outputCount = try Budget.elementCount([batch, c.outChannels, size, size], "batch")
    let zCount = try Budget.elementCount([batch, c.conditionDimension], "batch")
    try c.checkMemory(batch: batch, height: size, width: size, scalarBytes: MemoryLayout<S>.size, parameterCopies: 2, field: "batch")
    let unet = try UNet2DModel<S>.named(model)
    var rng = SeededGenerator(seed: 1)
    let x = (0..<inputCount).map { _ in S(rng.normal()) }
    let z = (0..<zCount).map { _ in S(rng.normal()) }
    let v = (0..<outputCount).map { _ in S(rng.normal()) }
    let t = [Double](repeating: 500, count: batch)
    let flops = unet.forwardFLOPs(batch: batch, height: size, width: size)

    func cpuSeconds() -> Double {
      var spec = timespec()
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
      return Double(spec.tv_sec) + 1e-9 * Double(spec.tv_nsec)
    }
    func middle(_ values: [Double]) -> Double {
      let v = values.sorted()
      return v.count % 2 == 1 ? v[v.count / 2] : 0.5 * (v[v.count / 2 - 1] + v[v.count / 2])
    }
    /// Median wall time and median process CPU time (all threads) of the runs after a warm-up.
    func median(_ body: () throws -> Void) rethrows -> (wall: Double, cpu: Double) {
      try body()  // warm-up
      var walls: [Double] = [], cpus: [Double] = []
      for _ in 0..<runs {
        let start = DispatchTime.now().uptimeNanoseconds, cpuStart = cpuSeconds()
        try body()
        walls.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        cpus.append(cpuSeconds() - cpuStart)
      }
      return (middle(walls), middle(cpus))
    }
    let forward = try median { _ = try unet.forward(x, batch: batch, height: size, width: size, timesteps: t, z: z) }
    let full = try median { _ = try unet.vjp(x, batch: batch, height: size, width: size, timesteps: t, z: z, cotangent: v) }
    let inputsOnly = try median {
      _ = try unet.vjp(x, batch: batch, height: size, width: size, timesteps: t, z: z, cotangent: v, wantParameters: false)
    }
    print("OpenBLAS kernels: \(OpenBLASKernels.coreName)")
    print("model \(model): \(unet.parameterCount) parameters, \(size)x\(size)x\(c.inChannels), batch \(batch), \(S.dtypeName), threads \(threads.map(String.init) ?? "default"), median of \(runs)")
    let estimate = c.memoryEstimate(batch: batch, height: size, width: size, scalarBytes: MemoryLayout<S>.size, parameterCopies: 2)
    print("memory budget estimate: \(Budget.describe(estimate)) (refused above \(Budget.describe(Budget.usableFraction * Double(Budget.physicalMemory))))")
    print(String(format: "forward FLOPs per batch: %.3f GFLOP", flops * 1e-9))
    for (name, time, factor) in [("forward", forward, 1.0), ("forward+vjp (x, z, theta)", full, 3.0), ("forward+vjp (x, z)", inputsOnly, 2.0)] {
      let label = name.padding(toLength: 27, withPad: " ", startingAt: 0)
      print(label + String(format: " %8.4f s  %7.2f GFLOP/s   (cpu %.4f s)", time.wall, factor * flops / time.wall * 1e-9, time.cpu))
    }
    print("(wall-clock medians; cpu = process CPU time of all threads, which on a busy machine shows the share obtained)")
  }
}
