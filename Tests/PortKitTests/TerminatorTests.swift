import Testing

@testable import PortKit

/// A process table the test controls: which pids exist with which start times, how each
/// reacts to signals, and a log of every signal that was actually delivered.
final class FakeProcessControl: ProcessControl, @unchecked Sendable {
  struct Entry {
    var startTicks: UInt64
    /// Signals (by name) that make it exit at once.
    var exitsOn: Set<String> = ["TERM", "KILL"]
    var permitted = true
    /// Exits as soon as this process does (a worker following its master).
    var exitsWith: PID? = nil
  }

  private let state: Locked<(table: [PID: Entry], delivered: [(PID, String)])>
  /// Runs after `acquire` and before the first signal: lets a test reuse a pid in between.
  let beforeSignal: @Sendable (FakeProcessControl) -> Void

  init(_ table: [PID: Entry], beforeSignal: @escaping @Sendable (FakeProcessControl) -> Void = { _ in }) {
    state = Locked((table, []))
    self.beforeSignal = beforeSignal
  }

  var delivered: [(PID, String)] { state.withLock { $0.delivered } }

  func replace(_ pid: PID, with entry: Entry?) {
    state.withLock { $0.table[pid] = entry }
  }

  func acquire(_ record: ProcessRecord) async -> AcquireResult {
    state.withLock { state in
      guard let entry = state.table[record.pid] else { return .gone }
      return entry.startTicks == record.startTicks
        ? .acquired(ProcessHandle(pid: record.pid, descriptor: 100)) : .replaced
    }
  }

  private var pendingHook = true

  func isSameProcess(_ handle: ProcessHandle, as record: ProcessRecord) async -> Bool {
    if pendingHook {
      pendingHook = false
      beforeSignal(self)
    }
    return state.withLock { $0.table[handle.pid]?.startTicks == record.startTicks }
  }

  func signal(_ handle: ProcessHandle, _ signal: Signal) async -> SignalResult {
    state.withLock { state in
      guard let entry = state.table[handle.pid] else { return .gone }
      guard entry.permitted else { return .notPermitted }
      state.delivered.append((handle.pid, signal.name))
      if entry.exitsOn.contains(signal.name) {
        state.table[handle.pid] = nil
        for (pid, other) in state.table where other.exitsWith == handle.pid { state.table[pid] = nil }
      }
      return .sent
    }
  }

  func waitForExit(_ handles: [ProcessHandle], timeout: Duration) async -> [PID: Double] {
    state.withLock { state in
      var exited: [PID: Double] = [:]
      for handle in handles where state.table[handle.pid] == nil { exited[handle.pid] = 0.001 }
      return exited
    }
  }

  func release(_ handle: ProcessHandle) async {}
  func selfAndAncestors() async -> [PID] { [500, 400, 1] }
}

@Suite struct TerminatorTests {
  private func record(_ pid: PID, ticks: UInt64) -> ProcessRecord {
    ProcessRecord(pid: pid, ppid: 1, uid: 1000, name: "server", startTicks: ticks)
  }

  @Test func pidReusedBeforePinningIsNeverSignalled() async {
    // Found with start time 100; by the time it is pinned, pid 42 is another process.
    let control = FakeProcessControl([42: .init(startTicks: 999)])
    let results = await Terminator(control: control).terminate([record(42, ticks: 100)], request: TerminationRequest())
    #expect(results.map(\.outcome) == [.replaced])
    #expect(control.delivered.isEmpty)
  }

  @Test func pidReusedBetweenPinningAndSignallingIsNeverSignalled() async {
    let control = FakeProcessControl([42: .init(startTicks: 100), 43: .init(startTicks: 7)]) { control in
      control.replace(42, with: .init(startTicks: 555))
    }
    let results = await Terminator(control: control).terminate(
      [record(42, ticks: 100), record(43, ticks: 7)], request: TerminationRequest())
    #expect(results.map(\.outcome) == [.alreadyGone, .exited(after: .terminate, seconds: 0.001)])
    #expect(control.delivered.map(\.0) == [43])
  }

  @Test func gracefulThenKillForSurvivors() async {
    let control = FakeProcessControl([
      10: .init(startTicks: 1), 11: .init(startTicks: 2, exitsOn: ["KILL"]),
    ])
    let results = await Terminator(control: control).terminate(
      [record(10, ticks: 1), record(11, ticks: 2)], request: TerminationRequest(timeout: .milliseconds(300)))
    #expect(results[0].outcome == .exited(after: .terminate, seconds: 0.001))
    #expect(results[0].signalsSent == [.terminate])
    #expect(results[1].outcome == .killed(seconds: 0.301))
    #expect(results[1].signalsSent == [.terminate, .kill])
    #expect(control.delivered.map { "\($0.0):\($0.1)" } == ["10:TERM", "11:TERM", "11:KILL"])
  }

  @Test func forceSendsOnlyKill() async {
    let control = FakeProcessControl([10: .init(startTicks: 1)])
    let results = await Terminator(control: control).terminate(
      [record(10, ticks: 1)], request: TerminationRequest(force: true))
    #expect(results[0].outcome == .killed(seconds: 0.001))
    #expect(control.delivered.map(\.1) == ["KILL"])
  }

  @Test func customSignalAndOutcomes() async {
    let control = FakeProcessControl([
      10: .init(startTicks: 1, exitsOn: ["INT"]), 11: .init(startTicks: 2, permitted: false),
      12: .init(startTicks: 3, exitsOn: []),
    ])
    let results = await Terminator(control: control).terminate(
      [record(10, ticks: 1), record(11, ticks: 2), record(12, ticks: 3), record(13, ticks: 4)],
      request: TerminationRequest(signal: .interrupt, timeout: .milliseconds(10)))
    #expect(
      results.map(\.outcome) == [
        .exited(after: .interrupt, seconds: 0.001), .notPermitted, .survived, .alreadyGone,
      ])
    #expect(results[2].signalsSent == [.interrupt, .kill])
    #expect(!results[1].outcome.isGone)
  }
}

@Suite struct TerminationPlanTests {
  private func holder(_ pid: PID, _ ppid: PID, sharesWith: PID? = nil, kernel: Bool = false) -> HolderProcess {
    HolderProcess(
      process: ProcessRecord(pid: pid, ppid: ppid, name: "p\(pid)", isKernelThread: kernel), fds: [3],
      sharesWith: sharesWith)
  }
  private func socket(_ port: UInt16, id: UInt64, proto: TransportProtocol = .tcp) -> SocketEntry {
    SocketEntry(
      proto: proto, local: Endpoint(address: .anyV4, port: port), state: proto == .tcp ? .listen : .unconnected, id: id)
  }

  @Test func everyHolderOnceParentsFirstWithTheirSockets() {
    let report = PortReport(
      sockets: [
        SocketReport(
          socket: socket(3000, id: 1), owner: .processes([holder(10, 1), holder(11, 10, sharesWith: 10)])),
        SocketReport(socket: socket(3000, id: 2, proto: .udp), owner: .processes([holder(10, 1)])),
      ], takenAt: 0, effectiveUID: 0)
    let plan = TerminationPlan.make(from: report, protection: ProcessProtection(selfPID: 500, ancestors: [400]))
    #expect(plan.targets.map(\.process.pid) == [10, 11])
    #expect(plan.targets[0].sockets.map(\.id) == [1, 2])
    #expect(plan.targets[1].sharesWith == 10)
    #expect(plan.isUnobstructed)
  }

  @Test func protectedProcessesAreRefused() {
    let report = PortReport(
      sockets: [
        SocketReport(
          socket: socket(1, id: 1),
          owner: .processes([
            holder(1, 0), holder(2, 0, kernel: true), holder(400, 1), holder(500, 400), holder(600, 1),
          ]))
      ], takenAt: 0, effectiveUID: 0)
    let plan = TerminationPlan.make(from: report, protection: ProcessProtection(chain: [500, 400, 1]))
    #expect(plan.targets.map(\.process.pid) == [600])
    #expect(plan.protected.map(\.process.pid) == [1, 2, 400, 500])
    #expect(plan.protected[0].reason.contains("init"))
    #expect(plan.protected[1].reason.contains("kernel thread"))
    #expect(plan.protected[2].reason.contains("ancestor of portctl"))
    #expect(plan.protected[3].reason == "it is portctl itself")
    #expect(!plan.isUnobstructed)
  }

  @Test func hiddenAndKernelSocketsAreNotTargets() {
    let hidden = HiddenOwner(uid: 0, user: "root", reason: .needsPrivilege)
    let report = PortReport(
      sockets: [
        SocketReport(socket: socket(80, id: 5), owner: .hidden(hidden)),
        SocketReport(socket: socket(2049, id: 0), owner: .kernel),
      ], takenAt: 0, effectiveUID: 1000)
    let plan = TerminationPlan.make(from: report, protection: ProcessProtection(chain: [500]))
    #expect(plan.targets.isEmpty)
    #expect(plan.hidden.map(\.socket.local.port) == [80])
    #expect(plan.kernelHeld.map(\.socket.local.port) == [2049])
  }
}

@Suite struct BindProbeTests {
  struct FakeBinder: PortBinder {
    var outcomes: [String: BindOutcome]
    func tryBind(_ endpoint: Endpoint, proto: TransportProtocol, reuseAddress: Bool) -> BindOutcome {
      outcomes["\(endpoint.address)/\(reuseAddress)"] ?? .bindable
    }
  }

  @Test func timeWaitBlocksOnlyThePlainBind() {
    let probe = BindProbe(binder: FakeBinder(outcomes: ["0.0.0.0/false": .inUse]))
    let result = probe.probe(port: 3000, proto: .tcp)
    #expect(result.isBindable)
    #expect(!result.plainBindable)
  }

  @Test func missingIPv6DoesNotMakeAPortBusy() {
    let probe = BindProbe(
      binder: FakeBinder(outcomes: ["::/true": .addressUnavailable, "::/false": .addressUnavailable]))
    #expect(probe.probe(port: 3000, proto: .tcp).isBindable)
    let denied = BindProbe(binder: FakeBinder(outcomes: ["0.0.0.0/true": .permissionDenied]))
    #expect(!denied.probe(port: 80, proto: .tcp).isBindable)
    #expect(denied.probe(port: 80, proto: .tcp).isPrivilegeDenied)
    let busy = BindProbe(binder: FakeBinder(outcomes: ["::/false": .inUse]))
    #expect(!busy.probe(port: 53, proto: .udp).isBindable)
  }
}

@Suite struct FreeVerifierTests {
  struct TableSource: SystemSource {
    var sockets: [SocketEntry]
    func snapshot(for query: SocketQuery) async throws(PortKitError) -> SystemSnapshot {
      SystemSnapshot(
        sockets: sockets,
        references: SocketHolders(links: sockets.map { SocketHolders.Link(id: $0.id, pid: 77, fd: -1) }),
        processes: [77: ProcessRecord(pid: 77, ppid: 1, name: "survivor")], effectiveUID: 0, takenAt: 0)
    }
  }

  @Test func withoutABindProbeTheSocketTableDecides() async throws {
    let empty = FreeVerifier(source: TableSource(sockets: []), probe: nil)
    let free = try await empty.verify([.init(proto: .tcp, port: 3000)], ended: [], respawnWindow: .zero)
    #expect(free.map(\.verdict) == [.freeUnprobed])
    #expect(free[0].isFree)
    let listener = SocketEntry(proto: .tcp, local: Endpoint(address: .anyV4, port: 3000), state: .listen, id: 5)
    let busy = FreeVerifier(source: TableSource(sockets: [listener]), probe: nil)
    let held = try await busy.verify([.init(proto: .tcp, port: 3000)], ended: [77], respawnWindow: .zero)
    #expect(held.map(\.verdict) == [.held])
    #expect(held[0].stillHeld.flatMap(\.owner.holders).map(\.process.pid) == [77])
  }

  @Test func aNewHolderIsARespawnWithItsParent() async throws {
    let listener = SocketEntry(proto: .tcp, local: Endpoint(address: .anyV4, port: 3000), state: .listen, id: 5)
    let verifier = FreeVerifier(source: TableSource(sockets: [listener]), probe: nil)
    let results = try await verifier.verify(
      [.init(proto: .tcp, port: 3000)], ended: [10], respawnWindow: .milliseconds(50))
    #expect(results.map(\.verdict) == [.respawned])
    #expect(results[0].respawn?.holders.map(\.process.pid) == [77])
  }
}

@Suite struct PinnedTerminationTests {
  private func record(_ pid: PID, ticks: UInt64) -> ProcessRecord {
    ProcessRecord(pid: pid, ppid: 1, uid: 1000, name: "server", startTicks: ticks)
  }

  /// Pinned when found; right before the signal, 43 no longer holds the port: it is not
  /// signalled and is reported as having let go; 42 still holds it and is ended.
  @Test func targetThatLetGoBeforeTheSignalIsSkipped() async {
    let control = FakeProcessControl([42: .init(startTicks: 1), 43: .init(startTicks: 2)])
    let terminator = Terminator(control: control)
    let pinned = await terminator.pin([record(42, ticks: 1), record(43, ticks: 2)])
    #expect(pinned.pinnedPIDs == [42, 43])
    let results = await terminator.terminate(pinned, request: TerminationRequest(), stillHolding: { _ in [42] })
    #expect(results.map(\.outcome) == [.exited(after: .terminate, seconds: 0.001), .releasedPort])
    #expect(control.delivered.map(\.0) == [42])
    #expect(results[1].signalsSent.isEmpty)
    #expect(results.allSatisfy { $0.outcome.letGoOfPort })
  }

  /// When who holds the port cannot be read again, every pinned target is signalled, as
  /// consented.
  @Test func unknownHoldersSignalEveryTarget() async {
    let control = FakeProcessControl([42: .init(startTicks: 1)])
    let terminator = Terminator(control: control)
    let pinned = await terminator.pin([record(42, ticks: 1)])
    let results = await terminator.terminate(pinned, request: TerminationRequest(), stillHolding: { _ in nil })
    #expect(results.first?.outcome == .exited(after: .terminate, seconds: 0.001))
  }

  /// A pid reused after pinning (between the prompt and the answer) is never signalled.
  @Test func pidReusedAfterPinningIsNotSignalled() async {
    let control = FakeProcessControl([42: .init(startTicks: 1)])
    let terminator = Terminator(control: control)
    let pinned = await terminator.pin([record(42, ticks: 1)])
    control.replace(42, with: .init(startTicks: 9))
    let results = await terminator.terminate(pinned, request: TerminationRequest(), stillHolding: { $0 })
    #expect(control.delivered.isEmpty)
    #expect(results.first?.signalsSent == [])
  }
}

@Suite struct RespawnSupervisorTests {
  private func report(holder: ProcessRecord, parent: ProcessRecord) -> PortReport {
    let socket = SocketEntry(
      proto: .tcp, local: Endpoint(address: .loopbackV4, port: 3000), state: .listen, uid: 1000, id: 9)
    return PortReport(
      sockets: [SocketReport(socket: socket, owner: .processes([HolderProcess(process: holder, fds: [3])]))],
      takenAt: 0, effectiveUID: 1000, parents: [parent.pid: parent])
  }

  /// A new holder whose parent is init (an orphan, or a daemon that double-forked): init is
  /// not named as its supervisor.
  @Test func initIsNeverTheSupervisor() {
    let holder = ProcessRecord(pid: 70, ppid: 1, uid: 1000, name: "server", startTicks: 500)
    let initProcess = ProcessRecord(pid: 1, ppid: 0, uid: 0, name: "systemd")
    let respawn = FreeVerifier.respawn(in: report(holder: holder, parent: initProcess), ended: [60], signalledAt: 400)
    #expect(respawn?.holders.map(\.process.pid) == [70])
    #expect(respawn?.supervisor == nil)
    #expect(respawn?.alreadyRunning == false)
  }

  /// A holder that was running before the first signal took the port over; nothing restarted
  /// it, so its parent (which may only have adopted it) is not named either.
  @Test func holderRunningBeforeTheSignalHasNoSupervisor() {
    let holder = ProcessRecord(pid: 70, ppid: 50, uid: 1000, name: "server", startTicks: 300)
    let parent = ProcessRecord(pid: 50, ppid: 1, uid: 1000, name: "subreaper")
    let respawn = FreeVerifier.respawn(in: report(holder: holder, parent: parent), ended: [60], signalledAt: 400)
    #expect(respawn?.supervisor == nil)
    #expect(respawn?.alreadyRunning == true)
  }

  /// Started after the signal by a live parent: that parent is the likely supervisor.
  @Test func holderStartedAfterTheSignalNamesItsParent() {
    let holder = ProcessRecord(pid: 70, ppid: 50, uid: 1000, name: "server", startTicks: 450)
    let parent = ProcessRecord(pid: 50, ppid: 1, uid: 1000, name: "supervisord")
    let respawn = FreeVerifier.respawn(in: report(holder: holder, parent: parent), ended: [60], signalledAt: 400)
    #expect(respawn?.supervisor?.pid == 50)
    #expect(respawn?.alreadyRunning == false)
  }
}
