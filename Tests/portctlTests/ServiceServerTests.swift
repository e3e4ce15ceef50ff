#if os(Linux)
import Foundation
import Testing

/// `why` on real databases and system services: PostgreSQL with a connected client, redis,
/// memcached, sshd with an `ssh -NL` forward to it, tmux on a `-L` socket, and a server
/// supervisord runs. Each runs on a free port in a temporary directory and is stopped after.
@Suite(.serialized) struct ServiceServerTests {
  static let canRunSSH = isRoot && Programs.installed("/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/ssh-keygen")

  /// A fresh temporary directory, removed by the caller.
  private func temporaryDirectory(_ label: String) throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "portctl-\(label)-\(getpid())-\(Int.random(in: 0..<1_000_000))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
  }

  /// The process object of `pid` in a `why --json` document.
  private func process(_ document: [String: Any], _ pid: Int32) throws -> [String: Any] {
    let all = document.sockets.flatMap { $0["processes"] as? [[String: Any]] ?? [] }
    return try #require(all.first { $0["pid"] as? Int == Int(pid) }, "no process \(pid) in \(document)")
  }

  private func server(_ document: [String: Any], _ pid: Int32) throws -> [String: Any] {
    try #require(try process(document, pid)["server"] as? [String: Any], "no server for \(pid)")
  }

  /// Waits for `pid` to exit (it is the test's child), up to `seconds`; whether it did.
  private func reaped(_ pid: pid_t, within seconds: Double) -> Bool {
    eventually(seconds) {
      var status: Int32 = 0
      return waitpid(pid, &status, WNOHANG) == pid || !isAlive(pid)
    }
  }

  // MARK: PostgreSQL

  @Test(
    .enabled(
      if: PostgresCluster.available, "needs root, the postgres user and PostgreSQL 15 in /usr/lib/postgresql/15/bin"))
  func postgresPostmasterWithAnIdleClient() throws {
    // Autovacuum off: its workers come and go, and the workers are asserted exactly.
    let cluster = try PostgresCluster(settings: ["autovacuum=off"])
    defer { cluster.cleanUp() }
    let (postmaster, port, data, backendPID) = (cluster.postmaster, cluster.port, cluster.data, cluster.backend)
    let backendTitle = PostgresCluster.backendTitle

    var document: [String: Any] = [:]
    var children: [pid_t] = []
    for _ in 0..<5 {
      children = childPIDs(of: postmaster.pid)
      let result = try portctl("why", "\(port)", "--all", "--json")
      #expect(result.status == 0)
      document = try result.json()
      if childPIDs(of: postmaster.pid) == children { break }
    }
    let master = try server(document, postmaster.pid)
    #expect(master["kind"] as? String == "postgres")
    #expect(master["name"] as? String == "PostgreSQL")
    #expect(master["master"] as? Int == Int(postmaster.pid))
    #expect(master["workers"] as? [Int] == children.map(Int.init))
    #expect(children.contains(backendPID))
    #expect(master["stopSignal"] as? String == "SIGINT")
    #expect(master["graceSeconds"] as? Double == 60)
    #expect(master["stop"] as? String == "\(PostgresCluster.bin)/pg_ctl stop -D \(data) -m fast")
    #expect(
      (master["detail"] as? String)?.hasPrefix(
        "PostgreSQL 15 postmaster (pid \(postmaster.pid)), data directory \(data)")
        == true)
    // The backend holds the client's connection (--all) and belongs to its postmaster.
    let connection = try server(document, backendPID)
    #expect(connection["master"] as? Int == Int(postmaster.pid))
    #expect(connection["kind"] as? String == "postgres")
    #expect(connection["stop"] as? String == master["stop"] as? String)
    #expect((connection["detail"] as? String)?.hasPrefix("a backend (\(backendTitle)") == true)
    let text = try portctl("why", "\(port)")
    #expect(text.status == 0)
    #expect(text.stdout.contains("  master \(postmaster.pid) \(PostgresCluster.bin)/postgres -D \(data) "))
    #expect(text.stdout.components(separatedBy: "  server PostgreSQL").count == 2)
  }

  // MARK: redis and memcached

  @Test(.enabled(if: Programs.installed("/usr/bin/redis-server", "/usr/bin/redis-cli"), "needs redis-server"))
  func redisServerAndItsOwnShutdown() throws {
    let started = try RealServers.redis()
    defer { started.cleanUp() }
    let port = started.port
    let redis = try #require(started.process)
    let result = try portctl("why", "\(port)", "--json")
    #expect(result.status == 0)
    let server = try server(try result.json(), redis.pid)
    #expect(server["kind"] as? String == "redis")
    #expect(server["master"] as? Int == Int(redis.pid))
    #expect(server["workers"] as? [Int] == [])
    #expect(server["stopSignal"] as? String == "SIGTERM")
    #expect(server["graceSeconds"] as? Double == 30)
    let stop = try #require(server["stop"] as? String)
    #expect(stop == "redis-cli -h 127.0.0.1 -p \(port) shutdown")
    let text = try portctl("why", "\(port)")
    #expect(text.stdout.contains("  master \(redis.pid) /usr/bin/redis-server 127.0.0.1:\(port)  ("))
    // The suggested command, run through a shell, stops it.
    _ = try shell(stop)
    #expect(redis.exitStatus(within: 10) == 0)
    // Nothing listens any more (the closed client connection may leave a TIME_WAIT socket).
    #expect(try portctl("who", "\(port)").status == 1)
  }

  @Test(.enabled(if: Programs.installed("/usr/bin/memcached"), "needs memcached"))
  func memcachedIsStoppedWithSigterm() throws {
    let started = try RealServers.memcached()
    defer { started.cleanUp() }
    let port = started.port
    let memcached = try #require(started.process)
    let result = try portctl("why", "\(port)", "--json")
    #expect(result.status == 0)
    let server = try server(try result.json(), memcached.pid)
    #expect(server["kind"] as? String == "memcached")
    #expect(server["master"] as? Int == Int(memcached.pid))
    #expect(server["workers"] as? [Int] == [])
    #expect(server["stopSignal"] as? String == "SIGTERM")
    #expect(server["graceSeconds"] as? Double == 5)
    #expect(server["stop"] is NSNull)
    let text = try portctl("why", "\(port)")
    #expect(text.stdout.contains("  master \(memcached.pid) /usr/bin/memcached -l 127.0.0.1 -p \(port)"))
  }

  // MARK: sshd and an ssh -NL forward

  @Test(.enabled(if: canRunSSH, "needs root, sshd, ssh and ssh-keygen"))
  func sshdListenerAndACombinedFlagForward() throws {
    let started = try RealServers.sshForward()
    defer { started.cleanUp() }
    let (sshd, sshdPort, ssh) = (started.sshd, started.sshdPort, started.ssh)
    let (forwardPort, forward) = (started.forwardPort, started.forward)
    var sessions: [pid_t] = []
    _ = eventually(5) {
      sessions = childPIDs(of: sshd.pid)
      return !sessions.isEmpty
    }
    try #require(!sessions.isEmpty, "sshd started no session process")

    let listener = try portctl("why", "\(sshdPort)", "--json")
    #expect(listener.status == 0)
    let daemon = try server(try listener.json(), sshd.pid)
    #expect(daemon["kind"] as? String == "sshd")
    #expect(daemon["master"] as? Int == Int(sshd.pid))
    #expect(daemon["workers"] as? [Int] == [])
    #expect(daemon["stopSignal"] as? String == "SIGTERM")
    #expect(daemon["stop"] is NSNull)
    let listed = sessions.map(String.init).joined(separator: ", ")
    let count = sessions.count
    #expect(
      (daemon["detail"] as? String)?.contains(
        "its \(count) session process\(count == 1 ? "" : "es") (pid\(count == 1 ? "" : "s") \(listed)) \(count == 1 ? "is" : "are") not the listener"
      ) == true, "\(daemon["detail"] ?? "")")

    let forwarded = try portctl("why", "\(forwardPort)", "--json")
    #expect(forwarded.status == 0)
    let client = try process(try forwarded.json(), ssh.pid)
    let recognized = try #require(client["server"] as? [String: Any])
    #expect(recognized["kind"] as? String == "ssh-forward")
    #expect(recognized["name"] as? String == "-L \(forward)")
    #expect(recognized["master"] as? Int == Int(ssh.pid))
    #expect(recognized["workers"] as? [Int] == [])
    #expect(recognized["stopSignal"] as? String == "SIGTERM")
    #expect(
      recognized["detail"] as? String
        == "an ssh port forward (-L \(forward): local \(forwardPort) to 127.0.0.1:\(sshdPort)) through root@127.0.0.1")
    let manager = try #require((client["managers"] as? [[String: Any]])?.first)
    #expect(manager["kind"] as? String == "ssh-forward")
    #expect(manager["name"] as? String == "-L \(forward)")
    let text = try portctl("why", "\(forwardPort)")
    #expect(text.stdout.contains("managed by  an SSH port forward (/usr/bin/ssh -F /dev/null -NL \(forward) "))
    #expect(text.stdout.contains("stop with   close that ssh session (exit it, or kill \(ssh.pid))"))
  }

  // MARK: tmux on a -L socket

  @Test(.enabled(if: RealServers.tool("tmux") != nil, "needs tmux"))
  func tmuxOnANamedSocketIsStoppedByItsOwnCommand() throws {
    let started = try RealServers.tmuxHolder()
    defer { started.cleanUp() }
    let (tmux, socketName, session, port) = (started.tmux, started.socketName, started.session, started.port)
    let socketPath = started.socketPath
    let result = try portctl("why", "\(port)", "--json")
    #expect(result.status == 0)
    let holder = try #require((try result.json().sockets.first?["processes"] as? [[String: Any]])?.first)
    let manager = try #require((holder["managers"] as? [[String: Any]])?.first)
    #expect(manager["kind"] as? String == "tmux")
    #expect(manager["name"] as? String == session)
    let stop = try #require(manager["stop"] as? String)
    #expect(stop == "tmux -S \(socketPath) kill-session -t \(session)")
    let text = try portctl("why", "\(port)")
    #expect(text.stdout.contains("stop with   \(stop)\n"))
    // Run as a user would paste it: it reaches the -L server and ends the session.
    let stopped = try shell(stop)
    #expect(stopped.status == 0, "\(stopped.stderr)")
    #expect(detached(tmux, ["-L", socketName, "has-session", "-t", session]) != 0)
    #expect(eventually { !loopbackTaken(port) })
  }

  // MARK: Java

  @Test(.enabled(if: Programs.installed("/usr/bin/java", "/usr/bin/javac", "/usr/bin/jar"), "needs a JDK"))
  func javaJarServer() throws {
    let started = try RealServers.javaJar()
    defer { started.cleanUp() }
    let (port, path) = (started.port, started.directory.path)
    let java = try #require(started.process)
    let result = try portctl("why", "\(port)", "--json")
    #expect(result.status == 0)
    let server = try server(try result.json(), java.pid)
    #expect(server["kind"] as? String == "java")
    #expect(server["name"] as? String == "Java")
    #expect(server["master"] as? Int == Int(java.pid))
    #expect(server["workers"] as? [Int] == [])
    #expect(server["stopSignal"] as? String == "SIGTERM")
    #expect(server["graceSeconds"] as? Double == 30)
    #expect(server["stop"] is NSNull)
    #expect((server["detail"] as? String)?.hasPrefix("a Java application run from a jar (\(path)/app.jar)") == true)
  }

  // MARK: a server supervisord runs

  @Test(
    .enabled(
      if: RealServers.tool("supervisord") != nil && Programs.installed("/usr/bin/memcached"),
      "needs supervisord and memcached"))
  func supervisedServerHasBothAndTheManagersStopWins() throws {
    let supervisord = try #require(RealServers.tool("supervisord"))
    let directory = try temporaryDirectory("sv-memcached")
    defer { try? FileManager.default.removeItem(at: directory) }
    let port = try portFreeEverywhere()
    let config = try RealServers.supervisordConfig(
      in: directory, program: "cache",
      command: "/usr/bin/memcached -l 127.0.0.1 -p \(port) -U 0\(isRoot ? " -u nobody" : "")")
    let daemon = try Spawned(supervisord, ["-c", config])
    defer { daemon.stop(SIGTERM) }
    try #require(eventually(15) { loopbackTaken(port) }, "supervisord did not start memcached")
    var cache: pid_t?
    _ = eventually(5) {
      cache = childPIDs(of: daemon.pid).first {
        (try? String(contentsOfFile: "/proc/\($0)/comm", encoding: .utf8)) == "memcached\n"
      }
      return cache != nil
    }
    let memcached = try #require(cache)
    let result = try portctl("why", "\(port)", "--json")
    #expect(result.status == 0)
    let holder = try process(try result.json(), memcached)
    let server = try #require(holder["server"] as? [String: Any])
    #expect(server["kind"] as? String == "memcached")
    #expect(server["master"] as? Int == Int(memcached))
    let manager = try #require((holder["managers"] as? [[String: Any]])?.first)
    #expect(manager["kind"] as? String == "supervisord")
    let stop = "supervisorctl -c \(config) stop cache"
    #expect(manager["stop"] as? String == stop)
    let text = try portctl("why", "\(port)")
    #expect(text.stdout.contains("managed by  the supervisord program cache"))
    #expect(text.stdout.contains("stop with   \(stop)\n"))
    // The manager's stop frees the port for good: supervisord does not start it again.
    let stopped = try shell(stop)
    #expect(stopped.status == 0, "\(stopped.stdout)\(stopped.stderr)")
    #expect(eventually(10) { !loopbackTaken(port) })
    usleep(1_500_000)
    #expect(!loopbackTaken(port), "supervisord started memcached again")
  }
}
#endif
