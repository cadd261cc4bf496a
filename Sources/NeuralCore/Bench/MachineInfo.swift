import Foundation

/// What a benchmark table must state about the machine: the CPU model, the widest vector ISA it offers, the load.
public enum MachineInfo {
  /// /proc/cpuinfo's "model name" ("unknown" elsewhere).
  public static var cpuModel: String {
    field("model name") ?? "unknown"
  }

  /// The widest x86 vector extension in /proc/cpuinfo's flags: "AVX-512" (F, BW, VL, DQ), "AVX2+FMA", "AVX", "SSE";
  /// the flags' absence gives "unknown".
  public static var vectorISA: String {
    guard let flags = field("flags").map({ Set($0.split(separator: " ").map(String.init)) }) else { return "unknown" }
    if ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(flags.contains) { return "AVX-512" }
    if ["avx2", "fma"].allSatisfy(flags.contains) { return "AVX2+FMA" }
    if flags.contains("avx") { return "AVX" }
    return "SSE"
  }

  /// The 1, 5 and 15-minute load averages (nil when /proc/loadavg is unreadable).
  public static func loadAverages() -> [Double]? {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
    let v = text.split(separator: " ").prefix(3).compactMap { Double($0) }
    return v.count == 3 ? v : nil
  }

  private static func field(_ name: String) -> String? {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
      let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name) }),
      let colon = line.firstIndex(of: ":")
    else { return nil }
    return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
  }
}
