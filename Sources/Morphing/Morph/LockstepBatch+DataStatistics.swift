import DiffusionCore

extension LockstepBatch: DataStatisticsProvider where Model: DataStatisticsProvider {
  /// Each problem's statistics at its own z, side by side: Sigma is block-diagonal, so the Gaussian linear part
  /// acts on each problem alone and each pair's a_x is what a batch-1 run gives. Problems with equal z share one
  /// computation. (a_z's scalar growth uses the average of the blocks' tr Sigma / d, which differs from a batch-1
  /// run only when the blocks' traces differ: the conditioned model; docs/gaussian-linear-part.md#a-z.)
  public func dataStatistics(z: [Double]) throws -> DataStatistics {
    let m = model.conditionDimension
    try Check.count(z, count * m, "z")
    var known: [[Double]: DataStatistics] = [:]
    let parts = try (0..<count).map { p in
      let zp = Array(z[(p * m)..<((p + 1) * m)])
      if let s = known[zp] { return s }
      let s = try model.dataStatistics(z: zp)
      known[zp] = s
      return s
    }
    return try DataStatistics.blockDiagonal(parts)
  }
}
