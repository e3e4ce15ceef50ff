import ArgumentParser
import PortKit

@main
struct Portctl: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "portctl",
    abstract: "Find out who holds a port, and why.",
    discussion: """
      `portctl PORT…` is the same as `portctl who PORT…`; `portctl` alone is `portctl ui` (the \
      live view) on a terminal, and `portctl list` otherwise.

      Port specs: \(PortSpec.acceptedForms); ranges and lists combine, and a \
      protocol or address narrows a spec (udp:[::1]:5353, 127.0.0.1:3000-3010/tcp).

      Exit codes (the README has the full table):
        0   success: held (who, why), listed, bindable (check, free, wait
            --free, explain), every target gone (kill), found (find)
        1   the negative answer: not held, nothing matched, cannot bind,
            not freed, timed out, fewer ports found
        2   the system could not be inspected
        3   not permitted: another user's process (use sudo; on Windows an elevated terminal)
        4   refused: no consent, or a protected process
        5   explain: no bind error recognised, or no port in it
        run: the command's own status (128+N for signal N; 126/127
            when it could not be started)
        64  usage error: bad port spec, unknown option, bad value
      """,
    version: PortctlVersion.current,
    subcommands: [
      Who.self, List.self, Why.self, Check.self, Kill.self, Free.self, Find.self, Wait.self, Explain.self, UI.self,
      Watch.self, Run.self, MCP.self,
    ],
    defaultSubcommand: Who.self
  )

  /// Parses and runs, so that with `--json` even a usage error prints one JSON document.
  ///
  /// Every way out goes through ``StandardStreams/finish(_:)``, never ArgumentParser's
  /// `exit(withError:)`: on Windows that ends the process with `_exit`, which drops what the
  /// C library still buffers (`who --json > file` left an empty file), and it exits a usage
  /// error with `ERROR_BAD_ARGUMENTS` (160) where portctl's status is 64 everywhere.
  static func main() async {
    StandardStreams.prepare()
    #if os(Linux)
    Syscalls.tuneAllocator()
    #endif
    var arguments = Array(CommandLine.arguments.dropFirst())
    // Bare `portctl` opens the live view on a terminal, and lists the listeners otherwise.
    if arguments.isEmpty { arguments = UI.canRun ? ["ui"] : ["list"] }
    #if !os(Windows)
    ProcessResources.raiseDescriptorLimit()
    if let shortfall = ProcessResources.shortfall() {
      let code = Inspection.fail(shortfall, command: commandName(in: arguments), output: outputOptions(arguments))
      StandardStreams.finish(code.rawValue)
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
      StandardStreams.finish(report(error, arguments: arguments))
    }
    StandardStreams.finish(ExitStatus.success)
  }

  /// Prints what `error` calls for and gives the exit status. A command's `ExitCode` is its
  /// answer, printed already; `--help`, `--version`, a `help` subcommand and a completion
  /// script are printed on standard output as ArgumentParser prints them, with status 0; a
  /// usage error goes to standard error (or is the JSON error document) with status 64.
  static func report(_ error: Error, arguments: [String]) -> Int32 {
    if let code = error as? ExitCode { return code.rawValue }
    let status = exitStatus(for: error)
    if status == ExitStatus.success {
      let text = fullMessage(for: error)
      if !text.isEmpty { print(text) }
      return status
    }
    if wantsJSON(arguments) {
      let message = fullMessage(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
      JSONOutput.emit(
        ErrorDocument(command: commandName(in: arguments), exitCode: status, code: "usage", message: cleaned(message)))
      return status
    }
    // A usage error quotes the arguments, which a script may have taken from anywhere:
    // escaped like any other text portctl did not write itself.
    let message = fullMessage(for: error).split(separator: "\n", omittingEmptySubsequences: false)
      .map { TerminalText.escape(String($0)) }.joined(separator: "\n")
    Terminal.printError(message)
    return status
  }

  /// The exit status for an error ArgumentParser reports: its validation failure (a bad
  /// argument, a `ValidationError`) is `EX_USAGE` on Linux and macOS but `ERROR_BAD_ARGUMENTS`
  /// (160) on Windows; portctl's usage status is 64 on every platform. Anything else keeps
  /// ArgumentParser's code (0 for help and version, 1 for another error).
  static func exitStatus(for error: Error) -> Int32 {
    if let code = error as? ExitCode { return code.rawValue }
    let code = exitCode(for: error)
    return code == .validationFailure ? ExitStatus.usage : code.rawValue
  }

  /// The subcommand named in `arguments`, for an error document written before parsing.
  static func commandName(in arguments: [String]) -> String {
    arguments.first { commandNames.contains($0) } ?? "who"
  }

  /// Every subcommand's name.
  static let commandNames = [
    "who", "list", "why", "check", "kill", "free", "find", "wait", "explain", "ui", "watch", "run", "mcp",
  ]

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
