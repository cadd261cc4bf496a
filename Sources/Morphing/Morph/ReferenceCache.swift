import Foundation
import Integrators

/// Reference gradients already computed on a problem, by reference method and (x_T, z). Every gradient method
/// starts from the same DiM blend, so the reference at step 0 is the same for all methods that share a reference
/// (the RK45 adjoint for every ODE method): computed once, it is looked up by the others. Only exact matches of
/// (method, x_T, z) are returned, so a cached gradient is the one the reference would compute again.
final class ReferenceCache: @unchecked Sendable {
  private struct Entry {
    let method: String
    let xT: [Double]
    let z: [Double]
    let result: GradientResult
  }
  private var entries: [Entry] = []
  private let lock = NSLock()

  /// The cached gradient of `method` at (x_T, z), or `compute()`'s, which is then kept.
  func gradient(_ method: String, xT: [Double], z: [Double], compute: () throws -> GradientResult) rethrows -> GradientResult {
    if let hit = lock.withLock({ entries.first { $0.method == method && $0.xT == xT && $0.z == z } }) { return hit.result }
    let result = try compute()
    lock.withLock { entries.append(Entry(method: method, xT: xT, z: z, result: result)) }
    return result
  }
}
