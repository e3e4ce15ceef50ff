import Testing

@testable import PortKit

/// A socket table with one listener on port 3000 held by `pid`, as long as `isHeld` says so;
/// every read after the first `readsBeforeFailing` fails.
private struct OneHolderSource: SystemSource {
  var pid: PID
  var ppid: PID = 1
  var isHeld: @Sendable () -> Bool
  var readsBeforeFailing = Int.max
  var controlGroup: String? = nil
  /// The holder's command line, and its ancestors (parent first), for server recognition.
  var commandLine: [String] = []
  var ancestors: [ProcessRecord] = []
  let reads = Locked(0)

  func ancestry(of pid: PID) async -> [ProcessRecord] { pid == self.pid ? ancestors : [] }

  func children(of pid: PID, limit: Int) async -> [ProcessRecord] {
    pid == ancestors.first?.pid ? [holder] : []
  }

  var holder: ProcessRecord {
    ProcessRecord(
      pid: pid, ppid: ppid, uid: 1000, name: "server", commandLine: commandLine, startTicks: 1,
      controlGroup: controlGroup)
  }

  func snapshot(for query: SocketQuery) async throws(PortKitError) -> SystemSnapshot {
    let count = reads.withLock { reads in
      reads += 1
      return reads
    }
    if count > readsBeforeFailing {
      throw PortKitError(.socketTablesUnreadable, "The socket tables could not be read.")
    }
    let listener = SocketEntry(
      proto: .tcp, local: Endpoint(address: .anyV4, port: 3000), state: .listen, uid: 1000, id: 9)
    let sockets = isHeld() ? [listener] : []
    return SystemSnapshot(
      sockets: sockets, references: SocketHolders(links: sockets.map { .init(id: $0.id, pid: pid, fd: 3) }),
      processes: [pid: holder],
      effectiveUID: 1000, takenAt: 0)
  }
}

/// Records every program run; `effect` runs with each, and every run ends with `exitCode`.
private final class RecordingRunner: CommandRunner, Sendable {
  let calls = Locked<[(String, [String])]>([])
  let exitCode: Int32
  let effect: @Sendable (String, [String]) -> Void

  init(exitCode: Int32 = 0, effect: @escaping @Sendable (String, [String]) -> Void) {
    self.exitCode = exitCode
    self.effect = effect
  }

  func run(_ executable: String, _ arguments: [String]) async throws(PortKitError) -> CommandOutput {
    calls.withLock { $0.append((executable, arguments)) }
    effect(executable, arguments)
    return CommandOutput(exitCode: exitCode, standardOutput: [], standardError: Array("failed\n".utf8))
  }
}

private struct NoRunner: CommandRunner {
  func run(_ executable: String, _ arguments: [String]) async throws(PortKitError) -> CommandOutput {
    throw PortKitError(.toolMissing, "No programs run in this test.")
  }
}

/// The events a run reported, in order, by name.
private final class EventLog: Sendable {
  let names = Locked<[String]>([])
  let consentAsked = Locked(0)
  let ticks = Locked(0)

  func record(_ event: PortFreeing.Event) {
    let name: String? =
      switch event {
      case .planned(let plan): "planned \(plan.targets.map(\.process.pid))"
      case .refused(let refusal): "refused \(refusal)"
      case .signalled(let process, let signal): "signalled \(process.pid) \(signal.name)"
      case .exited(let process): "exited \(process.pid)"
      case .terminated(let results): "terminated \(results.map(\.outcome.code))"
      case .verifying(let items): "verifying \(items.map(\.port))"
      case .verified(let ports): "verified \(ports.map(\.verdict.rawValue))"
      case .runningManagerStop(let command): "running \(command)"
      // Progress ticks come as time passes: counted, not listed.
      case .waiting, .watchingForRespawn, .drainingClosingSockets, .waitingAfterManagerStop: nil
      }
    guard let name else {
      ticks.withLock { $0 += 1 }
      return
    }
    names.withLock { $0.append(name) }
  }

  func answer(_ consent: PortFreeing.Consent) -> PortFreeing.ConsentCallback {
    { _ in
      self.consentAsked.withLock { $0 += 1 }
      return consent
    }
  }
}

@Suite struct PortFreeingTests {
  /// Pid 42 holds port 3000 until it receives a signal.
  private func system(
    holder: PID = 42, readsBeforeFailing: Int = .max,
    binder: (any PortBinder)? = BindProbeTests.FakeBinder(outcomes: [:])
  ) -> (System, FakeProcessControl) {
    let control = FakeProcessControl([holder: .init(startTicks: 1)])
    let source = OneHolderSource(
      pid: holder, isHeld: { control.delivered.isEmpty }, readsBeforeFailing: readsBeforeFailing)
    let system = System(
      backend: .procfs, source: source, control: control, binder: binder, runner: NoRunner(),
      host: HostFacts(effectiveUID: 1000, now: { 0 }))
    return (system, control)
  }

  /// The blast radius is not read: the reads the tests count are the report, the re-check
  /// and the verification's.
  private func request(verify: Bool = true) -> PortFreeing.Request {
    var request = PortFreeing.Request(
      specs: [PortSpec(ports: 3000...3000, text: "3000")],
      termination: TerminationRequest(timeout: .milliseconds(100)),
      verification: verify ? .init(respawnWindow: .zero) : nil)
    request.readsBlastRadius = false
    return request
  }

  @Test func consentRefusedThroughTheCallbackSignalsNothing() async throws {
    let (system, control) = system()
    let log = EventLog()
    let outcome = try await PortFreeing(system: system).free(
      request(), consent: log.answer(.refused), events: { log.record($0) })
    #expect(outcome.ending == .refused(.noConsent))
    #expect(outcome.consent == .refused)
    #expect(!outcome.freed)
    #expect(outcome.results == nil)
    #expect(control.delivered.isEmpty)
    #expect(log.consentAsked.withLock { $0 } == 1)
    #expect(log.names.withLock { $0 } == ["planned [42]", "refused noConsent"])
  }

  @Test func consentGrantedSignalsAndProvesThePortFree() async throws {
    let (system, control) = system()
    let log = EventLog()
    let outcome = try await PortFreeing(system: system).free(
      request(), consent: log.answer(.given), events: { log.record($0) })
    #expect(control.delivered.map { "\($0.0):\($0.1)" } == ["42:TERM"])
    #expect(outcome.ending == .verified)
    #expect(outcome.consent == .given)
    #expect(outcome.results?.map(\.outcome) == [.exited(after: .terminate, seconds: 0.001)])
    #expect(outcome.ports?.map(\.verdict) == [.free])
    #expect(outcome.freed)
    #expect(
      log.names.withLock { $0 } == [
        "planned [42]", "signalled 42 TERM", "exited 42", "terminated [\"exited\"]", "verifying [3000]",
        "verified [\"free\"]",
      ])
  }

  @Test func killWithoutVerificationEndsAfterTheSignals() async throws {
    let (system, control) = system()
    let outcome = try await PortFreeing(system: system).free(request(verify: false), consent: { _ in .givenInAdvance })
    #expect(control.delivered.map(\.0) == [42])
    #expect(outcome.ending == .terminated)
    #expect(outcome.ports == nil)
    #expect(outcome.freed)
  }

  @Test func dryRunAsksNothingAndSignalsNothing() async throws {
    let (system, control) = system()
    let log = EventLog()
    var dryRun = request()
    dryRun.dryRun = true
    let outcome = try await PortFreeing(system: system).free(dryRun, consent: log.answer(.given))
    #expect(outcome.ending == .dryRun)
    #expect(outcome.plan.targets.map(\.process.pid) == [42])
    #expect(log.consentAsked.withLock { $0 } == 0)
    #expect(control.delivered.isEmpty)
  }

  /// Pid 400 is an ancestor of this process (see `FakeProcessControl.selfAndAncestors`):
  /// refused before consent is asked, nothing signalled.
  @Test func aProtectedTargetIsRefused() async throws {
    let (system, control) = system(holder: 400)
    let log = EventLog()
    let outcome = try await PortFreeing(system: system).free(
      request(), consent: log.answer(.givenInAdvance), events: { log.record($0) })
    guard case .refused(.protected(let protected)) = outcome.ending else {
      Issue.record("expected a refusal for a protected process, got \(outcome.ending)")
      return
    }
    #expect(protected.map(\.process.pid) == [400])
    #expect(protected.first?.reason.contains("ancestor") == true)
    #expect(log.consentAsked.withLock { $0 } == 0)
    #expect(control.delivered.isEmpty)
    #expect(!outcome.freed)
  }

  /// Reads: the report (1), the re-check before the signal (2), then the verification's. With
  /// no bind probe the verification must read the table; that read fails: an error, not free.
  @Test func aFailingSnapshotWhileVerifyingIsAnErrorNotFree() async throws {
    let (system, control) = system(readsBeforeFailing: 2, binder: nil)
    let log = EventLog()
    let error = await #expect(throws: PortKitError.self) {
      try await PortFreeing(system: system).free(request(), consent: log.answer(.given), events: { log.record($0) })
    }
    #expect(error?.code == .socketTablesUnreadable)
    #expect(error?.message.contains("not reported free") == true)
    #expect(control.delivered.map(\.0) == [42])
    #expect(!log.names.withLock { $0 }.contains { $0.hasPrefix("verified") })
  }

  /// The re-check right before the first signal fails: nothing is signalled.
  @Test func aFailingReCheckBeforeTheSignalSignalsNothing() async throws {
    let (system, control) = system(readsBeforeFailing: 1)
    let error = await #expect(throws: PortKitError.self) {
      try await PortFreeing(system: system).free(self.request(), consent: { _ in .given })
    }
    #expect(error?.message.contains("nothing was signalled") == true)
    #expect(control.delivered.isEmpty)
  }

  /// `--via-manager` with a holder no manager runs: refused before anything is asked or sent.
  @Test func viaManagerWithoutAManagerIsRefused() async throws {
    let (system, control) = system()
    let log = EventLog()
    var asked = request()
    asked.viaManager = true
    let outcome = try await PortFreeing(system: system).free(
      asked, consent: log.answer(.givenInAdvance), events: { log.record($0) })
    #expect(outcome.ending == .refused(.noManager([42])))
    #expect(log.consentAsked.withLock { $0 } == 0)
    #expect(control.delivered.isEmpty)
  }

  /// A holder in a systemd service, stopped through `systemctl stop` instead of a signal: the
  /// command runs through the runner, the holder is reported stopped by its manager, and the
  /// port is proved free.
  @Test func viaManagerRunsTheUnitsStopCommandAndProvesThePortFree() async throws {
    let control = FakeProcessControl([42: .init(startTicks: 1)])
    let stopped = Locked(false)
    let runner = RecordingRunner { executable, arguments in
      stopped.withLock { $0 = true }
      control.replace(42, with: nil)
    }
    let source = OneHolderSource(
      pid: 42, isHeld: { !stopped.withLock { $0 } }, controlGroup: "0::/system.slice/web.service")
    let system = System(
      backend: .procfs, source: source, control: control, binder: BindProbeTests.FakeBinder(outcomes: [:]),
      runner: runner, host: HostFacts(effectiveUID: 1000, now: { 0 }))
    var asked = request()
    asked.viaManager = true
    let log = EventLog()
    let outcome = try await PortFreeing(system: system).free(
      asked, consent: log.answer(.viaManager), events: { log.record($0) })
    #expect(control.delivered.isEmpty)
    #expect(runner.calls.withLock { $0 }.count == 1)
    #expect(runner.calls.withLock { $0 }.first?.0 == "sh")
    #expect(runner.calls.withLock { $0 }.first?.1.last?.hasSuffix("systemctl stop web.service") == true)
    #expect(outcome.managerStops.map(\.command) == ["systemctl stop web.service"])
    #expect(outcome.results?.map(\.outcome.code) == ["stopped-by-manager"])
    #expect(outcome.ending == .verified)
    #expect(outcome.freed)
    #expect(log.names.withLock { $0 }.contains("running systemctl stop web.service"))
  }

  /// A stop command that fails ends the call: nothing signalled, not freed.
  @Test func aFailingManagerStopIsReportedAndNothingIsSignalled() async throws {
    let control = FakeProcessControl([42: .init(startTicks: 1)])
    let runner = RecordingRunner(exitCode: 5) { _, _ in }
    let source = OneHolderSource(pid: 42, isHeld: { true }, controlGroup: "0::/system.slice/web.service")
    let system = System(
      backend: .procfs, source: source, control: control, binder: BindProbeTests.FakeBinder(outcomes: [:]),
      runner: runner, host: HostFacts(effectiveUID: 1000, now: { 0 }))
    var asked = request()
    asked.viaManager = true
    let outcome = try await PortFreeing(system: system).free(asked, consent: { _ in .viaManager })
    #expect(outcome.ending == .managerStopFailed)
    #expect(outcome.managerStops.first?.exitCode == 5)
    #expect(control.delivered.isEmpty)
    #expect(!outcome.freed)
  }

  /// A gunicorn worker (pid 42) holds the port; its arbiter is `arbiter`.
  private func gunicorn(arbiter: PID, control: FakeProcessControl) -> System {
    let master = ProcessRecord(
      pid: arbiter, ppid: 1, uid: 1000, name: "gunicorn", commandLine: ["gunicorn: master [app]"], startTicks: 2)
    let source = OneHolderSource(
      pid: 42, ppid: arbiter, isHeld: { control.delivered.isEmpty }, commandLine: ["gunicorn: worker [app]"],
      ancestors: [master])
    return System(
      backend: .procfs, source: source, control: control, binder: BindProbeTests.FakeBinder(outcomes: [:]),
      runner: NoRunner(), host: HostFacts(effectiveUID: 1000, now: { 0 }))
  }

  /// Only the worker holds the port: its arbiter is added, pinned before the question, and is
  /// the one signalled; the worker stops with it.
  @Test func theArbiterOfAWorkerHoldingThePortIsSignalledInstead() async throws {
    let control = FakeProcessControl([42: .init(startTicks: 1, exitsWith: 300), 300: .init(startTicks: 2)])
    let asked = Locked<[PID]>([])
    // No timeout given: the server's own grace (graceful timeout 30 s + 5).
    var serversWay = request()
    serversWay.termination = TerminationRequest()
    let outcome = try await PortFreeing(system: gunicorn(arbiter: 300, control: control)).free(
      serversWay,
      consent: { plan in
        asked.withLock { $0 = plan.targets.map(\.process.pid) }
        return .given
      })
    #expect(asked.withLock { $0 } == [42, 300])
    #expect(outcome.plan.groups.map(\.master.pid) == [300])
    #expect(outcome.plan.groups.first?.grace == .seconds(35))
    #expect(control.delivered.map { "\($0.0):\($0.1)" } == ["300:TERM"])
    #expect(outcome.results?.map(\.outcome.code) == ["stopped-with-master", "exited"])
    #expect(outcome.freed)
  }

  /// The arbiter is one of portctl's own ancestors (pid 400): refused before anything is
  /// asked or sent, as a protected holder is.
  @Test func aProtectedMasterIsRefused() async throws {
    let control = FakeProcessControl([42: .init(startTicks: 1), 400: .init(startTicks: 2)])
    let log = EventLog()
    let outcome = try await PortFreeing(system: gunicorn(arbiter: 400, control: control)).free(
      request(), consent: log.answer(.givenInAdvance), events: { log.record($0) })
    guard case .refused(.protected(let protected)) = outcome.ending else {
      Issue.record("expected a refusal for a protected master, got \(outcome.ending)")
      return
    }
    #expect(protected.map(\.process.pid) == [400])
    #expect(log.consentAsked.withLock { $0 } == 0)
    #expect(control.delivered.isEmpty)
  }

  @Test func aBackendThatCannotSignalIsAnError() async throws {
    var (system, _) = system()
    system.control = nil
    await #expect(throws: PortKitError.self) {
      try await PortFreeing(system: system).free(self.request(), consent: { _ in .given })
    }
  }

  /// Cancelled while it watches for a respawn, verification ends at once (it used to spin
  /// until the window closed) and judges the port as it is.
  @Test func aCancelledVerificationEndsAtOnce() async throws {
    let source = OneHolderSource(pid: 77, isHeld: { true })
    let verifier = FreeVerifier(source: source, probe: nil)
    let clock = ContinuousClock()
    let started = clock.now
    let task = Task {
      try await verifier.verify([.init(proto: .tcp, port: 3000)], ended: [77], respawnWindow: .seconds(600))
    }
    task.cancel()
    let results = try await task.value
    // Far below the window, with room for a full test run, whose blocking tests can hold
    // every cooperative thread for a minute, to schedule the task.
    #expect(clock.now - started < .seconds(300))
    #expect(results.map(\.verdict) == [.held])
    #expect(source.reads.withLock { $0 } < 50)
  }
}
