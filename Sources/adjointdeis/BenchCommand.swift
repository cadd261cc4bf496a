import ArgumentParser
import DiffusionCore
import Foundation
import NeuralCore

/// `adjointdeis bench`: timings of the library's hot paths.
struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench", abstract: "Timings of the library's hot paths.",
    subcommands: [BenchUNetCommand.self, BenchUNetMemoryCommand.self, BenchABCommand.self])
}

/// The precisions `bench unet` measures.
enum BenchPrecision: String, CaseIterable, ExpressibleByArgument {
  case float32, float64, both
  var dtypes: [String] { self == .both ? ["float32", "float64"] : [rawValue] }
}

/// `adjointdeis bench unet`: forward and forward+VJP of a UNet2DModel against PyTorch + diffusers on the same layout,
/// the two measured alternately in the same run, and the peak resident memory of forward+VJP in separate processes.
struct BenchUNetCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "unet",
    abstract: "Time the UNet forward pass and forward + VJP against PyTorch (median of --runs after one warm-up).",
    discussion: """
      Each round times NeuralCore in this process and PyTorch (scripts/bench_pytorch.py, random weights of the same
      layout) in a child process, back to back, odd rounds PyTorch first, so that both see the same machine load. The
      1-minute load average is recorded before and after every round; a round that starts above --contended-load is
      marked contended and left out of the headline medians (all rounds contended: the table says so). --settle
      waits up to that many seconds before each round for the load to fall below the threshold (the previous round's
      own load takes about two minutes to decay). The table gives the medians over rounds, the ratio NeuralCore /
      PyTorch (below 1: NeuralCore faster) and the spread of the ratios between rounds. Peak resident memory of one
      forward + VJP at the largest batch is measured for each in a fresh process. Without an importable torch +
      diffusers the table has NeuralCore's column only and says so. FLOPs count 2 per multiply-add of the direct
      convolutions, linear layers and attention products: F for the forward pass, 3F for forward + VJP.
      --profile prints instead the time of forward + VJP by kernel kind, next to PyTorch's profiler by operator.
      """)

  @Option(help: "Model directory, or cifar10 | small | tiny (random weights).") var model: String = "cifar10"
  @Option(help: "Images per batch (repeat the option for several).") var batch: [Int] = [8, 1]
  @Option(help: "float32 | float64 | both") var dtype: BenchPrecision = .float32
  @Option(help: "Threads for OpenBLAS and for PyTorch.") var threads: Int = 2
  @Option(help: "Timed runs per measurement (after one warm-up).") var runs: Int = 5
  @Option(help: "Rounds alternating NeuralCore and PyTorch (at least 3).") var rounds: Int = BenchRounds.minimumRounds
  @Option(help: "1-minute load average above which a round is contended (not in the headline).")
  var contendedLoad: Double = BenchRounds.defaultContendedLoad
  @Option(help: "Seconds to wait at most, before each round, for the load to fall below --contended-load.") var settle: Double = 0
  @Flag(help: "Per-kernel time of forward + VJP (and PyTorch's per-operator profile) instead of the table.") var profile: Bool = false
  @Flag(help: "NeuralCore with the kernels before issue 20 (F(2x2, 3x3) Winograd, weight transforms in every pass, separate GroupNorm and SiLU): the 'before' of a profile or table.")
  var baselineKernels: Bool = false
  @Flag(help: "Skip the PyTorch column and the memory comparison.") var noPytorch: Bool = false
  @Option(help: "Python interpreter with torch and diffusers.") var python: String = "python3"
  @Option(help: "The PyTorch side.") var pytorchScript: String = "scripts/bench_pytorch.py"

  /// The options' checks, before anything is allocated.
  func validate() throws {
    for b in batch { try Budget.count(b, "batch", maximum: Budget.Limit.batch) }
    try Budget.count(runs, "runs", maximum: Budget.Limit.runs)
    try Budget.count(rounds, "rounds", maximum: Budget.Limit.runs)
    try Budget.count(threads, "threads", maximum: Budget.Limit.threads)
    try BenchRounds.validate(rounds: rounds, runs: runs, contendedLoad: contendedLoad, settleSeconds: settle)
  }

  func run() throws {
    try validate()
    // sizes and memory are checked before the model or any batch is allocated
    for dtype in dtype.dtypes {
      let c = try UNetConfig.named(model)
      guard let size = c.sampleSize else { throw InvalidInput("model", "the config has no sample_size") }
      for b in batch {
        _ = try Budget.elementCount([b, max(c.inChannels, c.outChannels), size, size], "batch")
        _ = try Budget.elementCount([b, c.conditionDimension], "batch")
        try c.checkMemory(batch: b, height: size, width: size, scalarBytes: dtype == "float32" ? 4 : 8, parameterCopies: 2, field: "batch")
      }
    }
    setBLASThreads(threads)
    if baselineKernels { KernelSwitches.setAll(false) }
    let reference = noPytorch ? nil : try pytorchReference()
    let loadBefore = Self.loadAverage()
    if profile {
      for dtype in dtype.dtypes {
        print(dtype == "float32" ? try profileTable(Float.self, reference) : try profileTable(Double.self, reference))
      }
    } else {
      var header = false
      for dtype in dtype.dtypes {
        let table = dtype == "float32" ? try bench(Float.self, reference) : try bench(Double.self, reference)
        if !header {
          print(table.header)
          header = true
        }
        print(table.body)
      }
    }
    print("load average (1, 5, 15 min) before: \(loadBefore), after: \(Self.loadAverage()) on \(ProcessInfo.processInfo.activeProcessorCount) cores")
  }

  /// The PyTorch side's config and why it is missing when it is.
  struct PyTorchReference {
    var config: String?
    var unavailable: String?
  }

  private func pytorchReference() throws -> PyTorchReference {
    let config: String
    switch model {
    case "cifar10": config = "Tests/NeuralCoreTests/Fixtures/ddpm-cifar10-32-config.json"
    case "small", "tiny": return PyTorchReference(unavailable: "no config.json for the built-in layout '\(model)'")
    default: config = URL(fileURLWithPath: model).appendingPathComponent("config.json").path
    }
    guard FileManager.default.fileExists(atPath: config) else {
      return PyTorchReference(unavailable: "\(config) not found (run from the repository root)")
    }
    guard FileManager.default.fileExists(atPath: pytorchScript) else {
      return PyTorchReference(unavailable: "\(pytorchScript) not found (run from the repository root)")
    }
    let probe = try? Self.runProcess(python, ["-c", "import torch, diffusers; print(torch.__version__, diffusers.__version__)"])
    guard let probe, probe.status == 0 else { return PyTorchReference(unavailable: "torch + diffusers are not importable by \(python)") }
    return PyTorchReference(config: config, unavailable: nil)
  }

  struct Table {
    var header: String
    var body: String
  }

  /// Waits (at most --settle seconds, polling every 5 s) for the 1-minute load to fall to --contended-load;
  /// returns the load then.
  func settledLoad() -> Double {
    let deadline = Date().addingTimeInterval(settle)
    while true {
      let load = MachineInfo.loadAverages()?[0] ?? .infinity
      if load <= contendedLoad || Date() >= deadline { return load }
      Thread.sleep(forTimeInterval: min(5, max(0.1, deadline.timeIntervalSinceNow)))
    }
  }

  private func bench<S: BLASScalar>(_: S.Type, _ reference: PyTorchReference?) throws -> Table {
    let unet = try UNet2DModel<S>.named(model)
    let c = unet.config
    guard let size = c.sampleSize else { throw InvalidInput("model", "the config has no sample_size") }
    var rows: [String] = []
    var notes: [String] = []
    var torchVersion = "", torchMachine = ""
    for b in batch {
      let (x, z, v, t) = BenchInputs<S>.draw(c, size: size, batch: b)
      var results = BenchRounds(contendedLoad: contendedLoad)
      var inputsOnly: [Double] = []
      for k in 0..<rounds {
        let loadBefore = settledLoad()
        var theirs: (Double, Double)?
        func runTheirs() throws {
          guard let config = reference?.config else { return }
          let json = try runPyTorch(["--config", config, "--batch", "\(b)", "--dtype", S.dtypeName, "--runs", "\(runs)", "--warmup", "1"])
          guard let f = json["forward_ms_median"] as? Double, let g = json["forward_vjp_ms_median"] as? Double else {
            throw InvalidInput(pytorchScript, "printed no forward_ms_median / forward_vjp_ms_median")
          }
          theirs = (f / 1000, g / 1000)
          torchVersion = "PyTorch \(json["torch"] ?? "?") + diffusers \(json["diffusers"] ?? "?")"
          torchMachine = "PyTorch CPU capability \(json["cpu_capability"] ?? "?") (BLAS \(json["blas"] ?? "?"), oneDNN \(json["mkldnn"] as? Bool == true ? "on" : "off"))"
        }
        if BenchRounds.pytorchFirst(round: k) { try runTheirs() }
        let forward = try median { _ = try unet.forward(x, batch: b, height: size, width: size, timesteps: t, z: z) }
        let full = try median { _ = try unet.vjp(x, batch: b, height: size, width: size, timesteps: t, z: z, cotangent: v) }
        inputsOnly.append(try median {
          _ = try unet.vjp(x, batch: b, height: size, width: size, timesteps: t, z: z, cotangent: v, wantParameters: false)
        })
        if !BenchRounds.pytorchFirst(round: k) { try runTheirs() }
        results.append(
          BenchRounds.Round(
            oursForward: forward, oursFull: full, theirsForward: theirs?.0, theirsFull: theirs?.1,
            loadBefore: loadBefore, loadAfter: MachineInfo.loadAverages()?[0] ?? .nan))
      }
      let flops = unet.forwardFLOPs(batch: b, height: size, width: size)
      let nf = results.median(\.oursForward)!, nv = results.median(\.oursFull)!
      func spread(_ value: (BenchRounds.Round) -> Double?) -> String {
        results.spread(value).map { String(format: "%.2f-%.2f", $0.0, $0.1) } ?? "-"
      }
      for (name, n, p, ratio) in [
        ("batch \(b), forward", nf, results.median(\.theirsForward), spread(\.forwardRatio)),
        ("batch \(b), forward + VJP (x, z, all parameters)", nv, results.median(\.theirsFull), spread(\.fullRatio)),
      ] {
        let torch = p.map { String(format: "%.3f s", $0) } ?? "-"
        let r = p.map { String(format: "%.2f", n / $0) } ?? "-"
        rows.append("| \(name) | \(torch) | " + String(format: "%.3f s", n) + " | \(r) | \(ratio) |")
      }
      notes.append(
        String(
          format: "batch %d: NeuralCore forward %.1f GFLOP/s, forward + VJP %.1f GFLOP/s (direct-convolution FLOPs); forward + VJP (x, z) without parameters %.3f s",
          b, flops / nf * 1e-9, 3 * flops / nv * 1e-9, BenchRounds.median(inputsOnly)!))
      let perRound = results.rounds.enumerated().map { k, r in
        let ratios = r.forwardRatio.map { String(format: "%.2f / %.2f", $0, r.fullRatio!) } ?? String(format: "%.3f s / %.3f s", r.oursForward, r.oursFull)
        let order = reference?.config == nil ? "" : BenchRounds.pytorchFirst(round: k) ? ", PyTorch first" : ", NeuralCore first"
        return String(format: "%@ (load %.2f -> %.2f%@%@)", ratios, r.loadBefore, r.loadAfter, order, results.isContended(r) ? ", contended" : "")
      }
      notes.append("batch \(b): per round (forward / forward + VJP\(reference?.config == nil ? "" : " ratio")): " + perRound.joined(separator: "; "))
      let quiet = results.rounds.filter { !results.isContended($0) }.count
      notes.append(
        results.allContended
          ? "batch \(b): CONTENDED: no round started with the load at or below \(contendedLoad); the medians use all \(rounds) rounds and are not a quiet-machine result"
          : "batch \(b): medians over the \(quiet) of \(rounds) rounds that started with the load at or below \(contendedLoad)")
    }
    if let config = reference?.config, let largest = batch.max() {
      notes.append(try memoryLine(S.self, config: config, batch: largest))
    }
    let unavailable = reference == nil ? "PyTorch column skipped (--no-pytorch)" : reference?.unavailable.map { "PyTorch column unavailable: \($0)" }
    let header = """
      UNet \(model): \(unet.parameterCount) parameters, \(size)x\(size)x\(c.inChannels); \(threads) threads
      CPU \(MachineInfo.cpuModel) (\(MachineInfo.vectorISA)); OpenBLAS kernels \(OpenBLASKernels.coreName) (\(OpenBLASKernels.kernelISA); \(OpenBLASKernels.config); environment: \(OpenBLASKernels.environment))\(torchMachine.isEmpty ? "" : "; " + torchMachine)\(baselineKernels ? "; NeuralCore with the kernels before issue 20 (--baseline-kernels)" : "")
      median of \(runs) runs after a warm-up per round; \(rounds) rounds, odd ones PyTorch first; contended: load above \(contendedLoad) before the round (waited up to \(Int(settle)) s for it)\(torchVersion.isEmpty ? "" : "; \(torchVersion), scripts/bench_pytorch.py")
      """
    let body = """

      \(S.dtypeName)

      | | PyTorch | NeuralCore | ratio | ratio over rounds (min-max) |
      |---|---|---|---|---|
      \(rows.joined(separator: "\n"))

      \((notes + (unavailable.map { [$0] } ?? [])).map { "- " + $0 }.joined(separator: "\n"))
      """
    return Table(header: header, body: body)
  }

  /// Peak resident memory of one forward + VJP (all parameters) in a fresh process for each side.
  private func memoryLine<S: BLASScalar>(_: S.Type, config: String, batch b: Int) throws -> String {
    let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    let ours = try Self.runProcess(exe, ["bench", "unet-memory", "--model", model, "--batch", "\(b)", "--dtype", S.dtypeName, "--threads", "\(threads)"]
                                  + (baselineKernels ? ["--baseline-kernels"] : []))
    guard ours.status == 0, let oursJSON = Self.jsonObject(ours.output), let nPeak = oursJSON["peak_rss_mb"] as? Double,
      let nBase = oursJSON["rss_before_mb"] as? Double
    else { return "peak RSS: bench unet-memory failed (exit \(ours.status)): \(ours.output.prefix(200))" }
    let theirs = try runPyTorch(["--config", config, "--batch", "\(b)", "--dtype", S.dtypeName, "--memory"])
    guard let pPeak = theirs["peak_rss_mb"] as? Double, let pBase = theirs["rss_before_mb"] as? Double else {
      throw InvalidInput(pytorchScript, "--memory printed no peak_rss_mb / rss_before_mb")
    }
    return String(
      format: "peak RSS of one forward + VJP at batch %d (fresh process each): PyTorch %.0f MB (%.0f MB above the loaded model), NeuralCore %.0f MB (%.0f MB above), ratio %.2f (%.2f above the model)",
      b, pPeak, pPeak - pBase, nPeak, nPeak - nBase, nPeak / pPeak, (nPeak - nBase) / max(1, pPeak - pBase))
  }

  func runPyTorch(_ arguments: [String]) throws -> [String: Any] {
    let result = try Self.runProcess(python, [pytorchScript, "--threads", "\(threads)"] + arguments)
    guard result.status == 0, let json = Self.jsonObject(result.output) else {
      throw InvalidInput(pytorchScript, "failed (exit \(result.status)): \(result.output.suffix(400))")
    }
    return json
  }

  func median(_ body: () throws -> Void) rethrows -> Double { try Timer(runs: runs).median(body) }

  /// The median wall time of `runs` calls after one warm-up call.
  struct Timer {
    let runs: Int
    func median(_ body: () throws -> Void) rethrows -> Double { try medians(body).wall }

    /// Median wall and process CPU seconds (user + system, all threads) per call, and the fastest wall time: on a
    /// shared machine the CPU time and the fastest run are less affected by waiting for a core than the median.
    func medians(_ body: () throws -> Void) rethrows -> (wall: Double, cpu: Double, fastest: Double) {
      try body()  // warm-up
      var walls: [Double] = [], cpus: [Double] = []
      for _ in 0..<runs {
        let cpu0 = Self.cpuSeconds(), start = DispatchTime.now().uptimeNanoseconds
        try body()
        walls.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        cpus.append(Self.cpuSeconds() - cpu0)
      }
      return (BenchRounds.median(walls)!, BenchRounds.median(cpus)!, walls.min()!)
    }

    static func cpuSeconds() -> Double {
      var u = rusage()
      getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
      return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6
    }
  }

  static func loadAverage() -> String {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "unknown" }
    return text.split(separator: " ").prefix(3).joined(separator: " ")
  }

  /// Runs a program, returning its exit status and standard output (standard error is discarded).
  static func runProcess(_ program: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [program] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  /// The last JSON object in a program's output.
  static func jsonObject(_ output: String) -> [String: Any]? {
    guard let start = output.firstIndex(of: "{"), let end = output.lastIndex(of: "}") else { return nil }
    return (try? JSONSerialization.jsonObject(with: Data(output[start...end].utf8))) as? [String: Any]
  }
}

/// `adjointdeis bench unet-memory` (used by `bench unet`): one forward + VJP in a fresh process; prints the resident
/// memory before the pass and the process's peak, in MB, as JSON.
struct BenchUNetMemoryCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "unet-memory", abstract: "Peak resident memory of one UNet forward + VJP (for bench unet).", shouldDisplay: false)

  @Option(help: "Model directory, or cifar10 | small | tiny (random weights).") var model: String = "cifar10"
  @Option(help: "Images per batch.") var batch: Int = 8
  @Option(help: "float32 | float64") var dtype: BenchPrecision = .float32
  @Option(help: "OpenBLAS threads.") var threads: Int = 2
  @Flag(help: "The kernels before issue 20 (as bench unet --baseline-kernels).") var baselineKernels: Bool = false

  func run() throws {
    try Check.positive(batch, "batch")
    try Check.positive(threads, "threads")
    setBLASThreads(threads)
    if baselineKernels { KernelSwitches.setAll(false) }
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
    let (x, z, v, _) = BenchInputs<S>.draw(c, size: size, batch: batch)
    let before = Self.status("VmRSS:")
    let r = try unet.vjp(x, batch: batch, height: size, width: size, timesteps: [500], z: z, cotangent: v)
    guard r.x.allSatisfy(\.isFinite) else { throw InvalidInput("model", "the VJP is not finite") }
    let peak = Self.status("VmHWM:")
    print(String(format: "{\"rss_before_mb\": %.1f, \"peak_rss_mb\": %.1f}", before, peak))
  }

  /// A /proc/self/status field in MB.
  static func status(_ field: String) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
      let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
      let kb = Double(line.dropFirst(field.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
    else { return .nan }
    return kb / 1024
  }
}

/// The benchmarks' inputs for `batch` images of a model: x, z and the cotangent v, standard normals drawn in that
/// order from seed 1, and timestep 500 for every image (the same numbers in every bench command).
enum BenchInputs<S: BLASScalar> {
  static func draw(_ c: UNetConfig, size: Int, batch b: Int) -> (x: [S], z: [S], v: [S], t: [Double]) {
    var rng = SeededGenerator(seed: 1)
    let x = (0..<b * c.inChannels * size * size).map { _ in S(rng.normal()) }
    let z = (0..<b * c.conditionDimension).map { _ in S(rng.normal()) }
    let v = (0..<b * c.outChannels * size * size).map { _ in S(rng.normal()) }
    return (x, z, v, [Double](repeating: 500, count: b))
  }
}
