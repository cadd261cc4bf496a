import CBLAS
import Dispatch

/// Splits `0..<count` into as many contiguous parts as OpenBLAS has threads and runs them concurrently, when the
/// work (`cost`, roughly the elements touched) is large enough to pay for it; the parts must write disjoint memory.
@inline(__always)
func parallelFor(_ count: Int, cost: Int, _ body: (Range<Int>) -> Void) {
  let threads = min(count, Int(openblas_get_num_threads()))
  if threads <= 1 || cost < 1 << 16 {
    body(0..<count)
    return
  }
  withoutActuallyEscaping(body) { body in
    // the parts touch disjoint memory (the caller's contract), so sharing the closure across threads is safe
    nonisolated(unsafe) let work = body
    DispatchQueue.concurrentPerform(iterations: threads) { part in
      work(count * part / threads..<count * (part + 1) / threads)
    }
  }
}
