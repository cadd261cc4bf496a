import Foundation

/// Which code produced a result: the GNU build-id the linker stamped into the running executable (a hash of its
/// contents, so any change to the code changes it), or the SHA-256 of the executable file where there is none.
/// Shards record it; `merge` refuses shards made by different binaries.
public enum CodeVersion {
  /// The shard file format; bumped whenever what a shard writes changes meaning.
  public static let shardFormat = 1

  /// `build-id:<hex>` or `sha256:<hex>` of the running executable, computed once.
  public static let current: String = {
    if let id = buildID() { return "build-id:" + id }
    if let data = try? Data(contentsOf: URL(fileURLWithPath: "/proc/self/exe")) { return "sha256:" + SHA256.hex(data) }
    if let data = try? Data(contentsOf: URL(fileURLWithPath: CommandLine.arguments[0])) { return "sha256:" + SHA256.hex(data) }
    return "unknown"
  }()

  /// The NT_GNU_BUILD_ID note of the running executable (64-bit little-endian ELF), read from its PT_NOTE segments.
  static func buildID() -> String? {
    guard let file = FileHandle(forReadingAtPath: "/proc/self/exe") else { return nil }
    defer { try? file.close() }
    func read(_ offset: Int, _ count: Int) -> [UInt8]? {
      guard (try? file.seek(toOffset: UInt64(offset))) != nil, let data = try? file.read(upToCount: count), data.count == count else { return nil }
      return [UInt8](data)
    }
    func integer(_ bytes: [UInt8], _ at: Int, _ size: Int) -> Int {
      (0..<size).reversed().reduce(0) { $0 << 8 | Int(bytes[at + $1]) }
    }
    // ELF magic, 64-bit class, little-endian
    guard let header = read(0, 64), header[0..<4] == [0x7f, 0x45, 0x4c, 0x46], header[4] == 2, header[5] == 1 else { return nil }
    let phoff = integer(header, 32, 8), phentsize = integer(header, 54, 2), phnum = integer(header, 56, 2)
    guard phentsize >= 56, phnum < 1000 else { return nil }
    for i in 0..<phnum {
      guard let ph = read(phoff + i * phentsize, 56), integer(ph, 0, 4) == 4 else { continue }  // PT_NOTE
      let offset = integer(ph, 8, 8), size = integer(ph, 32, 8)
      guard size < 1 << 20, let notes = read(offset, size) else { continue }
      var at = 0
      while at + 12 <= size {
        let nameSize = integer(notes, at, 4), descSize = integer(notes, at + 4, 4), type = integer(notes, at + 8, 4)
        let nameStart = at + 12, descStart = nameStart + (nameSize + 3) / 4 * 4
        guard descStart + descSize <= size else { break }
        if type == 3, Array(notes[nameStart..<nameStart + nameSize]) == [0x47, 0x4e, 0x55, 0], descSize > 0 {  // NT_GNU_BUILD_ID, "GNU"
          return notes[descStart..<descStart + descSize].map { String(format: "%02x", $0) }.joined()
        }
        at = descStart + (descSize + 3) / 4 * 4
      }
    }
    return nil
  }
}
