import DiffusionCore
import Foundation

/// The loss and accuracy of the training head on one labelled batch, and the loss's gradient in the parameters.
public struct RecognizerLoss: Sendable {
  /// Mean cross-entropy of the CosFace logits.
  public var loss: Double
  /// Fraction of images whose `argmax_k cos(v, P_k)` (no margin) is their label.
  public var accuracy: Double
  /// dloss/dtheta, in the layout of `Recognizer.parameters`.
  public var gradient: [Double]

  public init(loss: Double, accuracy: Double, gradient: [Double]) {
    self.loss = loss
    self.accuracy = accuracy
    self.gradient = gradient
  }
}

extension Recognizer {
  /// `cos(v_b, P_k) = <v_b, P_k / |P_k|>` (B x K) for unit embeddings v (B x e).
  func cosines(_ v: [Double], batch: Int) throws -> [Double] {
    let (unit, _) = try unitPrototypes()
    return Self.products(v, unit, batch, config.classes, embeddingDimension)
  }

  /// The rows of P scaled to unit length, and their norms.
  func unitPrototypes() throws -> (unit: [Double], norms: [Double]) {
    let K = config.classes, e = embeddingDimension, offset = network.prototypes.offset
    var unit = [Double](repeating: 0, count: K * e), norms = [Double](repeating: 0, count: K)
    for k in 0..<K {
      var n2 = 0.0
      for j in 0..<e { n2 += parameters[offset + k * e + j] * parameters[offset + k * e + j] }
      norms[k] = n2.squareRoot()
      guard norms[k] > 0, norms[k].isFinite else {
        throw InvalidInput("head.prototypes", "row \(k) has norm \(norms[k]): its direction is undefined")
      }
      for j in 0..<e { unit[k * e + j] = parameters[offset + k * e + j] / norms[k] }
    }
    return (unit, norms)
  }

  /// A (B x e) B^T (e x K), row-major.
  static func products(_ a: [Double], _ b: [Double], _ rows: Int, _ K: Int, _ e: Int) -> [Double] {
    var out = [Double](repeating: 0, count: rows * K)
    a.withUnsafeBufferPointer { ap in
      b.withUnsafeBufferPointer { bp in
        out.withUnsafeMutableBufferPointer { op in
          Double.gemm(transA: false, transB: true, m: rows, n: K, k: e, alpha: 1, ap.baseAddress!, lda: e,
                      bp.baseAddress!, ldb: e, beta: 0, op.baseAddress!, ldc: K)
        }
      }
    }
    return out
  }

  /// CosFace (normalized softmax with an additive cosine margin):
  /// `L = -(1/B) sum_b log softmax_y(b)(l_b)`, `l_bk = scale (cos(v_b, P_k) - margin [k = y_b])`, and dL/dtheta.
  /// Gradient: `dl_bk = (softmax_k - [k = y_b]) / B`, `dcos = scale dl`, `dv_b = sum_k dcos_bk P^_k`,
  /// `dP^_k = sum_b dcos_bk v_b`, `dP_k = (dP^_k - P^_k <P^_k, dP^_k>) / |P_k|`, dv pulled back through the network.
  public func classificationLoss(_ x: [Double], labels: [Int], batch: Int) throws -> RecognizerLoss {
    try checkImages(x, batch: batch)
    guard labels.count == batch else { throw InvalidInput("labels", "expected \(batch) labels, got \(labels.count)") }
    let K = config.classes, e = embeddingDimension
    if let i = labels.firstIndex(where: { !(0..<K).contains($0) }) {
      throw InvalidInput("labels", "entry \(i) is \(labels[i]), must be in 0..<\(K)")
    }
    let (unit, norms) = try unitPrototypes()
    var gradient = [Double](repeating: 0, count: parameterCount)
    return try parameters.withUnsafeBufferPointer { pp in
      let p = pp.baseAddress!
      let pass = try network.forward(x, batch: batch, p)
      let cosines = Self.products(pass.v, unit, batch, K, e)
      var loss = 0.0, correct = 0
      var dcos = [Double](repeating: 0, count: batch * K)
      for b in 0..<batch {
        let y = labels[b], row = b * K
        let logits = (0..<K).map { k in config.scale * (cosines[row + k] - (k == y ? config.margin : 0)) }
        let top = logits.max()!
        let exps = logits.map { exp($0 - top) }
        let total = exps.reduce(0, +)
        loss += (top + log(total)) - logits[y]
        for k in 0..<K {
          dcos[row + k] = config.scale * (exps[k] / total - (k == y ? 1 : 0)) / Double(batch)
        }
        if (0..<K).max(by: { cosines[row + $0] < cosines[row + $1] }) == y { correct += 1 }
      }
      // dv = dcos (B x K) P^ (K x e); dP^ = dcos^T (K x B) v (B x e)
      var dv = [Double](repeating: 0, count: batch * e), dUnit = [Double](repeating: 0, count: K * e)
      dcos.withUnsafeBufferPointer { dc in
        unit.withUnsafeBufferPointer { u in
          dv.withUnsafeMutableBufferPointer { out in
            Double.gemm(transA: false, transB: false, m: batch, n: e, k: K, alpha: 1, dc.baseAddress!, lda: K,
                        u.baseAddress!, ldb: e, beta: 0, out.baseAddress!, ldc: e)
          }
        }
        pass.v.withUnsafeBufferPointer { v in
          dUnit.withUnsafeMutableBufferPointer { out in
            Double.gemm(transA: true, transB: false, m: K, n: e, k: batch, alpha: 1, dc.baseAddress!, lda: K,
                        v.baseAddress!, ldb: e, beta: 0, out.baseAddress!, ldc: e)
          }
        }
      }
      let offset = network.prototypes.offset
      for k in 0..<K {
        var dot = 0.0
        for j in 0..<e { dot += unit[k * e + j] * dUnit[k * e + j] }
        for j in 0..<e { gradient[offset + k * e + j] = (dUnit[k * e + j] - unit[k * e + j] * dot) / norms[k] }
      }
      gradient.withUnsafeMutableBufferPointer { g in _ = network.backward(pass, dv: dv, p, g.baseAddress!) }
      return RecognizerLoss(loss: loss / Double(batch), accuracy: Double(correct) / Double(batch), gradient: gradient)
    }
  }
}
