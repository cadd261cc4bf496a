/// diffusers' `Attention` as used by AttnDownBlock2D / AttnUpBlock2D / UNetMidBlock2D (spatial self-attention):
/// `h = GroupNorm(x)` viewed as T = H W tokens, `q, k, v = to_q(h), to_k(h), to_v(h)` split into heads of size d,
/// `P = softmax(q k^T / sqrt(d))` over keys, `out = to_out.0(P v)`, `y = (out + x) / rescale_output_factor`.
struct SpatialAttention: Sendable {
  let channels: Int
  let heads: Int
  let headDim: Int
  let rescale: Double
  let norm: GroupNorm
  let toQ: Conv2D, toK: Conv2D, toV: Conv2D, toOut: Conv2D

  init(_ layout: inout ParameterLayout, _ prefix: String, channels: Int, headDim: Int, groups: Int, eps: Double, rescale: Double) {
    self.channels = channels
    self.headDim = headDim
    self.heads = channels / headDim
    self.rescale = rescale
    let inner = heads * headDim
    norm = GroupNorm(&layout, prefix + ".group_norm", groups: groups, channels: channels, eps: eps)
    toQ = Conv2D(&layout, prefix + ".to_q", channels, inner, kernel: 1, linearShape: true)
    toK = Conv2D(&layout, prefix + ".to_k", channels, inner, kernel: 1, linearShape: true)
    toV = Conv2D(&layout, prefix + ".to_v", channels, inner, kernel: 1, linearShape: true)
    toOut = Conv2D(&layout, prefix + ".to_out.0", inner, channels, kernel: 1, linearShape: true)
  }

  struct Tape<S: BLASScalar>: Sendable {
    let x: Activation<S>
    let normStats: GroupNorm.Statistics
    let h: Activation<S>
    let q: Activation<S>, k: Activation<S>, v: Activation<S>
    /// softmax weights, (B, heads, T, T)
    let probabilities: [S]
    let attended: Activation<S>
  }

  func flops(batch: Int, height: Int, width: Int) -> Double {
    let t = Double(height * width), inner = Double(heads * headDim)
    let projections = 4 * toQ.flops(batch: batch, height: height, width: width)
    return projections + Double(batch) * 2 * 2 * t * t * inner
  }

  func forward<S: BLASScalar>(_ x: Activation<S>, _ p: UnsafePointer<S>) -> (Activation<S>, Tape<S>) {
    let (h, stats) = norm.forward(x, p)
    let q = toQ.forward(h, p), k = toK.forward(h, p), v = toV.forward(h, p)
    let t = x.pixels, batch = x.batch, ld = batch * t, d = headDim
    let scale = 1 / S(Double(d).squareRoot())
    var probabilities = [S](repeating: 0, count: batch * heads * t * t)
    var attended = Activation<S>(zeros: heads * d, batch: batch, height: x.height, width: x.width)
    KernelProfile.time(.attentionForward) {
      q.data.withUnsafeBufferPointer { qp in
        k.data.withUnsafeBufferPointer { kp in
          v.data.withUnsafeBufferPointer { vp in
            probabilities.withUnsafeMutableBufferPointer { pp in
              attended.data.withUnsafeMutableBufferPointer { op in
                for b in 0..<batch {
                  for head in 0..<heads {
                    let offset = head * d * ld + b * t
                    let probs = pp.baseAddress! + (b * heads + head) * t * t
                    // scores = scale q^T k  (T x T), one row per query
                    S.gemm(
                      transA: true, transB: false, m: t, n: t, k: d, alpha: scale,
                      qp.baseAddress! + offset, lda: ld, kp.baseAddress! + offset, ldb: ld, beta: 0, probs, ldc: t)
                    Self.softmaxRows(probs, t)
                    // O = v P^T  (d x T)
                    S.gemm(
                      transA: false, transB: true, m: d, n: t, k: t, alpha: 1,
                      vp.baseAddress! + offset, lda: ld, probs, ldb: t, beta: 0, op.baseAddress! + offset, ldc: ld)
                  }
                }
              }
            }
          }
        }
      }
    }
    var y = toOut.forward(attended, p)
    y.add(x)
    y.scale(by: 1 / S(rescale))
    return (y, Tape(x: x, normStats: stats, h: h, q: q, k: k, v: v, probabilities: probabilities, attended: attended))
  }

  func backward<S: BLASScalar>(_ dy: Activation<S>, _ tape: Tape<S>, _ p: UnsafePointer<S>, _ g: UnsafeMutablePointer<S>?) -> Activation<S> {
    var dOut = dy
    dOut.scale(by: 1 / S(rescale))
    let dAttended = toOut.backward(dOut, input: tape.attended, p, g)
    let t = tape.x.pixels, batch = tape.x.batch, ld = batch * t, d = headDim
    let scale = 1 / S(Double(d).squareRoot())
    var dq = Activation<S>(zeros: heads * d, batch: batch, height: tape.x.height, width: tape.x.width)
    var dk = dq, dv = dq
    var dP = [S](repeating: 0, count: t * t)
    KernelProfile.time(.attentionBackward) {
      tape.q.data.withUnsafeBufferPointer { qp in
        tape.k.data.withUnsafeBufferPointer { kp in
          tape.v.data.withUnsafeBufferPointer { vp in
            tape.probabilities.withUnsafeBufferPointer { pp in
              dAttended.data.withUnsafeBufferPointer { dop in
                dq.data.withUnsafeMutableBufferPointer { dqp in
                  dk.data.withUnsafeMutableBufferPointer { dkp in
                    dv.data.withUnsafeMutableBufferPointer { dvp in
                      dP.withUnsafeMutableBufferPointer { dpp in
                        for b in 0..<batch {
                          for head in 0..<heads {
                            let offset = head * d * ld + b * t
                            let probs = pp.baseAddress! + (b * heads + head) * t * t
                            // dv = dO P  (d x T)
                            S.gemm(
                              transA: false, transB: false, m: d, n: t, k: t, alpha: 1,
                              dop.baseAddress! + offset, lda: ld, probs, ldb: t, beta: 0, dvp.baseAddress! + offset, ldc: ld)
                            // dP = dO^T v  (T x T)
                            S.gemm(
                              transA: true, transB: false, m: t, n: t, k: d, alpha: 1,
                              dop.baseAddress! + offset, lda: ld, vp.baseAddress! + offset, ldb: ld, beta: 0, dpp.baseAddress!, ldc: t)
                            // dS = P (dP - rowsum(dP P)), the softmax adjoint, in place
                            for i in 0..<t {
                              let pr = probs + i * t, dr = dpp.baseAddress! + i * t
                              var dot: S = 0
                              for j in 0..<t { dot += pr[j] * dr[j] }
                              for j in 0..<t { dr[j] = pr[j] * (dr[j] - dot) }
                            }
                            // dq = scale k dS^T, dk = scale q dS  (d x T)
                            S.gemm(
                              transA: false, transB: true, m: d, n: t, k: t, alpha: scale,
                              kp.baseAddress! + offset, lda: ld, dpp.baseAddress!, ldb: t, beta: 0, dqp.baseAddress! + offset, ldc: ld)
                            S.gemm(
                              transA: false, transB: false, m: d, n: t, k: t, alpha: scale,
                              qp.baseAddress! + offset, lda: ld, dpp.baseAddress!, ldb: t, beta: 0, dkp.baseAddress! + offset, ldc: ld)
                          }
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    var dh = toQ.backward(dq, input: tape.h, p, g)
    dh.add(toK.backward(dk, input: tape.h, p, g))
    dh.add(toV.backward(dv, input: tape.h, p, g))
    var dx = norm.backward(dh, input: tape.x, tape.normStats, p, g)
    dx.add(dOut)
    return dx
  }

  /// Row-wise softmax of a T x T matrix, in place (max subtracted).
  static func softmaxRows<S: BLASScalar>(_ m: UnsafeMutablePointer<S>, _ t: Int) {
    for i in 0..<t {
      let r = m + i * t
      var mx = r[0]
      for j in 1..<t { mx = max(mx, r[j]) }
      var s: S = 0
      for j in 0..<t { r[j] -= mx }
      S.exponentials(r, count: t)
      for j in 0..<t { s += r[j] }
      let inv = 1 / s
      for j in 0..<t { r[j] *= inv }
    }
  }
}
