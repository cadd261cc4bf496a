import Dispatch
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The process's temporary files and folders (`.NAME.PID.tmp` beside their targets). Each is registered before it is
/// created and unregistered once renamed into place, so that a failure (`removeAll`, called by the CLI on every exit)
/// or SIGINT/SIGTERM/SIGHUP (`installSignalHandlers`) removes what is left. A SIGKILL leaves them; the next write
/// to the same target sweeps those of dead processes (`sweepStale`), finishing a multi-file commit that had begun.
public enum TemporaryFiles {
  private static let lock = NSLock()
  /// Held by a multi-file commit and by the signal clean-up: a signal waits for the commit to finish.
  private static let commitLock = NSRecursiveLock()
  nonisolated(unsafe) private static var paths: Set<String> = []
  nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

  public static func register(_ url: URL) {
    lock.lock()
    if dying {
      // the signal clean-up has begun: a temporary created now would outlive it. Wait for the signal to end the
      // process (the handler re-raises it within milliseconds).
      lock.unlock()
      while true { pause() }
    }
    paths.insert(url.path)
    lock.unlock()
  }

  /// Set by the signal clean-up: no new temporary may be registered (and so created) after it.
  nonisolated(unsafe) private static var dying = false

  /// If a signal's clean-up has begun, waits for it to end the process (the handler re-raises the signal within
  /// milliseconds) and never returns: a failure the clean-up itself caused (a write into a staging folder it just
  /// removed) must not exit first with its own status and message instead of the signal's.
  public static func yieldToSignal() {
    lock.lock()
    let signalled = dying
    lock.unlock()
    if signalled { while true { pause() } }
  }

  public static func unregister(_ url: URL) {
    lock.lock(); defer { lock.unlock() }
    paths.remove(url.path)
  }

  /// The registered paths (for tests and diagnostics).
  public static var registered: [String] {
    lock.lock(); defer { lock.unlock() }
    return paths.sorted()
  }

  /// Removes every registered file or folder and forgets them.
  public static func removeAll() {
    lock.lock()
    let all = paths
    paths.removeAll()
    lock.unlock()
    remove(all, retrying: false)
  }

  /// Removes `all`. With `retrying` (the signal clean-up, which runs while the main thread may still be writing into a
  /// staging folder): a removal that lost the race against a file created meanwhile (the folder not empty when rmdir
  /// came) is tried again, for up to about a second; once the folder itself is gone nothing more can be created in it.
  private static func remove(_ all: Set<String>, retrying: Bool) {
    for path in all {
      for attempt in 0..<(retrying ? 100 : 1) {
        try? FileManager.default.removeItem(atPath: path)
        var s = stat()
        if lstat(path, &s) != 0 { break }
        if attempt < 99 { usleep(10_000) }
      }
    }
  }

  /// On SIGINT, SIGTERM or SIGHUP: remove the registered temporaries, then die of the same signal (so the exit status
  /// says which). The signals are handled on a dispatch queue, not in an async-signal context, so the clean-up may
  /// take locks and allocate.
  public static func installSignalHandlers() {
    lock.lock(); defer { lock.unlock() }
    guard sources.isEmpty else { return }
    for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
      signal(signalNumber, SIG_IGN)  // the dispatch source receives it instead of the default action
      let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
      source.setEventHandler {
        commitLock.lock()  // never unlocked: the process dies below, after any commit in progress has finished
        lock.lock()
        dying = true  // from here no new temporary: register() waits for the end
        let all = paths
        lock.unlock()
        // The paths stay registered: if the main thread, its staging folder gone, fails and exits first, its own
        // exit clean-up (CommandLineRunner.finish) removes what it recreated meanwhile (a writer's parent folder).
        remove(all, retrying: true)
        // one registered just before may have been created after the pass above (register, then create): again
        usleep(20_000)
        remove(all, retrying: false)
        signal(signalNumber, SIG_DFL)
        kill(getpid(), signalNumber)
      }
      source.resume()
      sources.append(source)
    }
  }

  /// Runs `body` (a commit: renames that must all happen) with SIGINT/SIGTERM/SIGHUP's clean-up held back until it
  /// returns; the signal then takes effect. (SIGKILL cannot be held back: `OutputFolder`'s journal covers it.)
  public static func uninterruptible<T>(_ body: () throws -> T) rethrows -> T {
    commitLock.lock()
    defer { commitLock.unlock() }
    return try body()
  }

  /// The temporary name for `target`: `.NAME.PID.tmp` in the same directory (same file system, so a rename moves it).
  public static func temporary(for target: URL) -> URL {
    target.deletingLastPathComponent()
      .appendingPathComponent(".\(target.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
  }

  /// Removes `.NAME.PID.tmp` files or folders beside `target` left by processes that no longer exist.
  /// Returns the removed paths.
  @discardableResult
  public static func sweepStale(for target: URL) -> [URL] {
    let directory = target.deletingLastPathComponent()
    let prefix = ".\(target.lastPathComponent).", suffix = ".tmp"
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
    var removed: [URL] = []
    let own = ProcessInfo.processInfo.processIdentifier
    for name in names where name.hasPrefix(prefix) && name.hasSuffix(suffix) && name.count > prefix.count + suffix.count {
      let middle = name.dropFirst(prefix.count).dropLast(suffix.count)
      guard middle.allSatisfy(\.isASCII), middle.allSatisfy(\.isNumber), let pid = Int32(middle), pid != own else { continue }
      guard !Errno.processAlive(pid) else { continue }
      let url = directory.appendingPathComponent(name)
      // a dead run's commit that had begun (its journal exists) is finished, not removed: all-new, never a mix
      if OutputFolder.recover(staging: url) {
        removed.append(url)
        continue
      }
      if (try? FileManager.default.removeItem(at: url)) != nil { removed.append(url) }
    }
    return removed
  }
}
