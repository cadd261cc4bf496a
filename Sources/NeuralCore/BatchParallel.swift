import CBLAS
import Dispatch

/// Data parallelism over the images of a batch. With at least as many images as threads, each thread runs a
/// contiguous slice of the batch through the whole network with single-threaded OpenBLAS and single-threaded
/// elementwise passes, instead of every layer splitting its products and loops over the threads. The slices share
/// nothing but the (read-only) parameters, so no thread waits on another until the end; with the layer-by-layer
/// split, OpenBLAS's idle thread spins between products (a quarter of the samples in a profile of the morph
/// experiment). Measured on 2 cores: two single-threaded batch-4 passes of the cifar10 layout side by side each run
/// at the single-thread speed; the sliced batch 8 took 0.57 s forward and 1.55 s forward + VJP where the layer-by-layer
/// split took 0.83 s and 2.28 s (results/bench/README.md has the current table).
///
/// Each image goes through the same layers as without slicing, but a slice is a smaller batch: a convolution may pick
/// another algorithm for it (Winograd needs enough tiles) and the products round differently, so values agree to
/// rounding, not bitwise (BatchParallelTests). Parameter gradients are summed over the slices in slice order, so a
/// given thread count gives the same numbers on every run.
enum BatchParallel {
  /// The slices of a batch, or nil to run it whole (one thread, or fewer images than threads).
  static func slices(batch: Int) -> [Range<Int>]? {
    let n = ParallelRanges.threads
    guard n > 1, batch >= n else { return nil }
    return (0..<n).map { k in (k * batch / n)..<((k + 1) * batch / n) }
  }

  /// `body(k)` for k in 0..<count, concurrently, with OpenBLAS and `ParallelRanges` single-threaded meanwhile;
  /// the thread settings are restored afterwards.
  static func map<T>(_ count: Int, _ body: (Int) -> T) -> [T] {
    let threads = ParallelRanges.threads, blasThreads = openblas_get_num_threads()
    openblas_set_num_threads(1)
    ParallelRanges.threads = 1
    defer {
      openblas_set_num_threads(blasThreads)
      ParallelRanges.threads = threads
    }
    var results = [T?](repeating: nil, count: count)
    results.withUnsafeMutableBufferPointer { out in
      withoutActuallyEscaping(body) { body in
        // each iteration writes its own slot; the box only carries the pointers across the hand-off
        let box = Slots(out: out, run: body)
        DispatchQueue.concurrentPerform(iterations: count) { k in box.out[k] = box.run(k) }
      }
    }
    return results.map { $0! }
  }

  private struct Slots<T>: @unchecked Sendable {
    let out: UnsafeMutableBufferPointer<T?>
    let run: (Int) -> T
  }
}

/// The index ranges of one slice of images in the flat batch arrays (x, z, per-image timesteps, cotangent).
struct BatchSlice {
  let count: Int
  let x: Range<Int>, z: Range<Int>, t: Range<Int>, v: Range<Int>

  init(_ images: Range<Int>, batch: Int, x: Int, z: Int, timesteps: Int, cotangent: Int = 0) {
    func part(_ total: Int) -> Range<Int> { (images.lowerBound * total / batch)..<(images.upperBound * total / batch) }
    count = images.count
    self.x = part(x)
    self.z = part(z)
    self.t = timesteps == 1 ? 0..<1 : part(timesteps)
    self.v = part(cotangent)
  }

  func take<T>(_ a: [T], _ r: Range<Int>) -> [T] { Array(a[r]) }
}
