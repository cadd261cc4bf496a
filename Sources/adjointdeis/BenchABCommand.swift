import ArgumentParser
import DiffusionCore
import Foundation
import NeuralCore

/// `adjointdeis bench ab`: one kernel variant against another in the same process, alternating which runs first in
/// every round, so that a shared machine's load falls on both alike; prints each round's ratio new / old with the
/// load around it, the median and the spread, and the largest difference between the two variants' results.
struct BenchABCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ab", abstract: "A/B of two kernel variants in one process (interleaved rounds).",
    discussion: """
      Variants: weight-cache (Winograd weight transforms cached between calls, against transforming per call);
      f4x3 (Winograd F(4x4, 3x3) where it applies, against F(2x2, 3x3) everywhere; both precisions);
      fuse-norm-silu (GroupNorm + SiLU in one pass each way, against separate passes); split-products (a
      multi-threaded layer's Winograd products dealt out to the threads, against each threaded by OpenBLAS); all
      (all of them against none);
      openblas:OLD:NEW (OpenBLAS kernel sets by name, e.g. openblas:Haswell:Cooperlake).
      """)

  @Option(help: "weight-cache | f4x3 | fuse-norm-silu | split-products | all | openblas:OLD:NEW") var variant: String
  @Option(help: "Model directory, or cifar10 | small | tiny (random weights).") var model: String = "cifar10"
  @Option(help: "Images per batch (repeat the option for several).") var batch: [Int] = [8, 1]
  @Option(help: "float32 | float64") var dtype: BenchPrecision = .float32
  @Option(help: "Threads.") var threads: Int = 2
  @Option(help: "Timed runs per measurement (after one warm-up).") var runs: Int = 3
  @Option(help: "Rounds (at least 3).") var rounds: Int = 5

  func validate() throws {
    for b in batch { try Budget.count(b, "batch", maximum: Budget.Limit.batch) }
    try Budget.count(threads, "threads", maximum: Budget.Limit.threads)
    try Budget.count(runs, "runs", maximum: Budget.Limit.runs)
    try Budget.count(rounds, "rounds", maximum: Budget.Limit.runs)
    try BenchRounds.validate(rounds: rounds, runs: runs, contendedLoad: 0.3, settleSeconds: 0)
    _ = try switcher()
  }

  /// Sets variant `new` (true) or `old` (false); returns its name.
  func switcher() throws -> (Bool) -> String {
    if variant == "weight-cache" {
      return { new in
        KernelSwitches.cacheWinogradWeights = new
        return new ? "cached weight transforms" : "weight transforms per call"
      }
    }
    if variant == "all" {
      return { new in
        KernelSwitches.setAll(new)
        return new ? "issue 20's kernels (F(4x4) in Float32, cached weight transforms, fused GroupNorm + SiLU)" : "the kernels before issue 20"
      }
    }
    if variant == "split-products" {
      return { new in
        KernelSwitches.splitWinogradProducts = new
        return new ? "reverse-pass Winograd products dealt out to the threads" : "each Winograd product threaded by OpenBLAS"
      }
    }
    if variant == "fuse-norm-silu" {
      return { new in
        KernelSwitches.fuseGroupNormSiLU = new
        return new ? "GroupNorm + SiLU fused" : "GroupNorm, SiLU as separate passes"
      }
    }
    if variant == "f4x3" {
      return { new in
        KernelSwitches.winogradF4x3Float32 = new
        KernelSwitches.winogradF4x3Float64 = new
        return new ? "Winograd F(4x4, 3x3) on whole 4x4 tiles" : "Winograd F(2x2, 3x3) everywhere"
      }
    }
    let parts = variant.split(separator: ":").map(String.init)
    if parts.count == 3, parts[0] == "openblas" {
      return { new in OpenBLASKernels.use(new ? parts[2] : parts[1]) }
    }
    throw InvalidInput("variant", "expected weight-cache, f4x3, fuse-norm-silu, split-products, all or openblas:OLD:NEW, got '\(variant)'")
  }

  func run() throws {
    try validate()
    setBLASThreads(threads)
    switch dtype {
    case .float32: try measure(Float.self)
    case .float64: try measure(Double.self)
    case .both: throw InvalidInput("dtype", "give float32 or float64")
    }
  }

  private func measure<S: BLASScalar>(_: S.Type) throws {
    let unet = try UNet2DModel<S>.named(model)
    let c = unet.config
    guard let size = c.sampleSize else { throw InvalidInput("model", "the config has no sample_size") }
    let set = try switcher()
    let names = (set(false), set(true))
    print("A/B \(variant), \(S.dtypeName), UNet \(model), \(threads) threads; CPU \(MachineInfo.cpuModel) (\(MachineInfo.vectorISA)); OpenBLAS \(OpenBLASKernels.coreName) (environment: \(OpenBLASKernels.environment))")
    print("old: \(names.0); new: \(names.1); ratio = new / old (below 1: new faster); median of \(runs) runs after a warm-up, per variant and round")
    let timer = BenchUNetCommand.Timer(runs: runs)
    for b in batch {
      let (x, z, v, t) = BenchInputs<S>.draw(c, size: size, batch: b)
      var forwardRatios: [Double] = [], fullRatios: [Double] = [], cpuRatios: [Double] = [], forwardCPURatios: [Double] = [], lines: [String] = []
      var fastestNew = (Double.infinity, Double.infinity), fastestOld = (Double.infinity, Double.infinity)
      var results: [Bool: UNetVJP<S>] = [:]
      for k in 0..<rounds {
        let loadBefore = MachineInfo.loadAverages()?[0] ?? .nan
        var times: [Bool: (Double, Double, Double, Double)] = [:]
        for new in k % 2 == 0 ? [false, true] : [true, false] {
          _ = set(new)
          let f = try timer.medians { _ = try unet.forward(x, batch: b, height: size, width: size, timesteps: t, z: z) }
          let g = try timer.medians { results[new] = try unet.vjp(x, batch: b, height: size, width: size, timesteps: t, z: z, cotangent: v) }
          times[new] = (f.wall, g.wall, g.cpu, f.cpu)
          if new { fastestNew = (min(fastestNew.0, f.fastest), min(fastestNew.1, g.fastest)) } else { fastestOld = (min(fastestOld.0, f.fastest), min(fastestOld.1, g.fastest)) }
        }
        let (o, n) = (times[false]!, times[true]!)
        forwardRatios.append(n.0 / o.0)
        fullRatios.append(n.1 / o.1)
        cpuRatios.append(n.2 / o.2)
        forwardCPURatios.append(n.3 / o.3)
        lines.append(
          String(
            format: "  round %d (%@ first, load %.2f -> %.2f): forward %.3f / %.3f s = %.3f, forward + VJP %.3f / %.3f s = %.3f (CPU: forward %.3f, forward + VJP %.3f / %.3f s = %.3f)",
            k + 1, k % 2 == 0 ? "old" : "new", loadBefore, MachineInfo.loadAverages()?[0] ?? .nan, n.0, o.0, n.0 / o.0, n.1, o.1, n.1 / o.1,
            n.3 / o.3, n.2, o.2, n.2 / o.2))
      }
      let diff = Self.largestDifference(results[false]!, results[true]!)
      let fastest = String(
        format: "  fastest run over all rounds: forward %.3f / %.3f s = %.3f, forward + VJP %.3f / %.3f s = %.3f",
        fastestNew.0, fastestOld.0, fastestNew.0 / fastestOld.0, fastestNew.1, fastestOld.1, fastestNew.1 / fastestOld.1)
      print("batch \(b):")
      lines.forEach { print($0) }
      print(fastest)
      print(
        String(
          format: "  median ratio forward %.3f (%.3f-%.3f), forward + VJP %.3f (%.3f-%.3f), CPU time forward %.3f (%.3f-%.3f), forward + VJP %.3f (%.3f-%.3f); largest |new - old| / max |old|: %.2e",
          BenchRounds.median(forwardRatios)!, forwardRatios.min()!, forwardRatios.max()!, BenchRounds.median(fullRatios)!,
          fullRatios.min()!, fullRatios.max()!, BenchRounds.median(forwardCPURatios)!, forwardCPURatios.min()!,
          forwardCPURatios.max()!, BenchRounds.median(cpuRatios)!, cpuRatios.min()!, cpuRatios.max()!, diff))
    }
    _ = set(true)
    KernelSwitches.winogradF4x3Float64 = false
  }

  /// max |a - b| / max |a| over eps, the x and parameter gradients.
  static func largestDifference<S: BLASScalar>(_ a: UNetVJP<S>, _ b: UNetVJP<S>) -> Double {
    var worst = 0.0
    for (u, w) in [(a.eps, b.eps), (a.x, b.x), (a.parameters, b.parameters)] {
      let scale = u.reduce(0.0) { max($0, abs(Double($1))) }
      let d = zip(u, w).reduce(0.0) { max($0, abs(Double($1.0) - Double($1.1))) }
      worst = max(worst, scale > 0 ? d / scale : d)
    }
    return worst
  }
}
