import ArgumentParser
import PortKit

/// The one place where the executable meets PortKit's errors: a command's use cases run
/// inside ``run(_:output:backend:_:)``, and whatever `PortKitError` they throw is printed
/// once (or becomes the JSON error document) and ends the command with exit status 2.
enum Inspection {
  /// Makes the ``System`` for `backend` and runs `body` with it.
  static func run<T>(
    _ command: String, output: OutputOptions, backend: Backend, _ body: (System) async throws -> T
  ) async throws -> T {
    do {
      return try await body(try System.make(backend))
    } catch let error as PortKitError {
      throw fail(error, command: command, output: output)
    }
  }

  /// Prints a system error (or its JSON document) and gives the exit to throw.
  static func fail(_ error: PortKitError, command: String, output: OutputOptions) -> ExitCode {
    if output.json {
      JSONOutput.emit(
        ErrorDocument(
          command: command, exitCode: ExitStatus.systemError, code: error.code.rawValue, message: error.message))
    } else {
      Terminal.printError("portctl: \(TerminalText.escape(error.message))")
    }
    return ExitCode(ExitStatus.systemError)
  }
}
