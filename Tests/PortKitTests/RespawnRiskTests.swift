import Testing

@testable import PortKit

/// The decision whether `free` watches for a respawn: only where something can start the
/// holder again.
@Suite struct RespawnRiskTests {
  private func process(_ pid: PID, _ name: String, _ commandLine: [String], ppid: PID = 1, cgroup: String? = nil)
    -> ProcessRecord
  {
    ProcessRecord(pid: pid, ppid: ppid, name: name, commandLine: commandLine, controlGroup: cgroup)
  }

  private let server = ProcessRecord(pid: 100, ppid: 50, name: "node", commandLine: ["node", "server.js"])
  private let runner = ProcessRecord(pid: 9, ppid: 1, name: "xterm", commandLine: ["xterm"])

  private func reason(_ ancestors: [ProcessRecord], scripts: [PID: String] = [:], restart: String? = nil) -> String? {
    RespawnRisk.respawner(for: server, facts: .init(ancestors: ancestors, scripts: scripts, restart: restart))?.reason
  }

  @Test func recognisedSupervisorsAreNamedWithTheirPid() {
    let cases: [(ProcessRecord, String)] = [
      (process(50, "supervisord", ["/usr/bin/python3", "/usr/bin/supervisord", "-c", "/etc/sv.conf"]), "supervisord"),
      (process(50, "python3", ["/usr/bin/python3", "/usr/local/bin/supervisord", "-n"]), "supervisord"),
      (process(50, "PM2 v5.3.0: God", ["PM2 v5.3.0: God Daemon (/root/.pm2)"]), "pm2"),
      (process(50, "node", ["node", "/usr/lib/node_modules/nodemon/bin/nodemon.js"]), "nodemon"),
      (process(50, "runsv", ["runsv", "web"]), "runsv"),
      (process(50, "s6-supervise", ["s6-supervise", "web"]), "s6-supervise"),
      (process(50, "ruby", ["ruby", "/usr/local/bin/foreman", "start"]), "foreman"),
      (process(50, "honcho", ["/usr/bin/python3", "/usr/bin/honcho", "start"]), "honcho"),
    ]
    for (parent, _) in cases {
      let found = RespawnRisk.respawner(for: server, facts: .init(ancestors: [parent, runner]))
      #expect(found?.kind == .supervisor, "\(parent.commandLine)")
      #expect(found?.process?.pid == 50)
    }
    #expect(reason([cases[0].0, runner]) == "parent is supervisord (pid 50)")
    #expect(reason([cases[2].0, runner]) == "parent is pm2 (pid 50)")
    #expect(reason([cases[4].0, runner]) == "parent is runsv (pid 50)")
  }

  /// A supervisor polls before it starts a program again, a shell loop does not: the default
  /// watch is longer for the first.
  @Test func theWatchLastsAsLongAsTheRespawnerNeeds() {
    let supervisord = process(50, "supervisord", ["/usr/bin/python3", "/usr/bin/supervisord"])
    let loop = process(50, "sh", ["/bin/sh", "-c", "while true; do node server.js; done"])
    #expect(RespawnRisk.respawner(for: server, facts: .init(ancestors: [supervisord, runner]))?.window == .seconds(5))
    #expect(RespawnRisk.respawner(for: server, facts: .init(ancestors: [loop, runner]))?.window == .seconds(2))
  }

  @Test func nodemonByItsScriptName() {
    let nodemon = process(50, "node", ["node", "/usr/local/bin/nodemon", "server.js"])
    #expect(reason([nodemon, runner]) == "parent is nodemon (pid 50)")
  }

  @Test func shellsRunningALoopAreRespawners() {
    for code in [
      "while true; do node server.js; done", "until node server.js; do sleep 1; done",
      "for i in 1 2 3; do node server.js; done", "cd /srv && while :; do node server.js; done",
      "set -e\nwhile true\ndo\n  node server.js\ndone",
    ] {
      let shell = process(50, "sh", ["sh", "-c", code])
      let found = RespawnRisk.respawner(for: server, facts: .init(ancestors: [shell, runner]))
      #expect(found?.kind == .shellLoop, "\(code)")
      #expect(found?.reason == "parent is sh (pid 50), running it in a loop")
    }
    let combined = process(50, "bash", ["/bin/bash", "-ec", "while true; do node server.js; done"])
    #expect(RespawnRisk.respawner(for: server, facts: .init(ancestors: [combined]))?.kind == .shellLoop)
    let options = process(50, "bash", ["bash", "-o", "pipefail", "-c", "while true; do node server.js; done"])
    #expect(RespawnRisk.respawner(for: server, facts: .init(ancestors: [options]))?.kind == .shellLoop)
  }

  @Test func oneShotShellsInteractiveShellsAndTerminalsAreNot() {
    // A one-shot -c string, started by something that does not respawn.
    #expect(reason([process(50, "sh", ["sh", "-c", "node server.js; echo done"]), runner]) == nil)
    #expect(reason([process(50, "sh", ["sh", "-c", "echo 'for the record'; node server.js"]), runner]) == nil)
    #expect(reason([process(50, "sh", ["sh", "-c", "node server.js # while away"]), runner]) == nil)
    // Interactive and login shells.
    #expect(reason([process(50, "bash", ["-bash"]), runner]) == nil)
    #expect(reason([process(50, "zsh", ["/bin/zsh", "-l"]), runner]) == nil)
    #expect(reason([process(50, "bash", ["bash"]), runner]) == nil)
    #expect(reason([process(50, "bash", ["bash", "-i"]), runner]) == nil)
    #expect(reason([process(50, "sh", ["sh", "-s"]), runner]) == nil)
    // tmux: the pane's shell, or the server itself as parent.
    let tmux = process(40, "tmux: server", ["tmux", "-L", "dev", "new-session", "-d"])
    #expect(reason([process(50, "bash", ["-bash"], ppid: 40), tmux]) == nil)
    #expect(reason([tmux]) == nil)
    // script, ssh sessions, screen, an unknown program, init.
    #expect(reason([process(50, "script", ["script", "-q", "/dev/null"])]) == nil)
    #expect(reason([process(50, "sshd", ["sshd: alice@pts/0"])]) == nil)
    #expect(reason([process(50, "SCREEN", ["SCREEN", "-S", "dev"])]) == nil)
    #expect(reason([process(50, "python3", ["python3", "launcher.py"])]) == nil)
    #expect(reason([process(1, "systemd", ["/sbin/init"])]) == nil)
    #expect(reason([]) == nil)
  }

  @Test func aOneShotShellIsLookedThroughToWhatStartedIt() {
    let shell = process(50, "sh", ["sh", "-c", "node server.js; echo done"], ppid: 40)
    let supervisor = process(40, "supervisord", ["/usr/bin/supervisord"])
    #expect(
      reason([shell, supervisor]) == "parent is sh (pid 50), a one-shot shell started by supervisord (pid 40)")
    let loop = process(40, "bash", ["bash", "-c", "while true; do sh -c 'node server.js; echo done'; done"])
    #expect(RespawnRisk.respawner(for: server, facts: .init(ancestors: [shell, loop]))?.process?.pid == 40)
    let interactive = process(40, "bash", ["-bash"])
    #expect(reason([shell, interactive]) == nil)
  }

  @Test func scriptFilesAreReadForALoop() {
    let shell = process(50, "bash", ["/bin/bash", "./run.sh", "--port", "3000"])
    #expect(
      reason([shell, runner], scripts: [50: "#!/bin/bash\nwhile true; do\n  node server.js\ndone\n"])
        == "parent is bash (pid 50), running the script ./run.sh, which loops")
    #expect(reason([shell, runner], scripts: [50: "#!/bin/bash\n# for ever? no\nnode server.js\necho done\n"]) == nil)
    let unread = RespawnRisk.respawner(for: server, facts: .init(ancestors: [shell, runner]))
    #expect(unread?.kind == .unreadScript)
    #expect(unread?.reason == "parent is bash (pid 50), running the script ./run.sh, which portctl could not read")
  }

  @Test func systemdServicesByTheirRestartSetting() {
    let nginx = process(100, "nginx", ["nginx"], cgroup: "0::/system.slice/nginx.service\n")
    func found(_ restart: String?, ancestors: [ProcessRecord] = []) -> Respawner? {
      RespawnRisk.respawner(for: nginx, facts: .init(ancestors: ancestors, restart: restart))
    }
    #expect(
      found("always")?.reason == "it runs in the systemd service nginx.service, which restarts it (Restart=always)")
    #expect(found("on-failure")?.kind == .systemdService)
    #expect(found("always")?.process == nil)
    #expect(found("no") == nil)
    // Not asked, or no systemd to answer: the service may restart it.
    #expect(
      found(nil)?.reason == "it runs in the systemd service nginx.service, whose Restart= setting could not be read")
    // Restart=no, but a shell in the service runs it in a loop.
    let loop = process(50, "sh", ["/bin/sh", "-c", "while true; do nginx; done"])
    #expect(found("no", ancestors: [loop])?.kind == .shellLoop)
  }

  @Test func containerRuntimes() {
    let shim = process(50, "containerd-shim", ["/usr/bin/containerd-shim-runc-v2", "-namespace", "moby", "-id", "abc"])
    let found = RespawnRisk.respawner(for: server, facts: .init(ancestors: [shim]))
    #expect(found?.kind == .containerRuntime)
    #expect(found?.process == nil)
    #expect(RespawnRisk.respawner(for: server, facts: .init(ancestors: [process(50, "conmon", ["conmon"])])) != nil)
  }

  @Test func shellInputs() {
    #expect(RespawnRisk.shellInput(["sh", "-c", "x"]) == .command("x"))
    #expect(RespawnRisk.shellInput(["bash", "-xec", "x"]) == .command("x"))
    #expect(RespawnRisk.shellInput(["bash", "--norc", "-c", "x", "name"]) == .command("x"))
    #expect(RespawnRisk.shellInput(["bash", "--rcfile", "rc", "run.sh"]) == .script("run.sh"))
    #expect(RespawnRisk.shellInput(["bash", "-e", "--", "run.sh"]) == .script("run.sh"))
    #expect(RespawnRisk.shellInput(["/bin/sh /srv/start.sh"]) == .script("/srv/start.sh"))
    #expect(RespawnRisk.shellInput(["-zsh"]) == .interactive)
    #expect(RespawnRisk.shellInput(["bash", "-"]) == .interactive)
    #expect(RespawnRisk.shellInput([]) == .interactive)
  }

  @Test func systemdServicesFromTheCgroup() {
    #expect(
      RespawnRisk.systemdService("0::/user.slice/user-1000.slice/user@1000.service/app.slice/api.service")
        == "api.service")
    #expect(RespawnRisk.isUserService("0::/user.slice/user-1000.slice/user@1000.service/app.slice/api.service"))
    #expect(!RespawnRisk.isUserService("0::/system.slice/nginx.service"))
    #expect(RespawnRisk.systemdService("0::/user.slice/user-1000.slice/session-3.scope") == nil)
    #expect(RespawnRisk.systemdService("12:pids:/\n1:name=systemd:/system.slice/redis.service\n0::/") == nil)
    #expect(RespawnRisk.systemdService("1:name=systemd:/system.slice/redis.service") == "redis.service")
  }
}

/// The facts behind the decision are read through the System's seams: the ancestry from the
/// source, `Restart=` from `systemctl show` through the command runner (only for a service).
@Suite struct RespawnWatchTests {
  private struct ChainSource: SystemSource {
    var chains: [PID: [ProcessRecord]]
    var files: [String: String] = [:]
    func snapshot(for query: SocketQuery) async throws(PortKitError) -> SystemSnapshot {
      SystemSnapshot(sockets: [], references: SocketHolders(links: []), processes: [:], effectiveUID: 0, takenAt: 0)
    }
    func ancestry(of pid: PID) async -> [ProcessRecord] { chains[pid] ?? [] }
    func smallFile(_ path: String, of pid: PID, limit: Int) async -> [UInt8]? {
      files["\(pid):\(path)"].map { Array($0.utf8) }
    }
  }

  /// Counts the runs, answering from `answers` (by the whole command line) or failing.
  private final class CountingRunner: CommandRunner, Sendable {
    let answers: [String: CommandOutput]
    let runs = Locked<[String]>([])
    init(_ answers: [String: CommandOutput]) { self.answers = answers }
    func run(_ executable: String, _ arguments: [String]) async throws(PortKitError) -> CommandOutput {
      let key = ([executable] + arguments).joined(separator: " ")
      runs.withLock { $0.append(key) }
      if let answer = answers[key] { return answer }
      throw PortKitError(.toolFailed, "System has not been booted with systemd as init system (PID 1).")
    }
  }

  private let systemctl = "systemctl show -p Restart --value -- api.service"

  private func system(_ source: ChainSource, _ runner: CountingRunner) -> System {
    System(
      backend: .procfs, source: source, control: nil, binder: nil, runner: runner,
      host: HostFacts(effectiveUID: 0, now: { 0 }))
  }

  private let service = ProcessRecord(
    pid: 200, ppid: 1, name: "api", commandLine: ["api"], startTicks: 5, controlGroup: "0::/system.slice/api.service")
  private let init1 = ProcessRecord(pid: 1, ppid: 0, name: "systemd", commandLine: ["/sbin/init"])

  @Test func restartIsAskedOfSystemctlOnlyForAService() async {
    let control = FakeProcessControl([:])
    for (answer, expected) in [("always\n", "(Restart=always)"), ("on-failure\n", "(Restart=on-failure)")] {
      let runner = CountingRunner([systemctl: CommandOutput(exitCode: 0, standardOutput: Array(answer.utf8))])
      let watch = await RespawnWatch.prepare(
        targets: [service], parents: [:], system: system(ChainSource(chains: [200: [init1]]), runner),
        control: control)
      #expect(watch.respawners[200]?.reason.hasSuffix(expected) == true)
      #expect(runner.runs.withLock { $0 } == [systemctl])
    }
    let no = CountingRunner([systemctl: CommandOutput(exitCode: 0, standardOutput: Array("no\n".utf8))])
    let none = await RespawnWatch.prepare(
      targets: [service], parents: [:], system: system(ChainSource(chains: [200: [init1]]), no), control: control)
    #expect(none.respawners.isEmpty)
    // No running systemd: the runner fails, and the service counts as a risk.
    let down = CountingRunner([:])
    let unknown = await RespawnWatch.prepare(
      targets: [service], parents: [:], system: system(ChainSource(chains: [200: [init1]]), down), control: control)
    #expect(unknown.respawners[200]?.reason.contains("could not be read") == true)
    // A holder outside any service: systemctl is never run.
    let plain = ProcessRecord(pid: 300, ppid: 1, name: "api", commandLine: ["api"], controlGroup: "0::/")
    let quiet = CountingRunner([:])
    let nothing = await RespawnWatch.prepare(
      targets: [plain], parents: [:], system: system(ChainSource(chains: [300: [init1]]), quiet), control: control)
    #expect(nothing.respawners.isEmpty)
    #expect(quiet.runs.withLock { $0 }.isEmpty)
  }

  @Test func aScriptIsReadThroughTheSourceAndTheLoopingShellIsPinned() async {
    let shell = ProcessRecord(pid: 50, ppid: 9, name: "bash", commandLine: ["bash", "run.sh"], startTicks: 3)
    let target = ProcessRecord(pid: 60, ppid: 50, name: "server", commandLine: ["server"], startTicks: 4)
    let terminal = ProcessRecord(pid: 9, ppid: 1, name: "xterm", commandLine: ["xterm"])
    let control = FakeProcessControl([50: .init(startTicks: 3)])
    let looping = ChainSource(chains: [60: [shell, terminal]], files: ["50:run.sh": "until server; do :; done\n"])
    let watch = await RespawnWatch.prepare(
      targets: [target], parents: [:], system: system(looping, CountingRunner([:])), control: control)
    let risks = watch.risks(for: [target], ended: [60])
    #expect(risks.map(\.reason) == ["parent is bash (pid 50), running the script run.sh, which loops"])
    #expect(watch.handles[50] != nil)
    #expect(await !watch.allExited(risks, control: control))
    control.replace(50, with: nil)
    #expect(await watch.allExited(risks, control: control))
    // The shell was ended with the target: nothing is left to start it again.
    #expect(watch.risks(for: [target], ended: [60, 50]).isEmpty)
    let once = ChainSource(chains: [60: [shell, terminal]], files: ["50:run.sh": "server\necho stopped\n"])
    let oneShot = await RespawnWatch.prepare(
      targets: [target], parents: [:], system: system(once, CountingRunner([:])), control: control)
    #expect(oneShot.respawners.isEmpty)
  }
}

/// How the watch for a respawn ends: a respawn, everything that could respawn exiting, or
/// the window.
@Suite struct RespawnWatchEndingTests {
  private let item = FreeVerifier.Item(proto: .tcp, port: 3000)

  @Test func theWatchEndsOnceTheRespawnersAreGone() async throws {
    let verifier = FreeVerifier(source: FreeVerifierTests.TableSource(sockets: []), probe: nil)
    // Had it not ended early, it would have watched the whole ten minutes and said so. (The
    // bound leaves room for a full test run, whose blocking tests can hold every cooperative
    // thread for a minute.)
    let gone = try await verifier.verifyWatching(
      [item], ended: [10], respawnWindow: .seconds(600), respawnersGone: { true })
    #expect(gone.watch?.ending == .respawnerExited)
    #expect(gone.watch?.window == .seconds(600))
    #expect((gone.watch?.watched ?? .zero) < .seconds(300))
    #expect(gone.ports.map(\.verdict) == [.freeUnprobed])

    let alive = try await verifier.verifyWatching(
      [item], ended: [10], respawnWindow: .milliseconds(250), respawnersGone: { false })
    #expect(alive.watch?.ending == .windowElapsed)
    #expect((alive.watch?.watched ?? .zero) >= .milliseconds(250))

    let none = try await verifier.verifyWatching([item], ended: [10], respawnWindow: .zero)
    #expect(none.watch == nil)
  }

  @Test func aRespawnEndsTheWatchAsRespawned() async throws {
    let listener = SocketEntry(proto: .tcp, local: Endpoint(address: .anyV4, port: 3000), state: .listen, id: 5)
    let verifier = FreeVerifier(source: FreeVerifierTests.TableSource(sockets: [listener]), probe: nil)
    let result = try await verifier.verifyWatching(
      [item], ended: [10], respawnWindow: .seconds(30), respawnersGone: { false })
    #expect(result.watch?.ending == .respawned)
    #expect(result.ports.map(\.verdict) == [.respawned])
  }
}
