/// Waits until ports are free (a real bind works) or until something listens on them,
/// polling with back-off: 10 ms at first, then longer, never more than 100 ms apart.
public struct PortWaiter: Sendable {
  public enum Condition: String, Hashable, Sendable {
    case free, listening
  }

  public var source: any SystemSource
  /// Real binds for `free`; `nil` decides from the socket table.
  public var probe: BindProbe?

  public init(source: any SystemSource, probe: BindProbe?) {
    self.source = source
    self.probe = probe
  }

  /// The last look at the ports, when the wait ended.
  public struct Outcome: Sendable {
    public var met: Bool
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

  public func wait(
    for specs: [PortSpec], until condition: Condition, timeout: Duration,
    progress: @Sendable (Double) -> Void = { _ in }
  ) async -> Outcome {
    let clock = ContinuousClock()
    let start = clock.now
    var delay = Duration.milliseconds(10)
    while true {
      let (met, report) = await check(specs, condition)
      let elapsed = clock.now - start
      if met || elapsed >= timeout {
        // Binds alone decide `free`; read the table once at the end to say what holds it.
        var final = report
        var checks: [BindCheck] = []
        if !met, condition == .free {
          let all = await snapshot(specs, listenersOnly: false)
          final = all
          checks = await diagnose(specs, report: all)
        }
        return Outcome(
          met: met, seconds: elapsed.seconds, report: final ?? PortReport(sockets: [], takenAt: 0, effectiveUID: 0),
          checks: checks)
      }
      progress(elapsed.seconds)
      try? await Task.sleep(for: min(delay, timeout - elapsed))
      delay = min(delay * 2, .milliseconds(100))
    }
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

  func snapshot(_ specs: [PortSpec], listenersOnly: Bool = true) async -> PortReport {
    let query = SocketQuery(specs: specs, listenersOnly: listenersOnly)
    return await (try? source.snapshot(for: query)).map { PortInspector.report(from: $0, query: query) }
      ?? PortReport(sockets: [], takenAt: 0, effectiveUID: 0)
  }

  /// Whether the condition holds, and the socket report when one was read for it.
  func check(_ specs: [PortSpec], _ condition: Condition) async -> (Bool, PortReport?) {
    switch condition {
    case .listening:
      let report = await snapshot(specs)
      let met = specs.allSatisfy { spec in
        spec.ports.allSatisfy { port in
          report.sockets.contains { $0.socket.local.port == port && spec.matches($0.socket) && $0.owner.holdsPort }
        }
      }
      return (met, report)
    case .free:
      guard let probe else {
        let report = await snapshot(specs)
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
      return (met, nil)
    }
  }
}
