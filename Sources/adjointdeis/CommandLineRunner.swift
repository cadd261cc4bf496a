import ArgumentParser
import DiffusionCore
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Runs the CLI so that every failure is one line `error: <what>: <why>` on stderr and a non-zero exit:
/// ArgumentParser's own errors included, every Double option checked finite before any work, stdout checked after
/// the command (a full disk or /dev/full is an error, not a silent empty file), and the process's temporary files
/// removed on every exit and on SIGINT/SIGTERM/SIGHUP. Messages go to stderr through `StandardStreams.error` (a closed
/// or full stderr loses the message, not the exit status).
enum CommandLineRunner {
  static func main(_ root: any ParsableCommand.Type, arguments: [String] = Array(CommandLine.arguments.dropFirst())) -> Never {
    StandardStreams.reopenClosed()
    TemporaryFiles.installSignalHandlers()
    var command: any ParsableCommand
    do {
      command = try root.parseAsRoot(Self.attachingNegativeNumbers(arguments))
    } catch {
      if root.exitCode(for: error) == .success { succeed(root, error) }  // --help and the like
      finish(UsageText.line(root.message(for: error)), code: root.exitCode(for: error).rawValue)
    }
    do {
      try OptionChecks.finiteNumbers(in: command)
      try command.run()
    } catch let code as ExitCode {
      finish(nil, code: code.rawValue)
    } catch {
      // ArgumentParser's own errors (help requested through `help`, validation): its exit code, our one-line form
      if String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
        if root.exitCode(for: error) == .success { succeed(root, error) }
        finish(UsageText.line(root.message(for: error)), code: root.exitCode(for: error).rawValue)
      }
      finish("error: " + ErrorText.oneLine(error), code: 1)
    }
    finish(nil, code: 0)
  }

  /// --help and the like: the text on stdout, then `finish`, so that a closed or full stdout is an error here too.
  static func succeed(_ root: any ParsableCommand.Type, _ error: Error) -> Never {
    let text = root.fullMessage(for: error)
    if !text.isEmpty { print(text) }
    finish(nil, code: 0)
  }

  /// Flushes stdout (a failed write is an error even when the command succeeded), removes temporaries, exits.
  static func finish(_ message: String?, code: Int32) -> Never {
    var code = code
    var message = message
    errno = 0
    // fflush(nil) flushes every stdio stream (print writes to stdout's buffer); a write that failed earlier left its
    // bytes in the buffer, so this flush fails again and reports it.
    if fflush(nil) != 0 {
      let reason = StandardStreams.wasClosed(1) ? "stdout is closed" : errno != 0 ? Errno.text(errno) : "a write failed"
      if message == nil { message = "error: stdout: cannot write the output: \(reason)" }
      if code == 0 { code = 1 }
    }
    if code != 0 { TemporaryFiles.yieldToSignal() }  // a failure caused by a SIGINT/SIGTERM/SIGHUP clean-up: die of the signal
    TemporaryFiles.removeAll()
    if let message { StandardStreams.error(message) }
    exit(code)
  }

  /// `--steps -1` → `--steps=-1`: ArgumentParser reads a token starting with '-' as an option, so a negative number
  /// after an option would be "Missing value"; attached, it reaches the option and gets a real range error.
  /// (The CLI has no positional arguments, so a number after an option is always that option's value.)
  static func attachingNegativeNumbers(_ arguments: [String]) -> [String] {
    var out: [String] = []
    var i = 0
    while i < arguments.count {
      let a = arguments[i]
      if a.hasPrefix("--"), a.count > 2, !a.contains("="), i + 1 < arguments.count, looksNegative(arguments[i + 1]) {
        out.append(a + "=" + arguments[i + 1])
        i += 2
      } else {
        out.append(a)
        i += 1
      }
    }
    return out
  }

  static func looksNegative(_ token: String) -> Bool {
    guard token.hasPrefix("-"), token.count > 1 else { return false }
    let rest = token.dropFirst().lowercased()
    if let first = rest.first, first.isNumber || first == "." { return true }
    return rest.hasPrefix("inf") || rest.hasPrefix("nan")
  }
}

/// ArgumentParser's messages rewritten as `error: <option>: <why>` on one line.
enum UsageText {
  static func line(_ message: String) -> String {
    let lines = message.split(whereSeparator: \.isNewline).map(String.init)
    let text = lines.first ?? message
    guard let option = firstQuotedOption(text) else { return "error: arguments: \(lines.joined(separator: "; "))" }
    let why: String
    if text.hasPrefix("Missing expected argument") {
      why = "is required"
    } else if text.hasPrefix("Missing value for") {
      why = "needs a value"
    } else if text.hasPrefix("Unknown option") {
      why = "unknown option (see --help)"
    } else if text.hasPrefix("The value '"), let valueEnd = text.range(of: "' is invalid for '"),
              let optionEnd = text[valueEnd.upperBound...].firstIndex(of: "'") {
      let value = text[text.index(text.startIndex, offsetBy: 11)..<valueEnd.lowerBound]
      why = "'\(value)' is not a valid value" + detail(String(text[text.index(after: optionEnd)...]), bullets: Array(lines.dropFirst()))
    } else {
      why = lines.joined(separator: "; ")
    }
    return "error: \(option): \(why)"
  }

  /// ". Please provide one of 'a', 'b' or 'c'." / ". Please provide one of the following:" + bullets / ": reason".
  static func detail(_ rest: String, bullets: [String]) -> String {
    if rest.hasPrefix(". Please provide one of the following:") {
      let values = bullets.map { $0.trimmingCharacters(in: .whitespaces) }.map { $0.hasPrefix("- ") ? String($0.dropFirst(2)) : $0 }
      return " (expected one of: \(values.joined(separator: ", ")))"
    }
    if rest.hasPrefix(". Please provide one of ") {
      let list = rest.dropFirst(". Please provide one of ".count)
      return " (expected one of \(list.hasSuffix(".") ? String(list.dropLast()) : String(list)))"
    }
    return rest.isEmpty ? "" : rest
  }

  /// The option in the first '...' that starts with a dash: "'--steps <steps>'" → "--steps".
  static func firstQuotedOption(_ text: String) -> String? {
    let pieces = text.split(separator: "'", omittingEmptySubsequences: false)
    for (i, piece) in pieces.enumerated() where i % 2 == 1 && piece.hasPrefix("-") {
      return String(piece.split(separator: " ").first ?? piece)
    }
    return nil
  }
}

/// Checks on parsed options common to every command.
enum OptionChecks {
  /// Every `Double` option must be finite: `--floor nan` is refused before the study runs, not after.
  static func finiteNumbers(in command: any ParsableCommand) throws {
    for child in Mirror(reflecting: command).children {
      guard let label = child.label else { continue }
      let value: Double?
      if let o = child.value as? Option<Double> {
        value = o.wrappedValue
      } else if let o = child.value as? Option<Double?> {
        value = o.wrappedValue
      } else {
        continue
      }
      if let value, !value.isFinite {
        throw InvalidInput("--" + optionName(label), "must be a finite number, got \(value)")
      }
    }
  }

  /// "_referenceTolerance" → "reference-tolerance" (ArgumentParser's default spelling); "_T" → "T".
  static func optionName(_ label: String) -> String {
    let name = label.hasPrefix("_") ? String(label.dropFirst()) : label
    if name.allSatisfy(\.isUppercase) { return name }
    var out = ""
    for c in name {
      if c.isUppercase { out += "-" + c.lowercased() } else { out.append(c) }
    }
    return out
  }
}
