#if os(Linux)
import Foundation
import Testing

/// `free PORT --yes --json` on real servers: each is stopped cleanly, its way. The master
/// alone gets the server's stop signal (the one `why --json` names) and exits without
/// SIGKILL, every worker stops with it, no process of the server is left, the port is free,
/// and no respawn watch runs where nothing can start it again.
@Suite(.serialized) struct FreeRealServersTests {
  static let canRunSSH = isRoot && Programs.installed("/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/ssh-keygen")

  /// Frees `spec` and checks that it stopped the server cleanly: `master` got the stop signal
  /// that `why --json` gives for it (`signal`, as `server.stopSignal`; no recognised server
  /// when `kind` is nil: SIGTERM) and exited, each of `workers` stopped with it, nothing else
  /// was a target, every pid in `workers` and `others` is gone, each port is free, and there
  /// was no respawn watch. Returns free's document.
  @discardableResult
  private func expectFreedCleanly(
    _ spec: String, kind: String?, master: pid_t, workers: [pid_t], others: [pid_t] = [], signal: String = "SIGTERM"
  ) throws -> [String: Any] {
    // The stop signal, as why names it.
    let why = try portctl("why", spec, "--json")
    #expect(why.status == 0, "\(why.stdout)\(why.stderr)")
    let holders = try why.json().sockets.flatMap { $0["processes"] as? [[String: Any]] ?? [] }
    try #require(!holders.isEmpty, "why found no holder of \(spec)")
    var stopSignal = "SIGTERM"
    for holder in holders {
      let server = holder["server"] as? [String: Any]
      if let kind {
        #expect(server?["kind"] as? String == kind, "\(holder)")
        #expect(server?["master"] as? Int == Int(master), "\(holder)")
        stopSignal = server?["stopSignal"] as? String ?? "?"
      } else {
        #expect(server == nil, "\(holder)")
      }
    }
    #expect(stopSignal == signal)

    let result = try portctl("free", spec, "--yes", "--json")
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    let document = try result.json()
    #expect(document["exitCode"] as? Int == 0)
    #expect(document["freed"] as? Bool == true, "\(result.stdout)")

    let targets = document["targets"] as? [[String: Any]] ?? []
    let pids = targets.compactMap { $0["pid"] as? Int }
    #expect(Set(pids) == Set(([master] + workers).map(Int.init)), "\(result.stdout)")
    #expect(pids.count == 1 + workers.count, "\(result.stdout)")
    let sent = String(stopSignal.dropFirst(3))
    for target in targets {
      let pid = target["pid"] as? Int ?? -1
      #expect(target["master"] as? Int == Int(master), "\(target)")
      if pid == Int(master) {
        #expect(target["signal"] as? String == sent, "\(target)")
        #expect(target["signals"] as? [String] == [sent], "\(target)")
        #expect(target["outcome"] as? String == "exited", "\(target)")
      } else {
        #expect(target["signal"] is NSNull, "\(target)")
        #expect(target["signals"] as? [String] == [], "worker \(pid) was signalled: \(target)")
        #expect(target["outcome"] as? String == "stopped-with-master", "\(target)")
      }
      if let kind {
        #expect((target["server"] as? [String: Any])?["kind"] as? String == kind, "\(target)")
      }
    }

    // Nothing of it is left: the targets are gone (free saw them go), its other processes
    // follow within moments.
    for pid in [master] + workers { #expect(!isAlive(pid), "pid \(pid) is still running") }
    #expect(eventually(10) { others.allSatisfy { !isAlive($0) } }, "still running: \(others.filter(isAlive))")

    let ports = document["ports"] as? [[String: Any]] ?? []
    #expect(!ports.isEmpty)
    for port in ports {
      #expect(port["verdict"] as? String == "free", "\(port)")
      #expect(port["free"] as? Bool == true)
    }
    #expect(document["respawnWatch"] is NSNull, "\(document["respawnWatch"] ?? "")")
    #expect((document["respawnRisks"] as? [String])?.isEmpty == true, "\(document["respawnRisks"] ?? "")")
    return document
  }

  /// The Python that imports `module`, or a visible skip (an issue recorded) when none does.
  private func python(_ module: String) -> String? {
    guard let python = RealServers.python(importing: module) else {
      Issue.record("\(module) is not installed; .ci/run installs it")
      return nil
    }
    return python
  }

  // MARK: Python servers with workers

  @Test func uvicornWithTwoWorkers() throws {
    guard let python = python("uvicorn") else { return }
    let server = try RealServers.uvicorn(python)
    defer { server.cleanUp() }
    // The resource tracker is no worker: it is no target, and it goes too.
    try expectFreedCleanly(
      "127.0.0.1:\(server.port)", kind: "uvicorn", master: server.master, workers: server.workers,
      others: server.helpers)
    #expect(server.process?.exitStatus(within: 5) == 0, "uvicorn did not exit with 0")
  }

  @Test func hypercornWithTwoWorkers() throws {
    guard let python = python("hypercorn") else { return }
    let server = try RealServers.hypercorn(python)
    defer { server.cleanUp() }
    try expectFreedCleanly(
      "127.0.0.1:\(server.port)", kind: "hypercorn", master: server.master, workers: server.workers,
      others: server.helpers)
    #expect(server.process?.exitStatus(within: 5) != nil)
  }

  // MARK: node cluster

  @Test(.enabled(if: Programs.installed(Programs.node), "needs node"))
  func nodeClusterWithTwoWorkers() throws {
    let server = try RealServers.nodeCluster()
    defer { server.cleanUp() }
    try expectFreedCleanly(
      "127.0.0.1:\(server.port)", kind: "node-cluster", master: server.master, workers: server.workers)
  }

  // MARK: reloaders

  @Test func flaskReloader() throws {
    guard let python = python("flask") else { return }
    let server = try RealServers.flask(python)
    defer { server.cleanUp() }
    try expectFreedCleanly(
      "127.0.0.1:\(server.port)", kind: "werkzeug", master: server.master, workers: server.workers)
    #expect(server.process?.exitStatus(within: 5) != nil)
  }

  @Test func djangoRunserver() throws {
    guard let python = python("django") else { return }
    let server = try RealServers.django(python)
    defer { server.cleanUp() }
    // Only the child holds the socket; the autoreloader above it is signalled.
    try expectFreedCleanly(
      "127.0.0.1:\(server.port)", kind: "django", master: server.master, workers: server.workers)
    #expect(server.process?.exitStatus(within: 5) != nil)
  }

  // MARK: databases

  @Test(.enabled(if: Programs.installed("/usr/bin/redis-server"), "needs redis-server"))
  func redis() throws {
    let server = try RealServers.redis()
    defer { server.cleanUp() }
    try expectFreedCleanly("127.0.0.1:\(server.port)", kind: "redis", master: server.master, workers: [])
    // A clean shutdown: exit status 0.
    #expect(server.process?.exitStatus(within: 5) == 0, "redis did not exit with 0")
  }

  @Test(.enabled(if: Programs.installed("/usr/bin/memcached"), "needs memcached"))
  func memcachedAlone() throws {
    let server = try RealServers.memcached()
    defer { server.cleanUp() }
    try expectFreedCleanly("127.0.0.1:\(server.port)", kind: "memcached", master: server.master, workers: [])
    #expect(server.process?.exitStatus(within: 5) != nil)
  }

  // MARK: Java

  @Test(.enabled(if: Programs.installed("/usr/bin/java", "/usr/bin/javac", "/usr/bin/jar"), "needs a JDK"))
  func javaJar() throws {
    let server = try RealServers.javaJar()
    defer { server.cleanUp() }
    try expectFreedCleanly("127.0.0.1:\(server.port)", kind: "java", master: server.master, workers: [])
    // The JVM runs its shutdown on SIGTERM and exits with 128 + 15.
    #expect(server.process?.exitStatus(within: 5) == 143)
  }

  // MARK: an ssh -NL forward

  /// The forward's port is freed by ending that ssh client; the sshd it goes through keeps
  /// running and listening.
  @Test(.enabled(if: canRunSSH, "needs root, sshd, ssh and ssh-keygen"))
  func sshForwardAndTheSshdKeepsRunning() throws {
    let forward = try RealServers.sshForward()
    defer { forward.cleanUp() }
    try expectFreedCleanly(
      "127.0.0.1:\(forward.forwardPort)", kind: "ssh-forward", master: forward.ssh.pid, workers: [])
    #expect(forward.ssh.exitStatus(within: 5) != nil)
    #expect(isAlive(forward.sshd.pid), "sshd was stopped too")
    #expect(RealServers.accepting(forward.sshdPort), "sshd no longer accepts on \(forward.sshdPort)")
  }

  // MARK: tmux on a -L socket

  /// A holder in a tmux window: it alone is signalled (tmux starts nothing again, so no
  /// watch); the tmux server and its session keep running.
  @Test(.enabled(if: RealServers.tool("tmux") != nil, "needs tmux"))
  func holderInTmuxOnANamedSocket() throws {
    let tmux = try RealServers.tmuxHolder()
    defer { tmux.cleanUp() }
    let serverPID = try #require(tmux.serverPID, "the tmux server does not answer")
    let document = try expectFreedCleanly(
      "127.0.0.1:\(tmux.port)", kind: nil, master: tmux.holder, workers: [])
    let target = (document["targets"] as? [[String: Any]])?.first
    #expect((target?["manager"] as? [String: Any])?["kind"] as? String == "tmux", "\(target ?? [:])")
    #expect(isAlive(serverPID), "the tmux server was stopped")
    #expect(tmux.serverPID == serverPID)
    #expect(detached(tmux.tmux, ["-L", tmux.socketName, "has-session", "-t", tmux.session]) == 0)
  }
}
#endif
