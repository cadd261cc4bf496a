/// torch.nn.Linear on the rows of a row-major (R x in) matrix: `Y = X W^T + b`, W of shape (out, in).
struct Linear: Sendable {
  let inFeatures: Int
  let outFeatures: Int
  let weight: ParameterSlot
  let bias: ParameterSlot

  init(_ layout: inout ParameterLayout, _ prefix: String, _ inFeatures: Int, _ outFeatures: Int) {
    self.inFeatures = inFeatures
    self.outFeatures = outFeatures
    weight = layout.add(prefix + ".weight", [outFeatures, inFeatures])
    bias = layout.add(prefix + ".bias", [outFeatures])
  }

  func forward<S: BLASScalar>(_ x: [S], rows: Int, _ p: UnsafePointer<S>) -> [S] {
    KernelProfile.time(.linear) { forwardPass(x, rows: rows, p) }
  }

  private func forwardPass<S: BLASScalar>(_ x: [S], rows: Int, _ p: UnsafePointer<S>) -> [S] {
    var y = [S](repeating: 0, count: rows * outFeatures)
    for r in 0..<rows { for o in 0..<outFeatures { y[r * outFeatures + o] = p[bias.offset + o] } }
    x.withUnsafeBufferPointer { xp in
      y.withUnsafeMutableBufferPointer { yp in
        S.gemm(
          transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures, alpha: 1,
          xp.baseAddress!, lda: inFeatures, p + weight.offset, ldb: inFeatures, beta: 1, yp.baseAddress!, ldc: outFeatures)
      }
    }
    return y
  }

  /// `dX = dY W`; when g is given, `dW += dY^T X` and `db += sum_rows dY`.
  func backward<S: BLASScalar>(_ dy: [S], input x: [S], rows: Int, _ p: UnsafePointer<S>, _ g: UnsafeMutablePointer<S>?) -> [S] {
    KernelProfile.time(.linear) { backwardPass(dy, input: x, rows: rows, p, g) }
  }

  private func backwardPass<S: BLASScalar>(_ dy: [S], input x: [S], rows: Int, _ p: UnsafePointer<S>, _ g: UnsafeMutablePointer<S>?) -> [S] {
    var dx = [S](repeating: 0, count: rows * inFeatures)
    dy.withUnsafeBufferPointer { dyp in
      dx.withUnsafeMutableBufferPointer { dxp in
        S.gemm(
          transA: false, transB: false, m: rows, n: inFeatures, k: outFeatures, alpha: 1,
          dyp.baseAddress!, lda: outFeatures, p + weight.offset, ldb: inFeatures, beta: 0, dxp.baseAddress!, ldc: inFeatures)
      }
      if let g {
        x.withUnsafeBufferPointer { xp in
          S.gemm(
            transA: true, transB: false, m: outFeatures, n: inFeatures, k: rows, alpha: 1,
            dyp.baseAddress!, lda: outFeatures, xp.baseAddress!, ldb: inFeatures, beta: 1, g + weight.offset, ldc: inFeatures)
        }
        for r in 0..<rows { for o in 0..<outFeatures { g[bias.offset + o] += dyp[r * outFeatures + o] } }
      }
    }
    return dx
  }
}
