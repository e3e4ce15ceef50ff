import Testing

@testable import PortKit

@Suite struct BindCheckTests {
  let open = BindPrivileges(unprivilegedPortStart: 1024, mayBindPrivileged: true, reason: "root")
  let unprivileged = BindPrivileges(unprivilegedPortStart: 600, mayBindPrivileged: false, reason: nil)

  private func probe(_ port: UInt16, _ outcomes: [IPAddress: BindOutcome], plain: Bool = true) -> BindProbe.Result {
    BindProbe.Result(port: port, proto: .tcp, outcomes: outcomes, plainBindable: plain)
  }
  private func report(_ entries: [SocketReport]) -> PortReport {
    PortReport(sockets: entries, takenAt: 0, effectiveUID: 0)
  }
  private func listener(_ address: IPAddress, _ port: UInt16, pid: PID) -> SocketReport {
    SocketReport(
      socket: SocketEntry(proto: .tcp, local: Endpoint(address: address, port: port), state: .listen, id: UInt64(pid)),
      owner: .processes([HolderProcess(process: ProcessRecord(pid: pid, ppid: 1, name: "node"), fds: [3])]))
  }
  private func timeWait(_ port: UInt16, left: Double) -> SocketReport {
    SocketReport(
      socket: SocketEntry(
        proto: .tcp, local: Endpoint(address: .loopbackV4, port: port),
        remote: Endpoint(address: .loopbackV4, port: 50000), state: .timeWait, id: 0,
        timer: SocketTimer(kind: .timeWait, remainingSeconds: left)), owner: .none)
  }

  @Test func dualStackHolderBlocksIPv4WithAnOverlapReason() {
    let check = BindCheck.diagnose(
      proto: .tcp, port: 3000, address: .loopbackV4, probe: probe(3000, [.loopbackV4: .inUse]),
      report: report([listener(.anyV6, 3000, pid: 42)]), privileges: open, reservations: PortReservations(proto: .tcp))
    #expect(!check.bindable)
    #expect(check.reasons.map(\.code) == [.addressOverlap])
    #expect(check.reasons[0].pids == [42])
    #expect(check.reasons[0].message.contains("dual-stack"))
    #expect(check.reasons[0].message.contains("node (pid 42)"))
    // What to do is a remedy a front end words its own way, never a command in the message.
    #expect(check.reasons[0].remedy == .stopHolders(port: 3000))
    #expect(!check.reasons[0].message.contains("portctl"))
    #expect(check.reasons[0].fullMessage.hasSuffix(": \(BindReason.Remedy.stopHolders(port: 3000).advice)"))
  }

  @Test func sameAddressIsHeldAndALoopbackHolderBlocksTheWildcard() {
    let same = BindCheck.diagnose(
      proto: .tcp, port: 3000, address: nil, probe: probe(3000, [.anyV4: .inUse, .anyV6: .bindable]),
      report: report([listener(.anyV4, 3000, pid: 7)]), privileges: open, reservations: PortReservations(proto: .tcp))
    #expect(same.reasons.map(\.code) == [.held])
    let wildcard = BindCheck.diagnose(
      proto: .tcp, port: 3000, address: .anyV4, probe: probe(3000, [.anyV4: .inUse]),
      report: report([listener(.loopbackV4, 3000, pid: 8)]), privileges: open,
      reservations: PortReservations(proto: .tcp))
    #expect(wildcard.reasons.map(\.code) == [.addressOverlap])
    #expect(wildcard.reasons[0].message.contains("a wildcard bind on 0.0.0.0:3000 needs the port on every address"))
  }

  @Test func timeWaitEitherBlocksOrIsANote() {
    let blocked = BindCheck.diagnose(
      proto: .tcp, port: 4000, address: nil, probe: probe(4000, [.anyV4: .inUse, .anyV6: .bindable], plain: false),
      report: report([timeWait(4000, left: 42.3)]), privileges: open, reservations: PortReservations(proto: .tcp))
    #expect(blocked.reasons.map(\.code) == [.timeWait])
    #expect(blocked.reasons[0].message.contains("did not set SO_REUSEADDR"))
    #expect(blocked.reasons[0].message.contains("within 43 s"))
    let note = BindCheck.diagnose(
      proto: .tcp, port: 4000, address: nil, probe: probe(4000, [.anyV4: .bindable, .anyV6: .bindable], plain: false),
      report: report([timeWait(4000, left: 10)]), privileges: open, reservations: PortReservations(proto: .tcp))
    #expect(note.bindable)
    #expect(note.reasons.isEmpty)
    #expect(note.notes.map(\.code) == [.timeWait])
    #expect(note.notes[0].message.contains("can bind now; a plain bind fails"))
  }

  @Test func privilegedPortsNeedRootOrTheCapability() {
    let denied = BindCheck.diagnose(
      proto: .tcp, port: 80, address: nil, probe: probe(80, [.anyV4: .permissionDenied, .anyV6: .permissionDenied]),
      report: report([]), privileges: unprivileged, reservations: PortReservations(proto: .tcp))
    #expect(denied.reasons.map(\.code) == [.privileged])
    #expect(denied.reasons[0].message.contains("ip_unprivileged_port_start = 600"))
    #expect(denied.reasons[0].message.contains("setcap cap_net_bind_service=+ep"))
    let allowed = BindCheck.diagnose(
      proto: .tcp, port: 80, address: nil, probe: probe(80, [.anyV4: .bindable, .anyV6: .bindable]), report: report([]),
      privileges: open, reservations: PortReservations(proto: .tcp))
    #expect(allowed.notes.map(\.code) == [.privilegedAllowed, .wellKnown])
  }

  @Test func excludedRangesMissingAddressesAndTheUnexplained() {
    let windows = PortReservations(proto: .tcp, excluded: [PortRange(ports: 50000...50059, administered: true)])
    let excluded = BindCheck.diagnose(
      proto: .tcp, port: 50010, address: nil, probe: nil, report: report([]), privileges: open, reservations: windows)
    #expect(!excluded.bindable)
    #expect(excluded.reasons.map(\.code) == [.excludedRange])
    #expect(excluded.notes.map(\.code) == [.unprobed])
    let missing = BindCheck.diagnose(
      proto: .tcp, port: 4000, address: IPAddress("10.9.9.9"),
      probe: probe(4000, [IPAddress("10.9.9.9")!: .addressUnavailable]),
      report: report([]), privileges: open, reservations: PortReservations(proto: .tcp))
    #expect(missing.reasons.map(\.code) == [.addressUnavailable])
    let mystery = BindCheck.diagnose(
      proto: .tcp, port: 4001, address: nil, probe: probe(4001, [.anyV4: .inUse, .anyV6: .bindable]),
      report: report([]),
      privileges: open, reservations: PortReservations(proto: .tcp))
    #expect(mystery.reasons.map(\.code) == [.unexplained])
  }

  @Test func linuxRangesAreNotesNotCauses() {
    let linux = PortReservations(
      proto: .tcp, reservedForExplicitBinds: [PortRange(ports: 40001...40001)], ephemeral: 32768...60999)
    let ephemeral = BindCheck.diagnose(
      proto: .tcp, port: 40000, address: nil, probe: probe(40000, [.anyV4: .bindable, .anyV6: .bindable]),
      report: report([]), privileges: open, reservations: linux)
    #expect(ephemeral.bindable)
    #expect(ephemeral.notes.map(\.code) == [.ephemeralRange])
    let reserved = BindCheck.diagnose(
      proto: .tcp, port: 40001, address: nil, probe: probe(40001, [.anyV4: .bindable, .anyV6: .bindable]),
      report: report([]), privileges: open, reservations: linux)
    #expect(reserved.notes.map(\.code) == [.reservedPort])
    // No IPv6 on the machine: the wildcard check still passes on IPv4 alone.
    let v4only = BindCheck.diagnose(
      proto: .tcp, port: 4002, address: nil, probe: probe(4002, [.anyV4: .bindable, .anyV6: .addressUnavailable]),
      report: report([]), privileges: open, reservations: PortReservations(proto: .tcp))
    #expect(v4only.bindable)
  }

  @Test func capabilitiesFromStatus() {
    let status = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t0000000000000400\n"
    #expect(ProcfsParsers.effectiveCapabilities(status: Array(status.utf8)) == 0x400)
    #expect(ProcfsParsers.effectiveCapabilities(status: Array("Name:\tx\n".utf8)) == nil)
  }
  /// Records how each bind was asked for; `busy` answers in use for those (address, v6Only).
  final class RecordingBinder: PortBinder, @unchecked Sendable {
    let ipv6: IPv6Support
    let busy: Set<String>
    private(set) var calls: [String] = []
    init(ipv6: IPv6Support, busy: Set<String> = []) {
      self.ipv6 = ipv6
      self.busy = busy
    }
    func tryBind(_ endpoint: Endpoint, proto: TransportProtocol, reuseAddress: Bool) -> BindOutcome {
      tryBind(endpoint, proto: proto, reuseAddress: reuseAddress, v6Only: true)
    }
    func tryBind(_ endpoint: Endpoint, proto: TransportProtocol, reuseAddress: Bool, v6Only: Bool) -> BindOutcome {
      let key = "\(endpoint.address)/\(v6Only)"
      calls.append(key)
      return busy.contains(key) ? .inUse : .bindable
    }
  }

  @Test func theIPv6WildcardIsProbedAsTheHostBindsIt() {
    // Dual-stack by default: busy as such, free IPv6-only.
    let dual = RecordingBinder(ipv6: .dualStack, busy: ["::/false"])
    let result = BindProbe(binder: dual).probe(port: 3000, proto: .udp, only: [.anyV6])
    #expect(result.outcomes == [.anyV6: .inUse])
    #expect(result.dualStack)
    #expect(result.v6OnlyBindable == true)
    #expect(dual.calls == ["::/false", "::/true"])
    // bindv6only = 1: IPv6-only, as servers there bind it.
    let v6Only = RecordingBinder(ipv6: IPv6Support(available: true, v6OnlyByDefault: true))
    let alone = BindProbe(binder: v6Only).probe(port: 3000, proto: .udp, only: [.anyV6])
    #expect(!alone.dualStack)
    #expect(v6Only.calls == ["::/true"])
    // No IPv6: not applicable, no bind tried; the IPv4 wildcard decides.
    let none = RecordingBinder(ipv6: IPv6Support(available: false, v6OnlyByDefault: false))
    let absent = BindProbe(binder: none).probe(port: 3000, proto: .udp)
    #expect(absent.outcomes == [.anyV4: .bindable, .anyV6: .familyUnsupported])
    #expect(absent.isBindable)
    #expect(none.calls == ["0.0.0.0/false"])
  }

  @Test func anIPv4HolderBlocksADualStackWildcardBind() {
    let result = BindProbe.Result(
      port: 3000, proto: .tcp, outcomes: [.anyV6: .inUse], plainBindable: true, dualStack: true, v6OnlyBindable: true)
    let check = BindCheck.diagnose(
      proto: .tcp, port: 3000, address: .anyV6, probe: result, report: report([listener(.loopbackV4, 3000, pid: 9)]),
      privileges: open, reservations: PortReservations(proto: .tcp))
    #expect(!check.bindable)
    #expect(check.reasons.map(\.code) == [.addressOverlap])
    #expect(check.reasons[0].pids == [9])
    #expect(check.reasons[0].message.contains("a bind on [::]:3000 is dual-stack here"))
    #expect(check.notes.map(\.code).contains(.v6OnlyBindable))
    // Bound IPv6-only by the host's default, the IPv4 holder is no reason.
    let alone = BindProbe.Result(port: 3000, proto: .tcp, outcomes: [.anyV6: .bindable], plainBindable: true)
    let fine = BindCheck.diagnose(
      proto: .tcp, port: 3000, address: .anyV6, probe: alone, report: report([listener(.loopbackV4, 3000, pid: 9)]),
      privileges: open, reservations: PortReservations(proto: .tcp))
    #expect(fine.bindable)
  }

  @Test func aServerThatBindsPlainOrUnprivilegedIsJudgedAsItBinds() {
    // TIME_WAIT that servers with SO_REUSEADDR pass, socat does not.
    let plain = BindCheck.diagnose(
      proto: .tcp, port: 4000, address: nil, probe: probe(4000, [.anyV4: .bindable, .anyV6: .bindable], plain: false),
      report: report([timeWait(4000, left: 12)]), privileges: open, reservations: PortReservations(proto: .tcp),
      server: ServerBind(reuseAddress: false))
    #expect(!plain.bindable)
    #expect(plain.reasons.map(\.code) == [.timeWait])
    #expect(plain.reasons[0].message.contains("the server that failed binds without SO_REUSEADDR"))
    // Root may bind 829; the server that got EACCES may not.
    let root = BindCheck.diagnose(
      proto: .tcp, port: 829, address: nil, probe: probe(829, [.anyV4: .bindable, .anyV6: .bindable]),
      report: report([]), privileges: open, reservations: PortReservations(proto: .tcp),
      server: ServerBind(unprivileged: true))
    #expect(!root.bindable)
    #expect(root.reasons.map(\.code) == [.privileged])
    #expect(!root.notes.map(\.code).contains(.privilegedAllowed))
    // Above the privileged ports an unprivileged server is judged like any other.
    let high = BindCheck.diagnose(
      proto: .tcp, port: 4000, address: nil, probe: probe(4000, [.anyV4: .bindable, .anyV6: .bindable]),
      report: report([]), privileges: open, reservations: PortReservations(proto: .tcp),
      server: ServerBind(unprivileged: true))
    #expect(high.bindable)
  }
  @Test func windowsNamesWSAEACCESOutsideAnExcludedRange() {
    let denied = BindCheck.diagnose(
      proto: .tcp, port: 8080, address: nil, probe: probe(8080, [.anyV4: .permissionDenied, .anyV6: .bindable]),
      report: report([]), privileges: BindPrivileges(unprivilegedPortStart: nil, mayBindPrivileged: true, reason: nil),
      reservations: PortReservations(proto: .tcp), platform: .windows)
    #expect(denied.reasons.map(\.code) == [.permissionDenied])
    #expect(denied.reasons[0].message.contains("WSAEACCES 10013"))
    #expect(denied.reasons[0].message.contains("excludedportrange protocol=tcp"))
    #expect(!denied.reasons[0].message.contains("SELinux"))
  }
}
