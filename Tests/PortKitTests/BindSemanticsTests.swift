import Testing

@testable import PortKit

/// BSD's bind rules (macOS): a probe's SO_REUSEADDR wildcard bind succeeds beside a same-user
/// listener on a specific address, which keeps that address's connections. The probe alone
/// would call the port free; the socket table says otherwise.
@Suite struct BindSemanticsTests {
  let open = BindPrivileges(unprivilegedPortStart: 1024, mayBindPrivileged: true, reason: "root")

  /// node (pid 42) listening on 127.0.0.1:`port`.
  func loopbackListener(_ port: UInt16) -> SocketEntry {
    SocketEntry(proto: .tcp, local: Endpoint(address: .loopbackV4, port: port), state: .listen, uid: 501, id: 9)
  }

  func report(_ port: UInt16) -> PortReport {
    PortReport(
      sockets: [
        SocketReport(
          socket: loopbackListener(port),
          owner: .processes([HolderProcess(process: ProcessRecord(pid: 42, ppid: 1, name: "node"), fds: [3])]))
      ], takenAt: 0, effectiveUID: 501)
  }

  /// Both wildcard binds worked, as they do on macOS beside the loopback listener.
  func bsdProbe(_ port: UInt16) -> BindProbe.Result {
    BindProbe.Result(port: port, proto: .tcp, outcomes: [.anyV4: .bindable, .anyV6: .bindable], plainBindable: true)
  }

  @Test func eachPlatformHasItsRules() {
    #expect(HostPlatform.linux.bindSemantics == .linux)
    #expect(HostPlatform.windows.bindSemantics == .windows)
    #expect(HostPlatform.macOS.bindSemantics == .bsd)
    #expect(BindSemantics.allCases.filter(\.probeNeedsTable) == [.bsd])
  }

  @Test func onBSDAListenerInTheTableOutweighsABindThatWorked() {
    let check = BindCheck.diagnose(
      proto: .tcp, port: 3000, address: nil, probe: bsdProbe(3000), report: report(3000), privileges: open,
      reservations: PortReservations(proto: .tcp), platform: .macOS)
    #expect(!check.bindable)
    #expect(check.reasons.map(\.code) == [.held])
    #expect(check.reasons.first?.pids == [42])
    #expect(check.reasons.first?.message.contains("node (pid 42)") == true)
  }

  @Test func onLinuxTheProbeDecides() {
    // The same numbers on Linux: there a bind that works proves the port free (the listener
    // would have refused it), so the table does not overrule it.
    let check = BindCheck.diagnose(
      proto: .tcp, port: 3000, address: nil, probe: bsdProbe(3000), report: report(3000), privileges: open,
      reservations: PortReservations(proto: .tcp), platform: .linux)
    #expect(check.bindable)
    #expect(check.reasons.isEmpty)
  }

  @Test func onBSDAnotherSpecificAddressIsStillFree() throws {
    let other = try #require(IPAddress("192.168.1.5"))
    let check = BindCheck.diagnose(
      proto: .tcp, port: 3000, address: other,
      probe: BindProbe.Result(port: 3000, proto: .tcp, outcomes: [other: .bindable], plainBindable: true),
      report: report(3000), privileges: open, reservations: PortReservations(proto: .tcp), platform: .macOS)
    #expect(check.bindable)
  }

  /// Every bind works: the BSD probe beside the loopback listener.
  struct AlwaysBinds: PortBinder {
    func tryBind(_ endpoint: Endpoint, proto: TransportProtocol, reuseAddress: Bool) -> BindOutcome { .bindable }
  }

  struct TableSource: SystemSource {
    var sockets: [SocketEntry]
    func snapshot(for query: SocketQuery) async throws(PortKitError) -> SystemSnapshot {
      SystemSnapshot(
        sockets: sockets.filter(query.matches), references: [9: [SocketReference(pid: 42, fds: [3])]],
        processes: [42: ProcessRecord(pid: 42, ppid: 1, name: "node")], effectiveUID: 0, takenAt: 0)
    }
  }

  @Test func waitForFreeOnBSDKeepsWaitingWhileTheListenerIsThere() async throws {
    let spec = try #require(try PortSpec.parseList("3000").first)
    let held = PortWaiter(
      source: TableSource(sockets: [loopbackListener(3000)]), probe: BindProbe(binder: AlwaysBinds()),
      semantics: .bsd)
    let outcome = try await held.wait(for: [spec], until: .free, timeout: .milliseconds(60))
    #expect(!outcome.met)
    let gone = PortWaiter(source: TableSource(sockets: []), probe: BindProbe(binder: AlwaysBinds()), semantics: .bsd)
    #expect(try await gone.wait(for: [spec], until: .free, timeout: .seconds(5)).met)
    let linux = PortWaiter(
      source: TableSource(sockets: [loopbackListener(3000)]), probe: BindProbe(binder: AlwaysBinds()),
      semantics: .linux)
    #expect(try await linux.wait(for: [spec], until: .free, timeout: .seconds(5)).met)
  }
}
