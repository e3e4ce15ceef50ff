import Testing

@testable import PortKit

/// A socket source the test scripts: a fixed list of sockets, or a read that fails.
struct ScriptedSource: SystemSource {
  var sockets: [SocketEntry] = []
  var failure: PortKitError?

  func snapshot(for query: SocketQuery) async throws(PortKitError) -> SystemSnapshot {
    if let failure { throw failure }
    return SystemSnapshot(sockets: sockets.filter(query.matches), effectiveUID: 0, takenAt: 0)
  }
}

/// A binder that finds `busy` ports in use and every other port free.
struct ScriptedBinder: PortBinder {
  var busy: Set<UInt16> = []
  func tryBind(_ endpoint: Endpoint, proto: TransportProtocol, reuseAddress: Bool) -> BindOutcome {
    busy.contains(endpoint.port) ? .inUse : .bindable
  }
}

/// A runner for use cases that must not run anything.
struct NoRunner: CommandRunner {
  func run(_ executable: String, _ arguments: [String]) async throws(PortKitError) -> CommandOutput {
    throw PortKitError(.toolMissing, "The test runs no \(executable).")
  }
}

func fakeSystem(source: any SystemSource, binder: (any PortBinder)?) -> System {
  System(
    backend: .procfs, source: source, control: nil, binder: binder, runner: NoRunner(),
    host: HostFacts(effectiveUID: 0, now: { 0 }))
}

let unreadable = PortKitError(.socketTablesUnreadable, "The socket tables could not be read.")

@Suite struct PortWaitingTests {
  /// Waits on its own task, cancels it after 50 ms, and returns what the wait threw and
  /// how long the task took in all.
  func cancelledWait(_ condition: PortWaiter.Condition, system: System) async throws -> (PortKitError?, Duration) {
    let specs = try PortSpec.parseList("4567")
    let clock = ContinuousClock()
    let start = clock.now
    let task = Task { () async throws(PortKitError) -> PortWaiter.Outcome in
      try await PortWaiting(system: system).wait(
        for: specs, until: condition, timeout: .seconds(60))
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
    // Nothing ever listens: only the cancellation can end this wait before 60 s.
    let (error, took) = try await cancelledWait(.listening, system: fakeSystem(source: ScriptedSource(), binder: nil))
    #expect(error?.code == .cancelled)
    // A loop that kept polling after the cancel would run the full 60 s.
    #expect(took < .seconds(20))
  }

  @Test func cancelledFreeWaitEndsAtOnce() async throws {
    let system = fakeSystem(source: ScriptedSource(), binder: ScriptedBinder(busy: [4567]))
    let (error, took) = try await cancelledWait(.free, system: system)
    #expect(error?.code == .cancelled)
    #expect(took < .seconds(20))
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
