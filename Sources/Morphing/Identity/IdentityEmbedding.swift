import DiffusionCore

/// A recognizer: an identity embedding `v(x)` (unit vectors) with its vector-Jacobian product in the image.
/// The morphing experiment sees recognizers only through this protocol.
public protocol IdentityEmbedding: Sendable {
  /// The image size d it accepts.
  var inputDimension: Int { get }
  /// e, the embedding size.
  var embeddingDimension: Int { get }
  /// `v(x)` for B images (flat B x d): B x e unit vectors.
  func embed(_ x: [Double], batch: Int) throws -> [Double]
  /// `v(x)` and `c^T dv/dx` (B x d) for a cotangent c (B x e).
  func vjp(_ x: [Double], batch: Int, cotangent: [Double]) throws -> (embedding: [Double], x: [Double])
}

extension IdentityEmbedding {
  /// Cosine similarities of rows p of two B x e arrays of unit vectors (their dot products).
  public func similarities(_ u: [Double], _ w: [Double]) -> [Double] {
    let e = embeddingDimension, B = u.count / e
    return (0..<B).map { p in
      var s = 0.0
      for j in 0..<e { s += u[p * e + j] * w[p * e + j] }
      return s
    }
  }
}
