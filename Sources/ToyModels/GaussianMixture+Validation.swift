import DiffusionCore

extension GaussianMixture {
  /// (rows, columns) of a non-empty rectangular matrix of finite numbers with at least one column.
  static func matrixShape(_ rows: [[Double]], _ field: String) throws -> (Int, Int) {
    guard let first = rows.first else { throw InvalidInput(field, "needs at least one row (K >= 1)") }
    guard !first.isEmpty else { throw InvalidInput(field, "rows need at least one number (d >= 1)") }
    _ = try flatten(rows, rows: rows.count, columns: first.count, field)
    return (rows.count, first.count)
  }

  /// m, the number of columns of W: K rows of m numbers, or `[]` for m = 0.
  static func conditioningShape(_ W: [[Double]], K: Int) throws -> Int {
    if W.isEmpty { return 0 }
    let m = W[0].count
    _ = try flatten(W, rows: K, columns: m, "model.W")
    return m
  }

  /// The row-major flattening of a `rows x columns` matrix, after checking its shape and finiteness.
  static func flatten(_ matrix: [[Double]], rows: Int, columns: Int, _ field: String, label: String = "") throws -> [Double] {
    guard matrix.count == rows else {
      throw InvalidInput(field, "\(label)expected \(rows) rows, got \(matrix.count)")
    }
    var flat: [Double] = []
    flat.reserveCapacity(rows * columns)
    for (i, row) in matrix.enumerated() {
      guard row.count == columns else {
        throw InvalidInput(field, "\(label)row \(i) has \(row.count) numbers, expected \(columns)")
      }
      if let j = row.firstIndex(where: { !$0.isFinite }) {
        throw InvalidInput(field, "\(label)entry [\(i)][\(j)] is not a finite number (\(row[j]))")
      }
      flat += row
    }
    return flat
  }

  /// Checks each `Sigma_k` is symmetric (to 1e-10 relative) and positive definite, and returns the eigenvalues
  /// (K x d) and row-major eigenvector matrices (K x d x d) of the symmetrized matrices.
  static func eigendecompose(_ cov: [Double], K: Int, d: Int) throws -> ([Double], [Double]) {
    var values: [Double] = [], vectors: [Double] = []
    values.reserveCapacity(K * d)
    vectors.reserveCapacity(K * d * d)
    for k in 0..<K {
      let base = k * d * d
      var scale = 0.0
      for i in 0..<(d * d) { scale = max(scale, abs(cov[base + i])) }
      var symmetric = [Double](repeating: 0, count: d * d)
      for i in 0..<d {
        for j in 0..<d {
          let a = cov[base + i * d + j], b = cov[base + j * d + i]
          if abs(a - b) > 1e-10 * scale {
            throw InvalidInput("model.cov", "matrix \(k) is not symmetric: [\(i)][\(j)] = \(a) but [\(j)][\(i)] = \(b)")
          }
          symmetric[i * d + j] = 0.5 * (a + b)
        }
      }
      let eigen = try SymmetricEigen(symmetric, dimension: d, field: "model.cov")
      let smallest = eigen.values[0], largest = eigen.values[d - 1]
      // Positive definite, with the smallest eigenvalue above the rounding level of the largest.
      guard smallest > 0, smallest > Double(d) * Double.ulpOfOne * largest else {
        throw InvalidInput("model.cov", "matrix \(k) is not positive definite (smallest eigenvalue \(smallest), largest \(largest))")
      }
      values += eigen.values
      vectors += eigen.vectors
    }
    return (values, vectors)
  }
}
