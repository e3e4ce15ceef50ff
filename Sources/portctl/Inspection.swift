import ArgumentParser
import PortKit

/// Runs a query on the platform's backend; a failure prints its message (or a JSON error
/// document) and ends the command with exit status 2.
enum Inspection {
  static func report(for query: SocketQuery, command: String, output: OutputOptions) throws -> PortReport {
    do {
      let source = try SystemSources.platformDefault()
      let snapshot = try source.snapshot(for: query)
      return PortInspector.report(from: snapshot, query: query)
    } catch {
      if output.json {
        JSONOutput.emit(
          ErrorDocument(
            command: command, exitCode: ExitStatus.systemError, code: error.code.rawValue, message: error.message))
      } else {
        Terminal.printError("portctl: \(error.message)")
      }
      throw ExitCode(ExitStatus.systemError)
    }
  }
}
