import CBLAS
import DiffusionCore

/// `A = U diag(s) U^T` for a symmetric d x d matrix (row-major), by LAPACKE_dsyevd.
/// `vectors` is row-major with the eigenvectors as columns (`vectors[i * d + j] = U_ij`), `values` ascending.
struct SymmetricEigen: Sendable {
  let values: [Double]
  let vectors: [Double]

  /// Throws (naming `field`) when LAPACK does not converge.
  init(_ matrix: [Double], dimension d: Int, field: String) throws {
    var a = matrix
    var w = [Double](repeating: 0, count: d)
    // Single-threaded: threaded OpenBLAS changes dsyevd's last digits (SerialBLAS).
    let info = SerialBLAS.run {
      a.withUnsafeMutableBufferPointer { ap in
        w.withUnsafeMutableBufferPointer { wp in
          LAPACKE_dsyevd(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "V")), Int8(UInt8(ascii: "U")),
                         Int32(d), ap.baseAddress, Int32(d), wp.baseAddress)
        }
      }
    }
    guard info == 0 else { throw InvalidInput(field, "the eigendecomposition failed (LAPACKE_dsyevd info = \(info))") }
    values = w
    vectors = a
  }
}
