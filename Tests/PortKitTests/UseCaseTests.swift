import Testing

@testable import PortKit

/// A socket source the test scripts: a fixed list of sockets, or a read that fails.
private struct ScriptedSource: SystemSource {
  var sockets: [SocketEntry] = []
  var failure: PortKitError?

  func snapshot(for query: SocketQuery) async throws(PortKitError) -> SystemSnapshot {
    if let failure { throw failure }
    return SystemSnapshot(sockets: sockets.filter(query.matches), effectiveUID: 0, takenAt: 0)
  }
}

/// A binder that finds `busy` ports in use and every other port free.
private struct ScriptedBinder: PortBinder {
  var busy: Set<UInt16> = []
  func tryBind(_ endpoint: Endpoint, proto: TransportProtocol, reuseAddress: Bool) -> BindOutcome {
    busy.contains(endpoint.port) ? .inUse : .bindable
  }
}

/// A runner for use cases that must not run anything.
private struct NoProgramsRunner: CommandRunner {
  func run(_ executable: String, _ arguments: [String]) async throws(PortKitError) -> CommandOutput {
    throw PortKitError(.toolMissing, "The test runs no \(executable).")
  }
}

private func fakeSystem(source: any SystemSource, binder: (any PortBinder)?) -> System {
  System(
    backend: .procfs, source: source, control: nil, binder: binder, runner: NoProgramsRunner(),
    host: HostFacts(effectiveUID: 0, now: { 0 }))
}

private let unreadable = PortKitError(.socketTablesUnreadable, "The socket tables could not be read.")

@Suite struct PortWaitingTests {
  /// Waits on its own task, cancels it after 50 ms, and returns what the wait threw and
  /// how long the task took in all.
  func cancelledWait(_ condition: PortWaiter.Condition, system: System) async throws -> (PortKitError?, Duration) {
    let specs = try PortSpec.parseList("4567")
    let clock = ContinuousClock()
    let start = clock.now
    let task = Task { () async throws(PortKitError) -> PortWaiter.Outcome in
      try await PortWaiting(system: system).wait(
        for: specs, until: condition, timeout: .seconds(900))
    }
    try? await Task.sleep(for: .milliseconds(50))
    task.cancel()
    let error: PortKitError?
    switch await task.result {
    case .success: error = nil
    case .failure(let thrown): error = thrown as? PortKitError
    }
    return (error, clock.now - start)
  }

  @Test func cancelledListeningWaitEndsAtOnce() async throws {
    // Nothing ever listens: only the cancellation can end this wait before 900 s.
    let (error, took) = try await cancelledWait(.listening, system: fakeSystem(source: ScriptedSource(), binder: nil))
    #expect(error?.code == .cancelled)
    // A loop that kept polling after the cancel would run the full 900 s. The bound is wide:
    // the end-to-end tests in the same process block the cooperative threads (two on a
    // two-core machine) for tens of seconds at a time, and the cancelled task waits its turn.
    #expect(took < .seconds(300))
  }

  @Test func cancelledFreeWaitEndsAtOnce() async throws {
    let system = fakeSystem(source: ScriptedSource(), binder: ScriptedBinder(busy: [4567]))
    let (error, took) = try await cancelledWait(.free, system: system)
    #expect(error?.code == .cancelled)
    #expect(took < .seconds(300))
  }

  @Test func failedReadIsNeverFree() async {
    // Without bind probes `free` is read from the socket table: a table that cannot be read
    // must not count as an empty, free port.
    let system = fakeSystem(source: ScriptedSource(failure: unreadable), binder: nil)
    await #expect(throws: unreadable) {
      try await PortWaiting(system: system).wait(
        for: try PortSpec.parseList("4567"), until: .free, timeout: .seconds(5))
    }
  }

  @Test func failedReadAfterFreeTimeoutIsAnError() async {
    // Binds say busy until the timeout; the closing read of what holds the port fails.
    let system = fakeSystem(source: ScriptedSource(failure: unreadable), binder: ScriptedBinder(busy: [4567]))
    await #expect(throws: unreadable) {
      try await PortWaiting(system: system).wait(
        for: try PortSpec.parseList("4567"), until: .free, timeout: .milliseconds(30))
    }
  }

  @Test func failedReadWhileWaitingForAListenerIsAnError() async {
    let system = fakeSystem(source: ScriptedSource(failure: unreadable), binder: ScriptedBinder())
    await #expect(throws: unreadable) {
      try await PortWaiting(system: system).wait(
        for: try PortSpec.parseList("4567"), until: .listening, timeout: .seconds(5))
    }
  }

  @Test func listenerEndsTheWait() async throws {
    let listener = SocketEntry(
      proto: .tcp, local: Endpoint(address: .anyV4, port: 4567), state: .listen, uid: 0, id: 7)
    let system = fakeSystem(source: ScriptedSource(sockets: [listener]), binder: nil)
    let outcome = try await PortWaiting(system: system).wait(
      for: try PortSpec.parseList("tcp:4567"), until: .listening, timeout: .seconds(5))
    #expect(outcome.met)
    #expect(outcome.report.sockets.map(\.socket.id) == [7])
  }
}

@Suite struct PortFindingTests {
  @Test func defaultsStartAt3000AboveThePrivilegedPorts() async throws {
    let system = fakeSystem(source: ScriptedSource(), binder: ScriptedBinder(busy: [3000]))
    let found = try await PortFinding(system: system).find(.init(count: 2))
    #expect(found.request.from == 3000)
    #expect(found.request.range == 1024...65535)
    #expect(!found.request.explicitRange)
    #expect(found.ports.count == 2)
    #expect(!found.ports.contains(3000))
    #expect(found.ports.allSatisfy { $0 > 3000 })
    #expect(found.skipped[.busy] == 1)
    #expect(found.isComplete)
  }

  @Test func explicitRangeIsSearchedWhole() async throws {
    let system = fakeSystem(source: ScriptedSource(), binder: ScriptedBinder(busy: [5000, 5002]))
    let found = try await PortFinding(system: system).find(.init(range: 5000...5003, count: 3))
    #expect(found.ports == [5001, 5003])
    #expect(!found.isComplete)
    #expect(found.skipped == [.busy: 2])
  }

  @Test func withoutBindProbesItSaysSo() async {
    let system = fakeSystem(source: ScriptedSource(), binder: nil)
    await #expect(throws: PortKitError(.unsupportedPlatform, "This platform cannot probe binds through portctl yet.")) {
      try await PortFinding(system: system).find(.init())
    }
  }
}

/// A source whose snapshot is given whole.
private struct FixedSnapshotSource: SystemSource {
  var snapshot: SystemSnapshot
  func snapshot(for query: SocketQuery) async throws(PortKitError) -> SystemSnapshot { snapshot }
}

@Suite struct ListFilterTests {
  /// nginx (pid 10, root) on 80 and node (pid 20, uid 1000 "dev") on 3000.
  let system: System = {
    let web = SocketEntry(proto: .tcp, local: Endpoint(address: .anyV4, port: 80), state: .listen, uid: 0, id: 1)
    let app = SocketEntry(proto: .tcp, local: Endpoint(address: .anyV4, port: 3000), state: .listen, uid: 1000, id: 2)
    let snapshot = SystemSnapshot(
      sockets: [web, app],
      references: [1: [SocketReference(pid: 10, fds: [6])], 2: [SocketReference(pid: 20, fds: [18])]],
      processes: [
        10: ProcessRecord(
          pid: 10, ppid: 1, uid: 0, user: "root", name: "nginx", commandLine: ["nginx: master process"],
          executable: "/usr/sbin/nginx"),
        20: ProcessRecord(
          pid: 20, ppid: 1, uid: 1000, user: "dev", name: "node", commandLine: ["/usr/bin/node", "server.js"]),
      ],
      effectiveUID: 0, takenAt: 0)
    return fakeSystem(source: FixedSnapshotSource(snapshot: snapshot), binder: nil)
  }()

  func ports(_ filter: ListFilter) async throws -> [UInt16] {
    let listing = try await PortInspection(system: system).listing(for: SocketQuery(detail: .summary), filter: filter)
    return listing.map(\.socket.local.port)
  }

  @Test func eachFilterNarrowsTheListing() async throws {
    #expect(try await ports(ListFilter()) == [80, 3000])
    #expect(try await ports(ListFilter(pid: 20)) == [3000])
    #expect(try await ports(ListFilter(pid: 99)) == [])
    // Case-insensitive, on the name, the executable's or the first argument's base name.
    #expect(try await ports(ListFilter(process: "NGI")) == [80])
    #expect(try await ports(ListFilter(process: "node")) == [3000])
    #expect(try await ports(ListFilter(user: "dev")) == [3000])
    #expect(try await ports(ListFilter(user: "0")) == [80])
    #expect(try await ports(ListFilter(process: "nginx", user: "dev")) == [])
  }
}

@Suite struct DiagnosisUseCaseTests {
  private let held = SocketEntry(
    proto: .tcp, local: Endpoint(address: .anyV4, port: 4567), state: .listen, uid: 1000, id: 77)

  @Test func checkProbesWithTheBinderAndReadsTheTable() async throws {
    let system = fakeSystem(source: ScriptedSource(sockets: [held]), binder: ScriptedBinder(busy: [4567]))
    let checks = try await BindDiagnosis(system: system).checks(for: try PortSpec.parseList("4567,4568"))
    #expect(checks.map(\.port) == [4567, 4568])
    #expect(checks.map(\.proto) == [.tcp, .tcp])
    #expect(checks.map(\.bindable) == [false, true])
    #expect(!checks[0].reasons.isEmpty)
  }

  @Test func checkOnAnUnreadableTableIsAnError() async throws {
    let system = fakeSystem(source: ScriptedSource(failure: unreadable), binder: ScriptedBinder())
    await #expect(throws: unreadable) {
      try await BindDiagnosis(system: system).checks(for: try PortSpec.parseList("4567"))
    }
  }

  @Test func explainReadsTheMessageAndChecksItsPort() async throws {
    let system = fakeSystem(source: ScriptedSource(sockets: [held]), binder: ScriptedBinder(busy: [4567]))
    let explanation = BindFailureExplanation(system: system)
    guard
      case .checked(let failure, let checks) = try await explanation.explain(
        "Error: listen EADDRINUSE: address already in use :::4567")
    else { Issue.record("not checked"); return }
    #expect(failure.port == 4567)
    #expect(failure.kind == .addressInUse)
    #expect(!checks.isEmpty && checks.allSatisfy { $0.port == 4567 && !$0.bindable })

    guard case .noPort = try await explanation.explain("OSError: [Errno 98] Address already in use") else {
      Issue.record("a message without a port should ask for one")
      return
    }
    guard
      case .checked(_, let given) = try await explanation.explain(
        "OSError: [Errno 98] Address already in use", port: 4568)
    else { Issue.record("the given port should be checked"); return }
    #expect(given.allSatisfy { $0.port == 4568 && $0.bindable })
    guard case .notRecognized = try await explanation.explain("build finished in 3 s") else {
      Issue.record("no bind error in that text")
      return
    }
  }

  @Test func inspectReportsTheSocketsAndFailsOnAnUnreadableTable() async throws {
    let specs = try PortSpec.parseList("4567")
    let found = try await PortInspection(system: fakeSystem(source: ScriptedSource(sockets: [held]), binder: nil))
      .inspect(specs)
    #expect(found.report.sockets.map(\.socket.id) == [77])
    #expect(found.report.isHeld)
    await #expect(throws: unreadable) {
      try await PortInspection(system: fakeSystem(source: ScriptedSource(failure: unreadable), binder: nil))
        .inspect(specs)
    }
  }
}
