/// The reads ``PortFreeing`` makes besides the first report, and what it derives from them:
/// a failed read is an error, never an empty table.
struct FreeingReads: Sendable {
  var source: any SystemSource
  var query: SocketQuery
  var protection: ProcessProtection

  /// With connections asked for (`--all`): this host's listeners on the ports the report's
  /// connections lead to, so that a connection made to one of them counts as a client, not
  /// a target.
  func peerListeners(of report: PortReport) async throws(PortKitError) -> [SocketEntry] {
    guard !query.listenersOnly else { return [] }
    var ports: [TransportProtocol: Set<UInt16>] = [:]
    for entry in report.sockets where !entry.socket.isListener && entry.owner.holdsPort {
      if let remote = entry.socket.remote { ports[entry.socket.proto, default: []].insert(remote.port) }
    }
    guard !ports.isEmpty else { return [] }
    let specs = ports.flatMap { proto, ports in ports.map { PortSpec(ports: $0...$0, proto: proto) } }
    let peers = SocketQuery(specs: specs, protocols: Set(ports.keys), listenersOnly: true, detail: .summary)
    let snapshot: SystemSnapshot
    do {
      snapshot = try await source.snapshot(for: peers)
    } catch {
      throw PortKitError(
        error.code,
        "Could not read the listeners the connections lead to, so clients cannot be told from the port's own connections; nothing was signalled. \(error.message)",
        errno: error.errno)
    }
    return snapshot.sockets.filter { $0.isListener && peers.matches($0) }
  }

  /// The pids that would be targets now: the holders of the asked sockets, read again.
  func currentTargets(peerListeners: [SocketEntry]) async throws(PortKitError) -> Set<PID> {
    let snapshot: SystemSnapshot
    do {
      snapshot = try await source.snapshot(for: query)
    } catch {
      throw PortKitError(
        error.code,
        "Could not read again who holds the port right before signalling, so nothing was signalled. \(error.message)",
        errno: error.errno)
    }
    let plan = TerminationPlan.make(
      from: PortInspector.report(from: snapshot, query: query), protection: protection,
      peerListeners: peerListeners)
    return Set(plan.targets.map(\.process.pid))
  }

  /// Fills each group's blast radius: the listeners its processes hold besides the asked
  /// ones, and the processes that go with it (the server's other workers, the children of
  /// its processes). A failed read leaves them unknown (`nil`), never empty.
  func blastRadius(of plan: inout TerminationPlan) async {
    let everyListener = SocketQuery(specs: nil, protocols: [.tcp, .udp], listenersOnly: true, detail: .summary)
    let listeners: [SocketReport]? =
      if let snapshot = try? await source.snapshot(for: everyListener) {
        PortInspector.report(from: snapshot, query: everyListener).sockets
      } else {
        nil
      }
    let targets = Set(plan.targets.map(\.process.pid))
    for index in plan.groups.indices {
      let group = plan.groups[index]
      let pids = Set(group.processes.map(\.pid))
      if let listeners {
        plan.groups[index].otherListeners = listeners.filter { entry in
          !query.matches(entry.socket) && entry.owner.holders.contains { pids.contains($0.process.pid) }
        }.map(\.socket)
      }
      var children: [ProcessRecord] = []
      var seen = targets
      for worker in group.server?.workers ?? [] where !seen.contains(worker.pid) {
        seen.insert(worker.pid)
        children.append(worker)
      }
      for process in group.processes {
        for child in await source.children(of: process.pid, limit: 64) where !seen.contains(child.pid) {
          seen.insert(child.pid)
          children.append(child)
        }
      }
      plan.groups[index].children = children
    }
  }

  /// The ports to prove: every port a target held, with the addresses it held there; and,
  /// for single-port specs that nothing visible held, the port itself.
  static func items(plan: TerminationPlan, report: PortReport, specs: [PortSpec], protocols: Set<TransportProtocol>)
    -> [FreeVerifier.Item]
  {
    var items: [FreeVerifier.Item] = []
    func add(_ proto: TransportProtocol, _ port: UInt16, _ address: IPAddress?) {
      if let index = items.firstIndex(where: { $0.proto == proto && $0.port == port }) {
        if let address, !items[index].addresses.contains(address) { items[index].addresses.append(address) }
      } else {
        items.append(FreeVerifier.Item(proto: proto, port: port, addresses: address.map { [$0] } ?? []))
      }
    }
    for socket in plan.targets.flatMap(\.sockets) where socket.isListener {
      add(socket.proto, socket.local.port, socket.local.address)
    }
    for socket in report.sockets.map(\.socket) where !socket.isListener {
      add(socket.proto, socket.local.port, nil)
    }
    for spec in specs where spec.ports.count == 1 {
      let port = spec.ports.lowerBound
      // A port whose holders were found is proved for their protocols only.
      if spec.proto == nil, items.contains(where: { $0.port == port }) { continue }
      let wanted = spec.proto.map { [$0] } ?? TransportProtocol.allCases
      for proto in wanted where protocols.contains(proto) { add(proto, port, spec.address) }
    }
    return items.sorted { ($0.port, $0.proto) < ($1.port, $1.proto) }
  }
}
