import Foundation

/// The size and resource budget every command checks before it allocates: element counts in overflow-checked
/// arithmetic, a stated maximum for every count option (`Budget.Limit`), and memory estimates refused above the
/// machine's physical memory. Every refusal is an `InvalidInput` naming the option or field.
public enum Budget {
  /// The stated maximum of each count option (its minimum is 1 unless said otherwise). They bound work and memory
  /// far above any study in this repository, and below sizes whose arithmetic could overflow.
  public enum Limit {
    /// Images per batch (bench, train, unet-vjp inputs).
    public static let batch = 65_536
    /// Timed runs of `bench`.
    public static let runs = 100_000
    /// Seeds of a convergence study (each one a full study).
    public static let seeds = 10_000
    /// Brownian paths per seed (SDE studies).
    public static let paths = 10_000
    /// Sampler and adjoint steps (N, M, each entry of a step list), morph optimisation steps, train steps.
    public static let steps = 10_000_000
    /// SDE studies: fine steps of the reference path (largest M times the fine factor).
    public static let fineSteps = 100_000_000
    /// Morph pair sets: evaluation, UNet and tuning pairs.
    public static let pairs = 1_000_000
    /// Recognizer calibration pairs (impostor and genuine).
    public static let calibrationPairs = 100_000_000
    /// OpenBLAS threads.
    public static let threads = 1_024
    /// Rows of a PNG grid.
    public static let gridRows = 10_000
  }

  /// Throws unless `value` is in `minimum...maximum`, naming the option and the stated limit.
  public static func count(_ value: Int, _ field: String, minimum: Int = 1, maximum: Int) throws {
    guard value >= minimum else {
      throw InvalidInput(field, minimum == 1 ? "must be a positive integer, got \(value)" : "must be at least \(minimum), got \(value)")
    }
    guard value <= maximum else { throw InvalidInput(field, "\(value) exceeds the limit of \(maximum)") }
  }

  /// The product of `factors` (an element count), or an error naming `field` if it overflows or a factor is negative.
  public static func elementCount(_ factors: [Int], _ field: String) throws -> Int {
    var product = 1
    for f in factors {
      guard f >= 0 else { throw InvalidInput(field, "negative size \(f) in \(factors)") }
      let (p, overflow) = product.multipliedReportingOverflow(by: f)
      guard !overflow else { throw InvalidInput(field, "the element count \(factors.map(String.init).joined(separator: " x ")) overflows") }
      product = p
    }
    return product
  }

  /// `count * bytesPerElement`, overflow-checked.
  public static func byteCount(_ count: Int, bytesPerElement: Int, _ field: String) throws -> Int {
    let (bytes, overflow) = count.multipliedReportingOverflow(by: bytesPerElement)
    guard !overflow, bytes >= 0 else { throw InvalidInput(field, "\(count) elements of \(bytesPerElement) bytes overflow the byte count") }
    return bytes
  }

  /// Physical memory of the machine in bytes: MemTotal of /proc/meminfo, else sysconf; the cgroup limit if lower;
  /// and `ADJOINTDEIS_MEMORY_BYTES` from the environment if set lower still (to share a machine, or to fuzz safely).
  public static let physicalMemory: Int = {
    let machine = machineMemory()
    if let text = ProcessInfo.processInfo.environment["ADJOINTDEIS_MEMORY_BYTES"], let cap = Int(text), cap > 0 {
      return min(machine, cap)
    }
    return machine
  }()

  static func machineMemory() -> Int {
    var total = 0
    if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
       let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
       let kB = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) {
      total = kB * 1024
    }
    if total <= 0 {
      let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
      if pages > 0, size > 0 { total = pages * size }
    }
    if let text = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8),
       let limit = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), limit > 0 {
      total = total > 0 ? min(total, limit) : limit
    }
    return total > 0 ? total : Int.max
  }

  /// The share of physical memory a run may plan to use (the rest is left to the system and other processes).
  public static let usableFraction = 0.8

  /// Throws if an estimate of `bytes` (a Double, so that the estimate itself never overflows) exceeds the usable
  /// share of physical memory. `what` says what the estimate covers.
  public static func checkMemory(_ bytes: Double, _ field: String, what: String, available: Int = physicalMemory) throws {
    let limit = usableFraction * Double(available)
    guard bytes.isFinite, bytes <= limit else {
      throw InvalidInput(field, "\(what) needs about \(describe(bytes)) of memory, more than the \(describe(limit)) usable on this machine (\(describe(Double(available))) physical)")
    }
  }

  /// `12.3 GB`, `512 MB`.
  public static func describe(_ bytes: Double) -> String {
    guard bytes.isFinite else { return "an unbounded amount" }
    if bytes >= 1e15 { return String(format: "%.3g bytes", bytes) }
    for (unit, scale) in [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)] where bytes >= scale {
      return String(format: "%.1f", bytes / scale) + " " + unit
    }
    return "\(Int(bytes)) bytes"
  }
}

extension Budget {
  /// Refuses a sampled path whose recorded states and eps (N + 1 arrays of d numbers each, plus per-array
  /// overhead) exceed the machine's memory: what recorded-state and discretize-then-optimize methods keep.
  public static func checkPathMemory(steps: Int, dimension d: Int, field: String = "sampler-steps",
                                     available: Int = physicalMemory) throws {
    let bytes = Double(steps + 1) * 2 * (8 * Double(d) + 64)
    try checkMemory(bytes, field, what: "a sampled path of \(steps) steps in \(d) dimensions", available: available)
  }
}
