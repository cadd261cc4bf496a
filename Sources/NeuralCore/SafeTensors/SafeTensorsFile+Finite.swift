import DiffusionCore

extension SafeTensorsFile.Entry {
  /// The first value that is not finite as stored (a Double beyond Float's range written as F32 counts), or nil.
  public func firstNonFinite() -> (index: Int, value: Double)? {
    switch values {
    case .doubles(let v):
      if dtype == .f64 {
        return v.firstIndex { !$0.isFinite }.map { ($0, v[$0]) }
      }
      return v.firstIndex { !Float($0).isFinite }.map { ($0, v[$0]) }
    case .floats(let v):
      return v.firstIndex { !$0.isFinite }.map { ($0, Double(v[$0])) }
    }
  }
}

extension SafeTensorsFile {
  /// Throws naming the first tensor (in the given order) holding a non-finite value: nothing non-finite is written.
  public static func checkFinite(_ entries: [Entry]) throws {
    for entry in entries {
      if let (i, value) = entry.firstNonFinite() {
        let stored = entry.dtype == .f32 && value.isFinite ? " (\(value) overflows \(entry.dtype.rawValue))" : " (\(value))"
        throw InvalidInput("tensor \"\(entry.name)\"", "entry \(i) of shape \(entry.shape) is not finite\(stored): refusing to write it")
      }
    }
  }
}
