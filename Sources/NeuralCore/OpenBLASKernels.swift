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
