import Testing

@testable import PortKit

/// Targets grouped by their server: the master signalled its way, workers waited on, the
/// grace and the explicit flags, the outcomes, and the progress while waiting.
@Suite struct ServerStopTests {
  private func record(_ pid: PID, _ name: String = "nginx", ppid: PID = 1) -> ProcessRecord {
    ProcessRecord(pid: pid, ppid: ppid, uid: 1000, name: name, startTicks: UInt64(pid))
  }

  private func socket(_ port: UInt16, id: UInt64) -> SocketEntry {
    SocketEntry(proto: .tcp, local: Endpoint(address: .loopbackV4, port: port), state: .listen, uid: 1000, id: id)
  }

  /// A plan whose targets are `holders` on one socket.
  private func plan(_ holders: [ProcessRecord]) -> TerminationPlan {
    let entry = SocketReport(
      socket: socket(8080, id: 1),
      owner: .processes(holders.map { HolderProcess(process: $0, fds: [3]) }))
    return TerminationPlan.make(
      from: PortReport(sockets: [entry], takenAt: 0, effectiveUID: 1000), protection: ProcessProtection(chain: [500]))
  }

  /// nginx: master 10 with workers 11 and 12, SIGQUIT and 300 ms of grace.
  private func nginx(grace: Duration = .milliseconds(300), everyProcess: Bool = false) -> RecognizedServer {
    RecognizedServer(
      kind: .nginx, name: "nginx", detail: "nginx master", master: record(10),
      workers: [record(11, ppid: 10), record(12, ppid: 10)], stopSignal: .quit, grace: grace,
      signalsEveryProcess: everyProcess)
  }

  private func servers(_ server: RecognizedServer) -> [PID: RecognizedServer] {
    [10: server, 11: server, 12: server]
  }

  @Test func theMasterLeadsOneGroupWithTheServersSignalAndGrace() {
    var plan = plan([record(10), record(11, ppid: 10), record(12, ppid: 10), record(20, "node")])
    plan.arrange(servers: servers(nginx()), managers: [:], request: TerminationRequest())
    #expect(plan.groups.count == 2)
    let group = plan.groups[0]
    #expect(group.master.pid == 10)
    #expect(group.signalled.map(\.pid) == [10])
    #expect(group.followers.map(\.pid) == [11, 12])
    #expect(group.signal == .quit)
    #expect(group.grace == .milliseconds(300))
    // A process no server claims is a group of its own, with the request's defaults.
    #expect(plan.groups[1].server == nil)
    #expect(plan.groups[1].signalled.map(\.pid) == [20])
    #expect(plan.groups[1].signal == .terminate)
    #expect(plan.groups[1].grace == .seconds(5))
    #expect(plan.group(of: 12)?.master.pid == 10)
  }

  @Test func givenSignalAndTimeoutReplaceTheServersOwnAndForceSignalsEveryProcess() {
    var given = plan([record(10), record(11, ppid: 10)])
    given.arrange(
      servers: servers(nginx()), managers: [:], request: TerminationRequest(signal: .terminate, timeout: .seconds(2)))
    #expect(given.groups[0].signal == .terminate)
    #expect(given.groups[0].grace == .seconds(2))
    #expect(given.groups[0].signalled.map(\.pid) == [10])
    var onlyTimeout = plan([record(10), record(11, ppid: 10)])
    onlyTimeout.arrange(servers: servers(nginx()), managers: [:], request: TerminationRequest(timeout: .seconds(1)))
    #expect(onlyTimeout.groups[0].signal == .quit)
    #expect(onlyTimeout.groups[0].grace == .seconds(1))
    var forced = plan([record(10), record(11, ppid: 10)])
    forced.arrange(servers: servers(nginx()), managers: [:], request: TerminationRequest(force: true))
    #expect(forced.groups[0].signal == .kill)
    // Worker 12 holds nothing but goes with its master: forced too.
    #expect(forced.groups[0].signalled.map(\.pid) == [10, 11, 12])
    #expect(forced.groups[0].followers.isEmpty)
  }

  /// Only the master holds the socket (a node cluster primary): its workers are added as
  /// targets holding nothing, waited on as followers.
  @Test func workersThatHoldNothingAreWaitedOn() {
    var plan = plan([record(10)])
    plan.arrange(servers: servers(nginx()), managers: [:], request: TerminationRequest())
    #expect(plan.targets.map(\.process.pid) == [10, 11, 12])
    #expect(plan.targets.dropFirst().allSatisfy { $0.sockets.isEmpty && $0.sharesWith == 10 })
    #expect(plan.groups.count == 1)
    #expect(plan.groups[0].signalled.map(\.pid) == [10])
    #expect(plan.groups[0].followers.map(\.pid) == [11, 12])
    #expect(plan.groups[0].holders == [10])
  }

  /// Only workers hold the socket: their master is added as a target (so it is pinned with
  /// them before the question), and a server that wants every process signalled gets them all.
  @Test func aMasterThatDoesNotHoldTheSocketIsAddedAsATarget() {
    var plan = plan([record(11, ppid: 10), record(12, ppid: 10)])
    plan.arrange(servers: servers(nginx()), managers: [:], request: TerminationRequest())
    #expect(plan.targets.map(\.process.pid) == [11, 12, 10])
    #expect(plan.targets.last?.sockets.isEmpty == true)
    #expect(plan.groups.map(\.master.pid) == [10])
    #expect(plan.groups[0].holders == [11, 12])
    var every = self.plan([record(11, ppid: 10)])
    every.arrange(servers: [11: nginx(everyProcess: true)], managers: [:], request: TerminationRequest())
    #expect(Set(every.targets.map(\.process.pid)) == [10, 11, 12])
    #expect(every.groups[0].signalled.map(\.pid) == [10, 11, 12])
  }

  @Test func workersThatExitWithTheirMasterAreStoppedWithIt() async {
    let control = FakeProcessControl([
      10: .init(startTicks: 10, exitsOn: ["QUIT", "KILL"]), 11: .init(startTicks: 11, exitsWith: 10),
      12: .init(startTicks: 12, exitsWith: 10),
    ])
    var plan = plan([record(10), record(11, ppid: 10), record(12, ppid: 10)])
    plan.arrange(servers: servers(nginx()), managers: [:], request: TerminationRequest())
    let terminator = Terminator(control: control)
    let results = await terminator.terminate(
      await terminator.pin(plan.targets.map(\.process)), stops: plan.groups.map(\.stop), killTimeout: .seconds(1))
    #expect(control.delivered.map { "\($0.0):\($0.1)" } == ["10:QUIT"])
    #expect(results.map(\.outcome.code) == ["exited", "stopped-with-master", "stopped-with-master"])
    #expect(results[0].outcome == .exited(after: .quit, seconds: 0.001))
    #expect(results.allSatisfy { $0.grace == .milliseconds(300) })
    #expect(results[1].signalsSent.isEmpty)
  }

  /// The master ignores its signal: after the server's grace the master and its workers get
  /// SIGKILL, and the wait is told about as it goes.
  @Test func aMasterThatOutlivesItsGraceIsKilledWithWhatIsLeft() async {
    let control = FakeProcessControl([
      10: .init(startTicks: 10, exitsOn: ["KILL"]), 11: .init(startTicks: 11, exitsOn: ["KILL"]),
      12: .init(startTicks: 12, exitsOn: ["KILL"]),
    ])
    var plan = plan([record(10), record(11, ppid: 10)])
    plan.arrange(servers: servers(nginx(grace: .milliseconds(250))), managers: [:], request: TerminationRequest())
    let terminator = Terminator(control: control, tick: .milliseconds(50))
    let waits = Locked<[Double]>([])
    let results = await terminator.terminate(
      await terminator.pin(plan.targets.map(\.process)), stops: plan.groups.map(\.stop), killTimeout: .seconds(1),
      progress: { progress in
        if case .waiting(let master, let signal, let elapsed, let grace) = progress, master.pid == 10,
          signal == .quit, grace == 0.25
        {
          waits.withLock { $0.append(elapsed) }
        }
      })
    // Worker 12 holds nothing; it is killed with what is left all the same.
    #expect(control.delivered.map { "\($0.0):\($0.1)" } == ["10:QUIT", "10:KILL", "11:KILL", "12:KILL"])
    #expect(results.map(\.outcome.code) == ["killed", "killed", "killed"])
    #expect(results[0].signalsSent == [.quit, .kill])
    #expect(results[1].signalsSent == [.kill])
    #expect(results[2].signalsSent == [.kill])
    let told = waits.withLock { $0 }
    #expect(told.count >= 4, "\(told)")
    #expect(told == told.sorted())
    #expect((told.last ?? 0) <= 0.25)
  }

  /// Each group is killed when its own grace ends, not the longest one's.
  @Test func eachGroupHasItsOwnGrace() async {
    let control = FakeProcessControl([
      10: .init(startTicks: 10, exitsOn: ["KILL"]), 20: .init(startTicks: 20, exitsOn: ["KILL"]),
    ])
    let stops = [
      TerminationStop(master: record(10), signalled: [record(10)], signal: .quit, grace: .milliseconds(100)),
      TerminationStop(master: record(20), signalled: [record(20)], signal: .interrupt, grace: .milliseconds(400)),
    ]
    let terminator = Terminator(control: control, tick: .milliseconds(50))
    let results = await terminator.terminate(
      await terminator.pin([record(10), record(20)]), stops: stops, killTimeout: .seconds(1))
    #expect(control.delivered.map { "\($0.0):\($0.1)" } == ["10:QUIT", "20:INT", "10:KILL", "20:KILL"])
    guard case .killed(let first) = results[0].outcome, case .killed(let second) = results[1].outcome else {
      Issue.record("expected both killed, got \(results.map(\.outcome))")
      return
    }
    #expect(first >= 0.1 && first < 0.4, "\(first)")
    #expect(second >= 0.4, "\(second)")
  }

  /// A group none of whose processes holds the port right before the signal is left alone,
  /// master included.
  @Test func aGroupThatLetGoOfThePortIsNotSignalled() async {
    let control = FakeProcessControl([
      10: .init(startTicks: 10), 11: .init(startTicks: 11), 12: .init(startTicks: 12),
    ])
    var plan = plan([record(11, ppid: 10)])
    plan.arrange(servers: servers(nginx()), managers: [:], request: TerminationRequest())
    let terminator = Terminator(control: control)
    let results = await terminator.terminate(
      await terminator.pin(plan.targets.map(\.process)), stops: plan.groups.map(\.stop), killTimeout: .seconds(1),
      stillHolding: { _ in [] })
    #expect(control.delivered.isEmpty)
    #expect(results.map(\.outcome) == [.releasedPort, .releasedPort, .releasedPort])
  }

  /// The manager's stop command that portctl may run: a systemd unit or a supervisord program
  /// seen among the ancestors; not one only the environment claims, nor prose.
  @Test func managerCommandsPortctlMayRun() {
    func group(_ manager: ProcessManager?) -> TerminationPlan.Group {
      TerminationPlan.Group(
        server: nil, manager: manager,
        stop: TerminationStop(
          master: record(10), signalled: [record(10)], signal: .terminate, grace: .seconds(5), holders: [10]))
    }
    let unit = ProcessManager(
      kind: .systemdUnit, name: "nginx.service", detail: "", stop: "systemctl stop nginx.service",
      evidence: .controlGroup)
    #expect(group(unit).managerCommand == "systemctl stop nginx.service")
    let supervised = ProcessManager(
      kind: .supervisord, name: "web", detail: "", stop: "supervisorctl -c /etc/s.conf stop web", evidence: .ancestor)
    #expect(group(supervised).managerCommand == "supervisorctl -c /etc/s.conf stop web")
    var claimed = supervised
    claimed.evidence = .environment
    #expect(group(claimed).managerCommand == nil)
    let tmux = ProcessManager(kind: .tmux, name: "s", detail: "", stop: "tmux send-keys -t s C-c", evidence: .ancestor)
    #expect(group(tmux).managerCommand == nil)
    let pm2 = ProcessManager(
      kind: .pm2, name: "a", detail: "", stop: "pm2 list, then pm2 stop NAME", evidence: .ancestor)
    #expect(group(pm2).managerCommand == nil)
    #expect(group(nil).managerCommand == nil)
  }
}
