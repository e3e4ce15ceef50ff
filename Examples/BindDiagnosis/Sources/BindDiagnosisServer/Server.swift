import ArgumentParser
import Hummingbird
import Logging
import NIOCore
import PortKit

/// A Hummingbird server that, when it cannot bind its port, logs why (PortKit's diagnosis:
/// who holds the port, what manages it, the fix) and, with `--fallback`, starts on a free
/// port instead.
@main
struct Server: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "BindDiagnosisServer")

  @Option(name: .shortAndLong, help: "The address to bind.") var hostname = "127.0.0.1"
  @Option(name: .shortAndLong, help: "The port to bind.") var port = 8080
  @Flag(help: "When the port is taken, start on a free port that PortKit finds.") var fallback = false

  func validate() throws {
    if !(1...65535).contains(port) { throw ValidationError("--port takes 1 to 65535, not \(port)") }
  }

  func run() async throws {
    let logger = Logger(label: "BindDiagnosis")
    do {
      try await serve(port: port, logger: logger)
    } catch let error as IOError where BindFailureLog.isBindFailure(error) {
      logger.error("Cannot bind \(hostname):\(port): \(error). PortKit's diagnosis follows.")
      // Qualified: NIOCore has a `System` too.
      let system: PortKit.System
      do {
        system = try PortKit.System.make()
      } catch {
        logger.error("PortKit cannot read this system: \(error.message)")
        throw ExitCode.failure
      }
      let diagnosis = BindFailureLog(system: system, hostname: hostname, port: UInt16(port), logger: logger)
      await diagnosis.logDiagnosis()
      guard fallback else { throw ExitCode.failure }
      guard let free = await diagnosis.freePort() else {
        logger.error("PortKit's finder found no free port to fall back to.")
        throw ExitCode.failure
      }
      logger.notice("Falling back: starting on free port \(free) (found by PortKit's PortFinder) instead of \(port).")
      try await serve(port: Int(free), logger: logger)
    }
  }

  /// Runs the server on `port` until it is stopped (SIGINT, SIGTERM); a bind failure is thrown.
  func serve(port: Int, logger: Logger) async throws {
    let router = Router()
    router.get("/") { _, _ in "Hello from port \(port).\n" }
    let app = Application(
      router: router,
      configuration: ApplicationConfiguration(address: .hostname(hostname, port: port)),
      logger: logger)
    try await app.runService()
  }
}
