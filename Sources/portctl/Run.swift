import ArgumentParser
import PortKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif os(Windows)
import CRT
#endif

/// `--port auto` or `--port N`.
struct PortChoiceArgument: ExpressibleByArgument {
  var choice: PortHandoff.PortChoice

  init?(argument: String) {
    if argument == "auto" {
      choice = .automatic
    } else if let port = UInt16(argument), port > 0 {
      choice = .fixed(port)
    } else {
      return nil
    }
  }

  var defaultValueDescription: String { "auto" }
}

struct Run: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    // Named here: deriving it from the type name costs a demangling at every start.
    commandName: "run",
    abstract: "Run a command with a free port in $PORT and {port}; explain it if it cannot bind.",
    discussion: """
      portctl run [--port N|auto] [--env NAME] -- COMMAND [ARGUMENT…]

      --port auto (the default) finds a free TCP port as `find` does (ephemeral, reserved, \
      browser-restricted and well-known ports passed over) and starts COMMAND right away, \
      the port in the environment variable NAME (PORT unless --env says otherwise) and in \
      place of every {port} in its arguments: `portctl run -- python3 -m http.server {port}`.

      --port N: when N is free, the same with N. When something holds it: on a terminal, \
      `free`'s question (who holds it, what would be sent, y/N), and COMMAND runs once the \
      port is proved free; declined or not freed, COMMAND does not run and the status is \
      `free`'s (4 refused, 1 not freed, 3 not permitted). Without a terminal, or when no \
      process holds it (a privileged port, an address not on this machine), `check`'s \
      diagnosis (the holders and their pids) is printed on standard error and the status is \
      1, COMMAND not run.

      COMMAND keeps standard input, and standard output when that is a terminal; its \
      standard error (and standard output when that is not a terminal) passes through \
      portctl as it comes, through a pipe (a program that colours its errors only on a \
      terminal will not). \
      SIGINT, SIGTERM and SIGHUP sent to portctl are passed on to it (a terminal's Ctrl-C \
      reaches it directly). When it exits with a failure and its output shows a bind error \
      (EADDRINUSE, EACCES …), `explain`'s diagnosis of it follows on standard error.

      The port is probed right before COMMAND starts, but another process may still take \
      it in the moment before COMMAND binds it: that window cannot be closed for a program \
      that binds its own socket, only kept short.

      Exit status: COMMAND's (128 + N when signal N ended it); 1 the port is taken (without \
      a terminal) or no free port was found; 2 the system could not be inspected; 126 or \
      127 COMMAND could not be started (not executable, not found); 64 usage error.
      """
  )

  @Option(
    name: .long,
    help: ArgumentHelp(
      "The port: auto finds a free one, N uses N (offering to free it when taken).", valueName: "N|auto"))
  var port = PortChoiceArgument(argument: "auto")!

  @Option(name: .long, help: ArgumentHelp("The environment variable that carries the port.", valueName: "name"))
  var env = "PORT"

  @OptionGroup var backend: BackendOptions

  @Argument(
    parsing: .postTerminator,
    help: ArgumentHelp("The command and its arguments, after --; {port} is replaced by the port.", valueName: "command")
  )
  var command: [String] = []

  func validate() throws {
    if command.isEmpty {
      throw ValidationError("give the command after --: portctl run -- npm run dev")
    }
    if env.isEmpty || env.contains("=") || env.utf8.contains(0) {
      throw ValidationError("--env takes a variable name such as PORT, not '\(env)'")
    }
  }

  func run() async throws {
    let output = try OutputOptions.parse([])
    let style = Style(enabled: Terminal.isTerminal(2) && Terminal.environment("NO_COLOR") == nil)
    let handoff: PortHandoff
    let chosen: PortHandoff.Choice
    do {
      handoff = PortHandoff(system: try System.make(backend.backend))
      chosen = try await handoff.choose(port.choice)
    } catch {
      throw Inspection.fail(error, command: "run", output: output)
    }
    let granted: UInt16
    switch chosen {
    case .free(let free):
      granted = free
    case .noneFree:
      Terminal.printError("portctl: found no free tcp port to run the command on; nothing was run.")
      throw ExitCode(ExitStatus.negative)
    case .taken(let check):
      // Only holders `free` can stop are worth the question (not a privileged port, an
      // address not here, a socket only the kernel holds).
      let stoppable = check.reasons.contains { reason in
        if case .stopHolders? = reason.remedy { true } else { false }
      }
      guard Terminal.stdinIsTTY, stoppable else {
        Terminal.printError("portctl: port \(check.port) cannot be bound, so the command was not run:")
        CheckText.print([check], style: style) { Terminal.printError($0) }
        throw ExitCode(ExitStatus.negative)
      }
      Terminal.printError("portctl: port \(check.port) cannot be bound now:")
      CheckText.print([check], style: style) { Terminal.printError($0) }
      // `free`'s question and proof; any answer but a freed port ends here with its status.
      try await TerminationFlow.run(
        "free", specs: [PortSpec(ports: check.port...check.port, proto: .tcp)],
        termination: try TerminationOptions.parse([]), selection: try SocketSelectionOptions.parse(["--tcp"]),
        output: output, backend: backend.backend, verification: .init(respawnWindow: nil, drainTimeWait: nil))
      granted = check.port
    }
    if Terminal.isTerminal(2) {
      Terminal.printError("portctl: running on port \(granted) ($\(env), {port})")
    }
    fflush(nil)
    let completion: PortHandoff.Completion
    do {
      // Standard output on a terminal is left to the command, which then sees a terminal
      // (and writes line by line, in colour); elsewhere it is read too.
      completion = try await handoff.launch(
        command, port: granted, variable: env, captureOutput: !Terminal.stdoutIsTTY)
    } catch  where error.code == .spawnFailed {
      Terminal.printError("portctl: \(TerminalText.escape(error.message))")
      // As a shell says it: 127 not found, 126 found but not runnable.
      throw ExitCode(error.errno == ENOENT ? 127 : 126)
    } catch {
      throw Inspection.fail(error, command: "run", output: output)
    }
    // The diagnosis is a help, not the answer: a failure to make it leaves the status alone.
    if let explanation = try? await handoff.explainFailure(completion, port: granted) {
      Self.printExplanation(explanation.outcome, style: style)
      if explanation.portAssumed {
        Terminal.printError(
          "portctl: the message does not say which port; port \(granted), the one handed over in $\(env), was checked.")
      }
    }
    let status = completion.exit.status
    if status != ExitStatus.success { throw ExitCode(status) }
  }

  /// `explain`'s diagnosis, on standard error under the command's own output.
  static func printExplanation(_ outcome: BindFailureExplanation.Outcome, style: Style) {
    guard let failure = outcome.failure else { return }
    Terminal.printError("portctl: \(TerminalText.escape(ExplainText.summary(failure)))")
    switch outcome {
    case .advice(_, let advice):
      Terminal.printError(TerminalText.escape(advice))
    case .checked(_, let checks):
      CheckText.print(checks, style: style) { Terminal.printError($0) }
      if !checks.isEmpty, checks.allSatisfy(\.bindable) {
        Terminal.printError("The port can be bound now: what held it is gone. Run the command again.")
      }
    case .noPort, .notRecognized:
      break
    }
  }
}
