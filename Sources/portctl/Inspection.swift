import ArgumentParser
import PortKit

/// Runs a query on the platform's backend; a failure prints its message (or a JSON error
/// document) and ends the command with exit status 2.
enum Inspection {
  static func report(
    for query: SocketQuery, command: String, output: OutputOptions, backend: Backend = .automatic
  ) async throws -> PortReport {
    do {
      let source = try SystemSources.source(backend)
      let snapshot = try await source.snapshot(for: query)
      return PortInspector.report(from: snapshot, query: query)
    } catch {
      throw fail(error, command: command, output: output)
    }
  }

  /// The same for `list`: the sockets in order, joined with their holders as they are read.
  static func listing(
    for query: SocketQuery, command: String, output: OutputOptions, backend: Backend = .automatic
  ) async throws -> SocketListing {
    do {
      let source = try SystemSources.source(backend)
      return SocketListing(snapshot: try await source.snapshot(for: query), query: query)
    } catch {
      throw fail(error, command: command, output: output)
    }
  }

  /// `check`'s diagnosis for every port of `specs` (each with a protocol).
  static func checks(
    for specs: [PortSpec], command: String, output: OutputOptions, backend: Backend, server: ServerBind = .typical
  ) async throws -> [BindCheck] {
    let protocols = Set(specs.compactMap(\.proto))
    let query = SocketQuery(specs: specs, protocols: protocols, listenersOnly: false)
    let report = try await report(for: query, command: command, output: output, backend: backend)
    let source = try? SystemSources.source(backend)
    let probe = (try? SystemSources.binder()).map { BindProbe(binder: $0) }
    let privileges =
      await source?.bindPrivileges() ?? BindPrivileges(unprivilegedPortStart: nil, mayBindPrivileged: true, reason: nil)
    var reservations: [TransportProtocol: PortReservations] = [:]
    for proto in protocols {
      reservations[proto] = await source?.reservations(for: proto) ?? PortReservations(proto: proto)
    }
    var checks: [BindCheck] = []
    for spec in specs {
      guard let proto = spec.proto else { continue }
      for port in spec.ports {
        let result = probe?.probe(port: port, proto: proto, addresses: [], only: BindCheck.addresses(for: spec.address))
        checks.append(
          BindCheck.diagnose(
            proto: proto, port: port, address: spec.address, probe: result, report: report, privileges: privileges,
            reservations: reservations[proto] ?? PortReservations(proto: proto), server: server))
      }
    }
    return checks
  }

  /// Ancestry and managers of every holder.
  static func provenance(for report: PortReport, backend: Backend) async -> [PID: Provenance] {
    guard let source = try? SystemSources.source(backend) else { return [:] }
    return await ProvenanceReader(source: source, runner: SubprocessRunner()).provenance(for: report)
  }

  /// Excluded port ranges (Windows) that overlap the asked specs.
  static func exclusions(for specs: [PortSpec], protocols: Set<TransportProtocol>, backend: Backend) async
    -> [ExcludedPortHit]
  {
    guard let source = try? SystemSources.source(backend) else { return [] }
    var hits: [ExcludedPortHit] = []
    for proto in TransportProtocol.allCases where protocols.contains(proto) {
      guard specs.contains(where: { $0.proto == nil || $0.proto == proto }) else { continue }
      hits += ExcludedPortHit.hits(specs, in: await source.reservations(for: proto))
    }
    return hits
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
