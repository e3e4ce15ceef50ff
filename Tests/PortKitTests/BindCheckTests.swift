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
}
