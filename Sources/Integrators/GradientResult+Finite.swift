import DiffusionCore

/// Finiteness of what a gradient method returns: a result is printed or written only if every number is finite.
extension GradientResult {
  /// The first non-finite output, in the order the CLI prints them: x0, loss, grad_xT, grad_z, grad_theta.
  public func firstNonFinite() -> (field: String, entry: String, value: Double)? {
    func scan(_ values: [Double], _ field: String, prefix: String = "") -> (String, String, Double)? {
      values.firstIndex { !$0.isFinite }.map { (field, "\(prefix)entry \($0)", values[$0]) }
    }
    if let hit = scan(x0, "x0") { return hit }
    if !loss.isFinite { return ("loss", "the value", loss) }
    if let hit = scan(gradXT, "grad_xT") { return hit }
    for (i, row) in gradZ.enumerated() {
      if let hit = scan(row, "grad_z", prefix: gradZ.count > 1 ? "row \(i) " : "") { return hit }
    }
    return scan(gradTheta, "grad_theta")
  }

  /// Throws an `InvalidInput` naming the first non-finite output; `location(field)` adds where it first went
  /// non-finite (called only on failure, so it may re-run a cheap part of the computation).
  public func checkFinite(method: String, location: (String) -> String? = { _ in nil }) throws {
    guard let (field, entry, value) = firstNonFinite() else { return }
    let where_ = location(field).map { "; \($0)" } ?? ""
    throw InvalidInput(
      field, "\(entry) is not finite (\(value)): \(method) overflowed, the problem is too extreme for Float64 arithmetic\(where_)")
  }
}

extension Trajectory {
  /// Where the sampled path first stops being finite, walking from T down: the state x_t or the eps evaluated
  /// there, with the step (counted from T) and the time; nil if every state and eps is finite.
  public func firstNonFinite() -> String? {
    for j in stride(from: grid.steps, through: 0, by: -1) {
      let step = grid.steps - j
      if let k = states[j].firstIndex(where: { !$0.isFinite }) {
        return "the sampler's state x_t first went non-finite at step \(step) of \(grid.steps) (t = \(grid.times[j]), entry \(k))"
      }
      if j < eps.count, let k = eps[j].firstIndex(where: { !$0.isFinite }) {
        return "eps first went non-finite at sampling step \(step) of \(grid.steps) (t = \(grid.times[j]), entry \(k))"
      }
    }
    return nil
  }
}
