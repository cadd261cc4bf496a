import DiffusionCore
import Foundation
import NeuralCore

/// `bench unet --profile`: forward + VJP (x, z, all parameters) timed by kernel kind (`KernelProfile`), next to
/// PyTorch's profiler on the same layout (scripts/bench_pytorch.py --profile, self CPU time per operator).
extension BenchUNetCommand {
  func profileTable<S: BLASScalar>(_: S.Type, _ reference: PyTorchReference?) throws -> String {
    let unet = try UNet2DModel<S>.named(model)
    let c = unet.config
    guard let size = c.sampleSize else { throw InvalidInput("model", "the config has no sample_size") }
    var out: [String] = [
      "UNet \(model), \(S.dtypeName), \(threads) threads; CPU \(MachineInfo.cpuModel) (\(MachineInfo.vectorISA)); OpenBLAS kernels \(OpenBLASKernels.coreName) (\(OpenBLASKernels.kernelISA))"
      + (baselineKernels ? "; NeuralCore with the kernels before issue 20 (--baseline-kernels)" : "")
    ]
    for b in batch {
      let (x, z, v, t) = BenchInputs<S>.draw(c, size: size, batch: b)
      func pass() throws { _ = try unet.vjp(x, batch: b, height: size, width: size, timesteps: t, z: z, cotangent: v) }
      let loadBefore = MachineInfo.loadAverages()?[0] ?? .nan
      try pass()  // warm-up
      KernelProfile.reset(enabled: true)
      let start = DispatchTime.now().uptimeNanoseconds
      for _ in 0..<runs { try pass() }
      let wall = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 / Double(runs)
      let totals = KernelProfile.snapshot()
      KernelProfile.reset(enabled: false)
      let loadAfter = MachineInfo.loadAverages()?[0] ?? .nan
      // thread-seconds per pass over the threads timed: comparable with a wall time
      let per = 1 / Double(runs * KernelProfile.threadsTimed(batch: b))
      var rows = KernelProfile.Kind.allCases.map { ($0.label, totals[$0]! * per) }
      rows.append(("other (layout, residual adds, allocation, waiting)", max(0, wall - rows.reduce(0) { $0 + $1.1 })))
      out.append("")
      out.append(String(format: "NeuralCore batch %d forward + VJP: %.3f s per pass (mean of %d after a warm-up; load %.2f -> %.2f; %d thread(s) timed, their time divided by that)", b, wall, runs, loadBefore, loadAfter, KernelProfile.threadsTimed(batch: b)))
      out.append("")
      out.append("| kernel | s per pass | share |")
      out.append("|---|---|---|")
      for (label, s) in rows.sorted(by: { $0.1 > $1.1 }) {
        out.append(String(format: "| %@ | %.3f | %.1f%% |", label, s, 100 * s / wall))
      }
      guard let config = reference?.config else { continue }
      let json = try runPyTorch(["--config", config, "--batch", "\(b)", "--dtype", S.dtypeName, "--runs", "\(runs)", "--warmup", "1", "--profile"])
      guard let torchWall = json["wall_ms_per_pass"] as? Double, let categories = json["categories_ms_per_pass"] as? [String: Double],
        let top = json["top_operators_ms_per_pass"] as? [String: Double]
      else { throw InvalidInput(pytorchScript, "--profile printed no wall_ms_per_pass / categories_ms_per_pass") }
      out.append("")
      out.append(String(format: "PyTorch batch %d forward + VJP under its profiler: %.3f s per pass (CPU capability %@; self CPU time of the calling thread per operator)", b, torchWall / 1000, "\(json["cpu_capability"] ?? "?")"))
      out.append("")
      out.append("| category | s per pass | share |")
      out.append("|---|---|---|")
      for (label, ms) in categories.sorted(by: { $0.value > $1.value }) {
        out.append(String(format: "| %@ | %.3f | %.1f%% |", label, ms / 1000, 100 * ms / torchWall))
      }
      out.append("")
      out.append("top operators (s per pass): " + top.sorted(by: { $0.value > $1.value }).prefix(12).map { String(format: "%@ %.3f", $0.key, $0.value / 1000) }.joined(separator: ", "))
    }
    return out.joined(separator: "\n")
  }
}
