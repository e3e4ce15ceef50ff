import ArgumentParser
import PortKit

@main
struct Portctl: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "portctl",
    abstract: "Find out who holds a port, and why.",
    discussion: """
      `portctl PORT…` is the same as `portctl who PORT…`; `portctl` alone is `portctl list`.

      Port specs: \(PortSpec.acceptedForms); ranges and lists combine, and a \
      protocol or address narrows a spec (udp:[::1]:5353, 127.0.0.1:3000-3010/tcp).

      Exit codes (the README has the full table):
        0   success: held (who, why), listed, bindable (check, free, wait
            --free, explain), every target gone (kill), found (find)
        1   the negative answer: not held, nothing matched, cannot bind,
            not freed, timed out, fewer ports found
        2   the system could not be inspected
        3   not permitted: another user's process (use sudo)
        4   refused: no consent, or a protected process
        5   explain: no bind error recognised, or no port in it
        64  usage error: bad port spec, unknown option, bad value
      """,
    version: "0.1.0",
    subcommands: [Who.self, List.self, Why.self, Check.self, Kill.self, Free.self, Find.self, Wait.self, Explain.self],
    defaultSubcommand: Who.self
  )

  /// Parses and runs, so that with `--json` even a usage error prints one JSON document.
  static func main() async {
    StandardStreams.prepare()
    #if os(Linux)
    Syscalls.tuneAllocator()
    #endif
    var arguments = Array(CommandLine.arguments.dropFirst())
    // Bare `portctl` lists the listeners.
    if arguments.isEmpty { arguments = ["list"] }
    #if !os(Windows)
    ProcessResources.raiseDescriptorLimit()
    if let shortfall = ProcessResources.shortfall() {
      let code = Inspection.fail(shortfall, command: commandName(in: arguments), output: outputOptions(arguments))
      exit(withError: code)
    }
    #endif
    do {
      var command = try parseAsRoot(arguments)
      if var asyncCommand = command as? AsyncParsableCommand {
        try await asyncCommand.run()
      } else {
        try command.run()
      }
    } catch {
      let status = exitCode(for: error)
      if Self.wantsJSON(arguments), !(error is ExitCode), status != .success {
        let name = commandName(in: arguments)
        let message = fullMessage(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
        JSONOutput.emit(
          ErrorDocument(command: name, exitCode: status.rawValue, code: "usage", message: cleaned(message)))
        exit(withError: ExitCode(status.rawValue))
      }
      if status != .success, !(error is ExitCode) {
        // A usage error quotes the arguments, which a script may have taken from anywhere:
        // escaped like any other text portctl did not write itself.
        let message = fullMessage(for: error).split(separator: "\n", omittingEmptySubsequences: false)
          .map { TerminalText.escape(String($0)) }.joined(separator: "\n")
        Terminal.printError(message)
        exit(withError: ExitCode(status.rawValue))
      }
      exit(withError: error)
    }
  }

  /// The subcommand named in `arguments`, for an error document written before parsing.
  static func commandName(in arguments: [String]) -> String {
    arguments.first { commandNames.contains($0) } ?? "who"
  }

  /// Every subcommand's name.
  static let commandNames = ["who", "list", "why", "check", "kill", "free", "find", "wait", "explain"]

  /// `--json` and `--quiet` as they appear in `arguments`, before parsing.
  static func outputOptions(_ arguments: [String]) -> OutputOptions {
    var options = OutputOptions()
    options.json = wantsJSON(arguments)
    options.quiet = arguments.contains("-q") || arguments.contains("--quiet")
    return options
  }

  static func wantsJSON(_ arguments: [String]) -> Bool {
    for argument in arguments {
      if argument == "--" { return false }
      if argument == "--json" { return true }
    }
    return false
  }

  static func cleaned(_ message: String) -> String {
    message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message
  }
}

/// Exit statuses, one table for every command (README: "Exit codes").
enum ExitStatus {
  static let success: Int32 = 0
  static let negative: Int32 = 1
  static let systemError: Int32 = 2
  static let notPermitted: Int32 = 3
  static let refused: Int32 = 4
  static let notUnderstood: Int32 = 5
  static let usage: Int32 = 64
}
