extension CaseIterable where Self: RawRepresentable, Self.RawValue == String {
  /// The case whose raw value is `name`, or an `InvalidInput` for `option` listing every accepted name:
  /// "unknown <what> '<name>' (expected one of a, b, c)".
  @inlinable
  public static func parse(_ name: String, option: String, what: String) throws -> Self {
    guard let value = Self(rawValue: name) else {
      throw InvalidInput(option, "unknown \(what) '\(name)' (expected one of \(allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    return value
  }
}
