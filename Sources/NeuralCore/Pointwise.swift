/// SiLU `y = x sigmoid(x)`; its derivative `sigmoid(x) (1 + x (1 - sigmoid(x)))`.
enum SiLU {
  static func forward<S: BLASScalar>(_ x: [S]) -> [S] {
    KernelProfile.time(.siluForward) { forwardPass(x) }
  }

  private static func forwardPass<S: BLASScalar>(_ x: [S]) -> [S] {
    [S](unsafeUninitializedCapacity: x.count) { y, n in
      x.withUnsafeBufferPointer { xp in
        ParallelRanges.forEach(xp.count, costPerItem: 8) { range in
          // e^{-x} for the range in place, then x / (1 + e^{-x})
          let base = y.baseAddress! + range.lowerBound
          for i in range { y[i] = -xp[i] }
          S.exponentials(base, count: range.count)
          for i in range { y[i] = xp[i] / (1 + y[i]) }
        }
      }
      n = x.count
    }
  }

  /// `dx = dy silu'(x)`, given the forward input x.
  static func backward<S: BLASScalar>(_ dy: [S], input x: [S]) -> [S] {
    KernelProfile.time(.siluBackward) { backwardPass(dy, input: x) }
  }

  private static func backwardPass<S: BLASScalar>(_ dy: [S], input x: [S]) -> [S] {
    [S](unsafeUninitializedCapacity: x.count) { dx, n in
      x.withUnsafeBufferPointer { xp in
        dy.withUnsafeBufferPointer { g in
          ParallelRanges.forEach(xp.count, costPerItem: 8) { range in
            let base = dx.baseAddress! + range.lowerBound
            for i in range { dx[i] = -xp[i] }
            S.exponentials(base, count: range.count)
            for i in range {
              let v = xp[i], s = 1 / (1 + dx[i])
              dx[i] = g[i] * s * (1 + v * (1 - s))
            }
          }
        }
      }
      n = x.count
    }
  }

  /// `y[i] <- silu(y[i])` for n numbers, with `scratch` (n numbers) for the exponentials: the same operations as
  /// `forward`, so bitwise its values.
  @inline(__always) static func applyInPlace<S: BLASScalar>(_ y: UnsafeMutablePointer<S>, _ n: Int, _ scratch: UnsafeMutablePointer<S>) {
    for i in 0..<n { scratch[i] = -y[i] }
    S.exponentials(scratch, count: n)
    for i in 0..<n { y[i] = y[i] / (1 + scratch[i]) }
  }

  /// `dy[i] <- dy[i] silu'(v[i])` for n numbers given the SiLU inputs v, with `scratch` (n numbers) for the
  /// exponentials: the same operations as `backward`, so bitwise its values.
  @inline(__always) static func backwardInPlace<S: BLASScalar>(
    _ dy: UnsafeMutablePointer<S>, input v: UnsafeMutablePointer<S>, _ n: Int, _ scratch: UnsafeMutablePointer<S>
  ) {
    for i in 0..<n { scratch[i] = -v[i] }
    S.exponentials(scratch, count: n)
    for i in 0..<n {
      let s = 1 / (1 + scratch[i])
      dy[i] = dy[i] * s * (1 + v[i] * (1 - s))
    }
  }

  static func forward<S: BLASScalar>(_ x: Activation<S>) -> Activation<S> {
    var y = x
    y.data = forward(x.data)
    return y
  }

  static func backward<S: BLASScalar>(_ dy: Activation<S>, input x: Activation<S>) -> Activation<S> {
    var dx = dy
    dx.data = backward(dy.data, input: x.data)
    return dx
  }
}
