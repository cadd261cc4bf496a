import Foundation

/// Output files are written whole: to a temporary file beside the target, then renamed over it.
public enum AtomicFile {
  public static func write(_ data: Data, to url: URL) throws {
    let directory = url.deletingLastPathComponent()
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw InvalidInput(url.path, "the directory \(directory.path) does not exist")
    }
    let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
    do {
      try data.write(to: temporary)
    } catch {
      throw InvalidInput(url.path, "cannot write: \(error.localizedDescription)")
    }
    if rename(temporary.path, url.path) != 0 {
      try? FileManager.default.removeItem(at: temporary)
      throw InvalidInput(url.path, "cannot rename the temporary file into place (errno \(errno))")
    }
  }

  public static func write(_ text: String, to url: URL) throws {
    try write(Data(text.utf8), to: url)
  }
}
