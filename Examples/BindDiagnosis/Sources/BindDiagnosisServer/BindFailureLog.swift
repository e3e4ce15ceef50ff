import Logging
import NIOCore
import PortKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Asks PortKit why a port could not be bound, and logs the answer.
struct BindFailureLog {
  // Qualified: NIOCore has a `System` too.
  var system: PortKit.System
  var hostname: String
  var port: UInt16
  var logger: Logger

  /// True for the errors a failed bind gives: taken, not allowed, not an address of this host.
  static func isBindFailure(_ error: IOError) -> Bool {
    [EADDRINUSE, EACCES, EADDRNOTAVAIL].contains(error.errnoCode)
  }

  /// The port on the asked address when that is an IP address; otherwise on the addresses
  /// a typical server binds (0.0.0.0 and [::]).
  var spec: PortSpec {
    PortSpec(ports: port...port, proto: .tcp, address: IPAddress(hostname), text: "\(port)")
  }

  /// Logs who holds the port (pid, name, command), what manages each holder and how to
  /// stop it, and PortKit's reasons, each with its fix.
  func logDiagnosis() async {
    let check: BindCheck?
    let inspection: PortInspection.Result
    do {
      check = try await BindDiagnosis(system: system).checks(for: [spec]).first
      inspection = try await PortInspection(system: system).inspect(
        [spec], protocols: [.tcp], listenersOnly: false, exclusions: false)
    } catch {
      logger.error("PortKit could not inspect the system: \(error.message)")
      return
    }
    guard let check, !check.bindable else {
      logger.notice("PortKit can bind port \(port) now: whatever held it is gone; start again.")
      return
    }
    let holders = inspection.report.sockets.flatMap(\.owner.holders).map(\.process)
    var logged: Set<PID> = []
    for pid in check.reasons.flatMap(\.pids) where logged.insert(pid).inserted {
      guard let process = holders.first(where: { $0.pid == pid }) else { continue }
      // Names and command lines are chosen by other processes: escaped before they reach the log.
      logger.error(
        "Held by pid \(pid) (\(TerminalText.escape(process.name))), command: \(TerminalText.escape(process.displayCommand))"
      )
      if let manager = inspection.provenance[pid]?.managers.first {
        logger.error(
          "pid \(pid) is managed by \(manager.kind) \(TerminalText.escape(manager.name)): \(TerminalText.escape(manager.detail)); stop it with: \(TerminalText.escape(manager.stop))"
        )
      } else {
        logger.error("pid \(pid): PortKit found no process manager (systemd, Docker, supervisord, tmux…) behind it.")
      }
    }
    for reason in check.reasons {
      logger.error("Fix (\(reason.code)): \(TerminalText.escape(reason.fullMessage))")
    }
    for note in check.notes {
      logger.notice("Note (\(note.code)): \(TerminalText.escape(note.message))")
    }
  }

  /// A port a server can bind now on the same address, from PortKit's finder: upwards from
  /// the asked port, outside the ephemeral range and well-known service ports.
  func freePort() async -> UInt16? {
    guard let binder = system.binder else { return nil }
    let privileges = await system.source.bindPrivileges()
    let finder = PortFinder(
      probe: BindProbe(binder: binder), reservations: await system.source.reservations(for: .tcp),
      privileges: privileges)
    let lowest: UInt16 = privileges.mayBindPrivileged ? 1024 : max(1024, privileges.unprivilegedPortStart ?? 1024)
    let request = PortFinder.Request(
      range: lowest...65535, from: port < UInt16.max ? max(port + 1, lowest) : lowest, host: spec.address)
    return finder.find(request).ports.first
  }
}
