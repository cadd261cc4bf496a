import Synchronization

/// The Winograd weight transforms `U = G g G^T` of a model's 3x3 convolutions, kept between passes: a sampler calls
/// the same network N times, and a sliced batch (`BatchParallel`) runs every layer once per slice, so without it the
/// same weights are transformed 2N times per slice count. A model owns one cache for its current parameters and
/// replaces it when they change (`UNet2DModel.parameters`' didSet), so an entry never outlives its weights. Entries
/// are keyed by the convolution's weight offset in theta and filled on first use, under a lock per entry (a second
/// slice asking meanwhile waits for the first to finish). Costs 16/9 of the 3x3 weights' memory.
final class WinogradWeightCache: Sendable {
  /// The cache of the pass running on this thread (bound by `UNet2DModel`'s forward and VJP), or nil: transform per call.
  @TaskLocal static var current: WinogradWeightCache?

  private final class Entry: Sendable {
    let buffer = Mutex<UnsafeMutableRawPointer?>(nil)
    deinit { buffer.withLock { $0?.deallocate() } }
  }

  private let entries = Mutex<[Int: Entry]>([:])

  /// The `count` transformed weights under `key` (the convolution's weight offset and the algorithm), written by
  /// `fill` on first use.
  func transformed<S: BLASScalar>(key offset: Int, count: Int, _ fill: (UnsafeMutablePointer<S>) -> Void) -> UnsafePointer<S> {
    let entry = entries.withLock { table in
      if let e = table[offset] { return e }
      let e = Entry()
      table[offset] = e
      return e
    }
    let raw = entry.buffer.withLock { slot in
      if let p = slot { return p }
      let p = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<S>.stride, alignment: 64)
      fill(p.bindMemory(to: S.self, capacity: count))
      slot = p
      return p
    }
    return UnsafePointer(raw.assumingMemoryBound(to: S.self))
  }

  /// Entries filled so far (for tests).
  var count: Int { entries.withLock { $0.values.filter { $0.buffer.withLock { $0 != nil } }.count } }
}
