/// Waits until ports are free (a real bind works) or until something listens on them,
/// polling with back-off: 10 ms at first, then longer, never more than 100 ms apart.
/// ``PortWaiting`` runs it on a ``System``.
public struct PortWaiter: Sendable {
  /// What to wait for.
  public enum Condition: String, Hashable, Sendable {
    /// A real bind works on every asked port.
    case free
    /// A socket listens on every asked port.
    case listening
  }

  /// Where the sockets are read.
  public var source: any SystemSource
  /// Real binds for `free`; `nil` decides from the socket table.
  public var probe: BindProbe?
  /// The host's bind rules: where a probe that binds does not prove a port free (BSD), the
  /// socket table confirms it.
  public var semantics: BindSemantics

  /// A waiter reading `source` and, for `free`, binding through `probe` under `semantics`.
  public init(
    source: any SystemSource, probe: BindProbe?, semantics: BindSemantics = HostPlatform.current.bindSemantics
  ) {
    self.source = source
    self.probe = probe
    self.semantics = semantics
  }

  /// The last look at the ports, when the wait ended.
  public struct Outcome: Sendable {
    /// The condition held before the timeout.
    public var met: Bool
    /// How long the wait took.
    public var seconds: Double
    /// The sockets on the ports at the end (what still holds them, on a timeout; for `free`
    /// every state, TIME_WAIT and connections included).
    public var report: PortReport
    /// On a `free` timeout: `check`'s diagnosis of each port that still cannot be bound (at
    /// most `maximumChecks`), saying what blocks it.
    public var checks: [BindCheck] = []
  }

  /// The most ports diagnosed after a `free` timeout.
  public static let maximumChecks = 64

  /// Waits until `condition` holds on every port of `specs`, or `timeout` passes.
  /// `progress` hears the seconds waited so far between checks.
  ///
  /// A socket table that cannot be read is an error, never an empty (free) port; a
  /// cancelled task ends the wait at once with a ``PortKitError/Code/cancelled`` error.
  public func wait(
    for specs: [PortSpec], until condition: Condition, timeout: Duration,
    progress: @Sendable (Double) -> Void = { _ in }
  ) async throws(PortKitError) -> Outcome {
    let clock = ContinuousClock()
    let start = clock.now
    var delay = Duration.milliseconds(10)
    while true {
      try Self.checkCancellation()
      let (met, report) = try await check(specs, condition)
      let elapsed = clock.now - start
      if met || elapsed >= timeout {
        // Binds alone decide `free`; read the table once at the end to say what holds it.
        var final = report
        var checks: [BindCheck] = []
        if !met, condition == .free {
          let all = try await snapshot(specs, listenersOnly: false)
          final = all
          checks = await diagnose(specs, report: all)
        }
        return Outcome(
          met: met, seconds: elapsed.seconds, report: final ?? PortReport(sockets: [], takenAt: 0, effectiveUID: 0),
          checks: checks)
      }
      progress(elapsed.seconds)
      do {
        try await Task.sleep(for: min(delay, timeout - elapsed))
      } catch {
        throw Self.cancelled
      }
      delay = min(delay * 2, .milliseconds(100))
    }
  }

  static let cancelled = PortKitError(
    .cancelled, "The wait was cancelled before the ports were free or something listened on them.")

  static func checkCancellation() throws(PortKitError) {
    if Task.isCancelled { throw cancelled }
  }

  /// `check`'s answer for each port of `specs` that a bind still refuses.
  func diagnose(_ specs: [PortSpec], report: PortReport) async -> [BindCheck] {
    guard let probe else { return [] }
    let privileges = await source.bindPrivileges()
    var reservations: [TransportProtocol: PortReservations] = [:]
    var checks: [BindCheck] = []
    for spec in specs {
      for port in spec.ports {
        for proto in spec.proto.map({ [$0] }) ?? TransportProtocol.allCases {
          guard checks.count < Self.maximumChecks else { return checks }
          let result = probe.probe(port: port, proto: proto, only: BindCheck.addresses(for: spec.address))
          guard !result.isBindable else { continue }
          if reservations[proto] == nil { reservations[proto] = await source.reservations(for: proto) }
          checks.append(
            BindCheck.diagnose(
              proto: proto, port: port, address: spec.address, probe: result, report: report,
              privileges: privileges, reservations: reservations[proto] ?? PortReservations(proto: proto)))
        }
      }
    }
    return checks
  }

  /// The sockets on `specs`; a failed read is an error (an unread table proves nothing free).
  func snapshot(_ specs: [PortSpec], listenersOnly: Bool = true) async throws(PortKitError) -> PortReport {
    let query = SocketQuery(specs: specs, listenersOnly: listenersOnly)
    return PortInspector.report(from: try await source.snapshot(for: query), query: query)
  }

  /// Whether the condition holds, and the socket report when one was read for it.
  func check(_ specs: [PortSpec], _ condition: Condition) async throws(PortKitError) -> (Bool, PortReport?) {
    switch condition {
    case .listening:
      let report = try await snapshot(specs)
      let met = specs.allSatisfy { spec in
        spec.ports.allSatisfy { port in
          report.sockets.contains { $0.socket.local.port == port && spec.matches($0.socket) && $0.owner.holdsPort }
        }
      }
      return (met, report)
    case .free:
      guard let probe else {
        let report = try await snapshot(specs)
        return (!report.isHeld, report)
      }
      let met = specs.allSatisfy { spec in
        let protocols = spec.proto.map { [$0] } ?? TransportProtocol.allCases
        return spec.ports.allSatisfy { port in
          protocols.allSatisfy { proto in
            probe.probe(port: port, proto: proto, only: BindCheck.addresses(for: spec.address)).isBindable
          }
        }
      }
      guard met, semantics.probeNeedsTable else { return (met, nil) }
      // BSD: a listener on an address the binds cover still holds the port.
      let report = try await snapshot(specs)
      let held = specs.contains { spec in
        report.sockets.contains { entry in
          entry.owner.holdsPort && entry.socket.isListener && spec.ports.contains(entry.socket.local.port)
            && spec.proto.map { $0 == entry.socket.proto } ?? true
            && BindCheck.addresses(for: spec.address).contains { entry.socket.blocksBind(of: $0) }
        }
      }
      return (!held, report)
    }
  }
}
