import Foundation

/// `sum_i log c_i` for positive c_i with one `log` per ~300 orders of magnitude instead of one per term:
/// the running product is folded into the sum only when it leaves [1e-150, 1e150].
struct LogProduct {
  private var folded = 0.0
  private var product = 1.0

  @inline(__always) mutating func multiply(_ c: Double) {
    product *= c
    if !(product > 1e-150 && product < 1e150) {
      folded += log(product)
      product = 1
    }
  }

  var value: Double { folded + log(product) }
}
