import Foundation

/// The former name of `OutputFile` (kept so older call sites compile); new code calls `OutputFile` directly.
public enum AtomicFile {
  public static func write(_ data: Data, to url: URL) throws { try OutputFile.write(data, to: url) }
  public static func write(_ text: String, to url: URL) throws { try OutputFile.write(text, to: url) }
}
