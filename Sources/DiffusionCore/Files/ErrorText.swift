import Foundation

/// One-line text for any error, for the CLI's `error: <what>: <why>`. `InvalidInput` gives its field and reason;
/// Foundation's file errors (NSCocoaErrorDomain) become the path and the POSIX reason instead of a raw dump.
public enum ErrorText {
  /// "what: why" on one line.
  public static func oneLine(_ error: Error) -> String {
    let (what, why) = parts(error)
    return flatten(what.map { "\($0): \(why)" } ?? why)
  }

  /// The reason only (no path), for wrapping into another error that names the file itself.
  public static func reason(_ error: Error) -> String { flatten(parts(error).why) }

  /// The field or file the error names (if any) and why.
  public static func parts(_ error: Error) -> (what: String?, why: String) {
    if let e = error as? InvalidInput { return (e.field, e.reason) }
    if let e = error as? SystemError { return (nil, e.description) }
    if let e = error as? POSIXError { return (nil, Errno.text(e.code.rawValue)) }
    let ns = error as NSError
    if ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain {
      let path = (ns.userInfo[NSFilePathErrorKey] as? String) ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
      if ns.domain == NSPOSIXErrorDomain { return (path, Errno.text(Int32(ns.code))) }
      if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return (path, Errno.text(Int32(underlying.code)))
      }
      return (path, cocoaReason(ns.code))
    }
    return (nil, String(describing: error))
  }

  static func cocoaReason(_ code: Int) -> String {
    switch code {
    case CocoaError.fileNoSuchFile.rawValue, CocoaError.fileReadNoSuchFile.rawValue: return "no such file"
    case CocoaError.fileReadNoPermission.rawValue, CocoaError.fileWriteNoPermission.rawValue: return "permission denied"
    case CocoaError.fileWriteOutOfSpace.rawValue: return "no space left on device"
    case CocoaError.fileWriteVolumeReadOnly.rawValue: return "read-only file system"
    case CocoaError.fileWriteFileExists.rawValue: return "a file is in the way"
    case CocoaError.fileReadTooLarge.rawValue: return "the file is too large"
    case CocoaError.fileReadInvalidFileName.rawValue, CocoaError.fileWriteInvalidFileName.rawValue: return "invalid file name"
    case CocoaError.fileReadCorruptFile.rawValue: return "the file is corrupt"
    case CocoaError.fileReadUnknown.rawValue: return "cannot read (not a readable regular file?)"
    case CocoaError.fileWriteUnknown.rawValue: return "cannot write"
    default: return "file operation failed (Foundation error \(code))"
    }
  }

  static func flatten(_ text: String) -> String {
    text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: "; ")
  }
}
