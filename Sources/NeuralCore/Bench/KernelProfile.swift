import Dispatch
import Synchronization

/// Per-kernel wall-clock totals of the network's passes, for `bench unet --profile`: each layer kind's work is
/// wrapped in `KernelProfile.time`, which adds the elapsed time of the calling thread to the kind's total when
/// profiling is on (one branch when it is off). With a sliced batch (`BatchParallel`) every slice's thread adds its
/// own time, so the totals are thread-seconds: they sum to about threads x wall.
public enum KernelProfile {
  public enum Kind: Int, CaseIterable, Sendable {
    case convForward, convDataGradient, convWeightGradient, winogradWeights, winogradTransforms, im2col
    case groupNormForward, groupNormBackward, siluForward, siluBackward, groupNormSiLUForward, groupNormSiLUBackward
    case attentionForward, attentionBackward, linear

    public var label: String {
      switch self {
      case .convForward: "convolution forward (products)"
      case .convDataGradient: "convolution data gradient (products)"
      case .convWeightGradient: "convolution weight gradient (products, bias sums)"
      case .winogradWeights: "Winograd weight transforms (G g G^T and its adjoint)"
      case .winogradTransforms: "Winograd activation transforms (input, output, adjoints)"
      case .im2col: "im2col / col2im"
      case .groupNormForward: "GroupNorm forward (and reverse-pass recompute)"
      case .groupNormBackward: "GroupNorm backward"
      case .siluForward: "SiLU forward"
      case .siluBackward: "SiLU backward"
      case .groupNormSiLUForward: "GroupNorm + SiLU fused forward"
      case .groupNormSiLUBackward: "GroupNorm + SiLU fused backward (recompute, SiLU and GroupNorm adjoints)"
      case .attentionForward: "attention core forward (scores, softmax, P v)"
      case .attentionBackward: "attention core backward"
      case .linear: "linear layers (time embedding)"
      }
    }
  }

  nonisolated(unsafe) public private(set) static var enabled = false
  private static let totals = Mutex<[UInt64]>([UInt64](repeating: 0, count: Kind.allCases.count))

  /// Turns profiling on or off (not while a pass runs) and clears the totals.
  public static func reset(enabled on: Bool) {
    enabled = on
    totals.withLock { $0 = [UInt64](repeating: 0, count: Kind.allCases.count) }
  }

  /// Seconds per kind since the last reset.
  public static func snapshot() -> [Kind: Double] {
    totals.withLock { t in Dictionary(uniqueKeysWithValues: Kind.allCases.map { ($0, Double(t[$0.rawValue]) * 1e-9) }) }
  }

  @inline(__always) static func time<T>(_ kind: Kind, _ body: () throws -> T) rethrows -> T {
    guard enabled else { return try body() }
    let start = DispatchTime.now().uptimeNanoseconds
    defer {
      let elapsed = DispatchTime.now().uptimeNanoseconds &- start
      totals.withLock { $0[kind.rawValue] &+= elapsed }
    }
    return try body()
  }
}

extension KernelProfile {
  /// The threads whose time the totals of one pass at this batch add up: the slices of `BatchParallel`, or 1
  /// when the batch runs whole (its layers then split their work internally and are timed once, on the caller).
  public static func threadsTimed(batch: Int) -> Int { BatchParallel.slices(batch: batch)?.count ?? 1 }
}
