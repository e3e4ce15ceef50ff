/// Whether a server could bind a port now, and every reason it could not: `check` as one
/// library call.
public struct BindDiagnosis: Sendable {
  /// The machine probed.
  public var system: System

  /// A diagnosis on `system`.
  public init(system: System) {
    self.system = system
  }

  /// One diagnosis per port of `specs`, each probed with a real bind where the platform
  /// has one. A spec without a protocol is checked as TCP. `server` says how the failing
  /// server binds (SO_REUSEADDR or not, privileged or not), where known.
  public func checks(for specs: [PortSpec], server: ServerBind = .typical) async throws(PortKitError) -> [BindCheck] {
    let specs = specs.map { spec -> PortSpec in
      var spec = spec
      if spec.proto == nil { spec.proto = .tcp }
      return spec
    }
    let protocols = Set(specs.compactMap(\.proto))
    let query = SocketQuery(specs: specs, protocols: protocols, listenersOnly: false)
    let report = PortInspector.report(from: try await system.source.snapshot(for: query), query: query)
    let probe = system.binder.map { BindProbe(binder: $0) }
    let privileges = await system.source.bindPrivileges()
    var reservations: [TransportProtocol: PortReservations] = [:]
    for proto in protocols {
      reservations[proto] = await system.source.reservations(for: proto)
    }
    var checks: [BindCheck] = []
    for spec in specs {
      guard let proto = spec.proto else { continue }
      for port in spec.ports {
        let result = probe?.probe(port: port, proto: proto, addresses: [], only: BindCheck.addresses(for: spec.address))
        checks.append(
          BindCheck.diagnose(
            proto: proto, port: port, address: spec.address, probe: result, report: report, privileges: privileges,
            reservations: reservations[proto] ?? PortReservations(proto: proto), server: server,
            platform: system.host.platform))
      }
    }
    return checks
  }
}
