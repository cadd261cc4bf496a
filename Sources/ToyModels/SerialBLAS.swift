import CBLAS
import Foundation

/// Runs the toy models' BLAS and LAPACK calls with single-threaded OpenBLAS, so that their numbers do not depend
/// on the thread count (OPENBLAS_NUM_THREADS, `--threads`, a SLURM task's one CPU). OpenBLAS's threaded paths split
/// some sums between the threads: measured with OpenBLAS 0.3.21 (Haswell kernels), dsyevd differs in the last
/// digits from a 3 x 3 matrix up (its inner level-2 calls have no size threshold), dgemv from d = 100, ddot from
/// about 16,000 numbers; dgemm split over rows and columns agreed. The toy sizes are far too small to gain from a
/// second thread. The thread count is process-global: the first of any nested or concurrent sections saves it and
/// sets 1, the last one out restores it (a network pass started meanwhile on another thread runs single-threaded
/// BLAS until then: slower, same numbers). Cost: a lock and, when the count is not already 1, two
/// `openblas_set_num_threads` calls per section.
enum SerialBLAS {
  private static let lock = NSLock()
  nonisolated(unsafe) private static var depth = 0
  nonisolated(unsafe) private static var saved: Int32 = 1

  static func run<T>(_ body: () throws -> T) rethrows -> T {
    lock.lock()
    if depth == 0 {
      saved = openblas_get_num_threads()
      if saved != 1 { openblas_set_num_threads(1) }
    }
    depth += 1
    lock.unlock()
    defer {
      lock.lock()
      depth -= 1
      if depth == 0, saved != 1 { openblas_set_num_threads(saved) }
      lock.unlock()
    }
    return try body()
  }
}
