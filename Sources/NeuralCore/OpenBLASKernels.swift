import CBLAS
import Foundation

/// OpenBLAS's runtime kernel choice. Debian's DYNAMIC_ARCH OpenBLAS 0.3.21 does not recognise some virtualised
/// recent Xeons and falls back to its SSE3 "Prescott" kernels, 5-6x slower than the AVX-512 ones on this
/// hardware. `selectForThisCPU()` switches to the kernels the CPU supports (SkylakeX with AVX-512, else Haswell
/// with AVX2/FMA), unless OPENBLAS_CORETYPE is set. It runs once, before the first UNet is built.
public enum OpenBLASKernels {
  /// The name of the kernel set in use ("SkylakeX", "Haswell", "Prescott", ...).
  public static var coreName: String {
    guard let name = lookup("openblas_get_corename", as: (@convention(c) () -> UnsafePointer<CChar>?).self)?() else { return "unknown" }
    return String(cString: name)
  }

  /// OpenBLAS's build configuration (openblas_get_config: version, DYNAMIC_ARCH, threading, max threads).
  public static var config: String {
    guard let text = lookup("openblas_get_config", as: (@convention(c) () -> UnsafePointer<CChar>?).self)?() else { return "unknown" }
    return String(cString: text).trimmingCharacters(in: .whitespaces)
  }

  /// The vector ISA of the kernel set in use (OpenBLAS's SkylakeX and Cooperlake kernels are AVX-512; Haswell and
  /// Zen AVX2+FMA; Sandybridge AVX; anything else older).
  public static var kernelISA: String {
    switch coreName {
    case "SkylakeX", "Cooperlake", "SapphireRapids": return "AVX-512"
    case "Haswell", "Zen": return "AVX2+FMA"
    case "Sandybridge": return "AVX"
    default: return "SSE or older"
    }
  }

  /// Selects the fastest kernels this CPU supports when OpenBLAS fell back to a generic set; returns the core name.
  @discardableResult
  public static func selectForThisCPU() -> String { selection }

  private static let selection: String = {
    let current = coreName
    guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil, ["Prescott", "Core2", "Nehalem", "Katmai"].contains(current),
      let flags = cpuFlags()
    else { return current }
    let target: String
    if ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy(flags.contains) {
      target = "SkylakeX"
    } else if ["avx2", "fma"].allSatisfy(flags.contains) {
      target = "Haswell"
    } else {
      return current
    }
    typealias Hook = @convention(c) () -> Void
    guard let quit = lookup("gotoblas_dynamic_quit", as: Hook.self), let initialize = lookup("gotoblas_dynamic_init", as: Hook.self) else {
      return current
    }
    setenv("OPENBLAS_CORETYPE", target, 1)
    quit()
    initialize()
    return coreName
  }()

  /// Switches OpenBLAS to the named kernel set (OPENBLAS_CORETYPE, then its dynamic re-initialisation), for A/B
  /// measurements in one process; returns the kernel set in use afterwards. Not while a product runs.
  @discardableResult
  public static func use(_ core: String) -> String {
    typealias Hook = @convention(c) () -> Void
    guard let quit = lookup("gotoblas_dynamic_quit", as: Hook.self), let initialize = lookup("gotoblas_dynamic_init", as: Hook.self) else {
      return coreName
    }
    setenv("OPENBLAS_CORETYPE", core, 1)
    quit()
    initialize()
    return coreName
  }

  /// OPENBLAS_* environment variables that steer the kernels (OPENBLAS_CORETYPE overrides the detection).
  public static var environment: String {
    let env = ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("OPENBLAS_") && !$0.key.hasPrefix("OPENBLAS_NUM") }
    return env.isEmpty ? "none" : env.keys.sorted().map { "\($0)=\(env[$0]!)" }.joined(separator: " ")
  }

  private static func cpuFlags() -> Set<String>? {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
      let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
      let colon = line.firstIndex(of: ":")
    else { return nil }
    return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
  }

  private static func lookup<T>(_ symbol: String, as: T.Type) -> T? {
    guard let handle = dlopen(nil, RTLD_NOW), let address = dlsym(handle, symbol) else { return nil }
    return unsafeBitCast(address, to: T.self)
  }
}
