import ArgumentParser
import PortKit

/// The one place where the executable meets PortKit's errors: a command's use cases run
/// inside ``run(_:output:backend:_:)``, and whatever `PortKitError` they throw is printed
/// once (or becomes the JSON error document) and ends the command with exit status 2.
enum Inspection {
  /// Appended to the portctl commands that output suggests (`portctl free 8080`), so that they
  /// act on the same machine: ` --host HOST …` with `--host`, empty otherwise. Set once, before
  /// anything is read, by the command that takes `--host`.
  static var suggestionSuffix: String {
    get { ReasonText.suggestionSuffix }
    set { ReasonText.suggestionSuffix = newValue }
  }

  /// Makes the ``System`` for `backend` and runs `body` with it.
  /// With `host`, the system is that machine, over ssh.
  static func run<T>(
    _ command: String, output: OutputOptions, backend: Backend, host: RemoteHost? = nil,
    _ body: (System) async throws -> T
  ) async throws -> T {
    do {
      let system = try host.map { host throws(PortKitError) in try System.remote(host, backend: backend) }
      return try await body(try system ?? System.make(backend))
    } catch let error as PortKitError {
      throw fail(error, command: command, output: output, host: host)
    }
  }

  /// Prints a system error (or its JSON document) and gives the exit to throw.
  static func fail(_ error: PortKitError, command: String, output: OutputOptions, host: RemoteHost? = nil) -> ExitCode {
    if output.json {
      JSONOutput.emit(
        ErrorDocument(
          command: command, exitCode: ExitStatus.systemError, code: error.code.rawValue, message: error.message,
          host: host?.destination))
    } else {
      Terminal.printError("portctl: \(TerminalText.escape(error.message))")
    }
    return ExitCode(ExitStatus.systemError)
  }
}
