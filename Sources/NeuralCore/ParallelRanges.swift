import Dispatch
import Foundation

/// Splits the elementwise and transform passes between the layers' matrix products over the same number of
/// threads OpenBLAS uses (`setBLASThreads`), so that the parts of a pass outside BLAS do not run on one core.
enum ParallelRanges {
  /// Threads for the passes outside BLAS (default: the processor count).
  nonisolated(unsafe) static var threads = ProcessInfo.processInfo.activeProcessorCount

  /// Calls `body` on contiguous ranges covering `[0, n)`, concurrently when `n * costPerItem` is large enough
  /// to repay a thread hand-off (about 2^15 numbers touched per part).
  static func forEach(_ n: Int, costPerItem: Int, _ body: (Range<Int>) -> Void) {
    let parts = min(threads, n, max(1, n * costPerItem / (1 << 15)))
    if parts <= 1 {
      body(0..<n)
      return
    }
    withoutActuallyEscaping(body) { body in
      // the parts write disjoint ranges; the box only carries the closure across the hand-off
      let box = Body(run: body)
      DispatchQueue.concurrentPerform(iterations: parts) { k in
        box.run(k * n / parts..<(k + 1) * n / parts)
      }
    }
  }

  private struct Body: @unchecked Sendable {
    let run: (Range<Int>) -> Void
  }
}
