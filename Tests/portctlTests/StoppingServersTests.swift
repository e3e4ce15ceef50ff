#if os(Linux)
import Foundation
import Testing

/// `kill` and `free` on real servers: each stopped its way (PostgreSQL with SIGINT, gunicorn
/// with SIGTERM to the arbiter only, nginx with SIGQUIT), the consent prompt naming server,
/// manager and blast radius, `--via-manager` through supervisorctl, and the progress line on
/// a terminal only. Every server runs on a free port in a temporary directory and is stopped
/// after, also on failure.
@Suite(.serialized) struct StoppingServersTests {
  static let hasScript = Programs.installed("/usr/bin/script")

  private func temporaryDirectory(_ label: String) throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "portctl-stop-\(label)-\(getpid())-\(Int.random(in: 0..<1_000_000))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
  }

  private func targets(_ document: [String: Any]) -> [Int: [String: Any]] {
    var byPID: [Int: [String: Any]] = [:]
    for target in document["targets"] as? [[String: Any]] ?? [] {
      if let pid = target["pid"] as? Int { byPID[pid] = target }
    }
    return byPID
  }

  /// On a pseudo-terminal, without colour.
  private func onTerminal(_ command: String, answering answer: String? = nil, after prompt: String = "[y/N")
    throws -> RunResult
  {
    try onPseudoTerminal(command, answering: answer, after: prompt, environment: ["NO_COLOR": "1"])
  }

  // MARK: PostgreSQL

  /// An idle psql client stays connected: SIGTERM (a smart shutdown) would wait for it, so
  /// `free` sends SIGINT (fast shutdown); the postmaster exits within seconds, cleanly.
  @Test(
    .enabled(
      if: PostgresCluster.available, "needs root, the postgres user and PostgreSQL 15 in /usr/lib/postgresql/15/bin"))
  func postgresWithAnIdleClientStopsOnSIGINT() throws {
    let cluster = try PostgresCluster()
    defer { cluster.cleanUp() }
    let (postmaster, port, data, backendPID) = (cluster.postmaster, cluster.port, cluster.data, cluster.backend)

    // The dry run names what goes with the postmaster: its backends and helpers are its
    // workers, waited on (none of them holds the listener).
    let dry = try portctl("free", "\(port)", "--dry-run")
    #expect(dry.stdout.hasPrefix("would send SIGINT to:\n"), "\(dry.stdout)")
    #expect(
      dry.stdout.split(separator: "\n").contains {
        $0.hasPrefix("└ ") && $0.contains("postgres: postgres postgres 127.0.0.1(")
      },
      "\(dry.stdout)")
    #expect(dry.stdout.contains(" workers stop with it"), "\(dry.stdout)")
    #expect(
      dry.stdout.contains("sends: SIGINT to postgres (pid \(postmaster.pid)), SIGKILL after 60 s"), "\(dry.stdout)")

    let (result, seconds) = try timed { try portctl("free", "\(port)", "--yes", "--json") }
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    let document = try result.json()
    let master = try #require(targets(document)[Int(postmaster.pid)], "\(document)")
    #expect(master["signals"] as? [String] == ["INT"])
    #expect(master["signal"] as? String == "INT")
    #expect(master["outcome"] as? String == "exited")
    #expect(master["graceSeconds"] as? Double == 60)
    #expect((master["server"] as? [String: Any])?["kind"] as? String == "postgres")
    #expect((master["seconds"] as? Double ?? 99) < 10)
    #expect(seconds < 15, "free took \(seconds) s")
    #expect(document["freed"] as? Bool == true)
    // The client's backend holds no listener; it is waited on and stops with the postmaster.
    let connection = try #require(targets(document)[Int(backendPID)], "the backend is not a target: \(document)")
    #expect(connection["signals"] as? [String] == [])
    #expect(connection["outcome"] as? String == "stopped-with-master")
    #expect(postmaster.exitStatus(within: 5) == 0, "the postmaster did not exit cleanly")
    #expect(
      !FileManager.default.fileExists(atPath: "\(data)/postmaster.pid"), "a stale postmaster.pid was left behind")
  }

  // MARK: gunicorn

  /// A request is in flight when `free` runs: the arbiter alone gets SIGTERM, lets its
  /// workers finish, and the request completes with 200.
  @Test func gunicornFinishesTheRequestInFlight() throws {
    guard let python = RealServers.python(importing: "gunicorn"), Programs.installed("/usr/bin/curl") else {
      Issue.record("gunicorn and curl are needed; .ci/run installs them")
      return
    }
    let directory = try temporaryDirectory("gunicorn")
    defer { try? FileManager.default.removeItem(at: directory) }
    let started = directory.appendingPathComponent("started").path
    try """
    import time
    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/slow":
            open(\(String(reflecting: started)), "w").close()
            time.sleep(2)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done\\n"]
    """.write(to: directory.appendingPathComponent("app.py"), atomically: true, encoding: .utf8)
    let port = try portFreeEverywhere()
    let server = try Spawned(
      python, ["-m", "gunicorn", "-w", "2", "-b", "127.0.0.1:\(port)", "--chdir", directory.path, "app:app"])
    var workers: [Int32] = []
    defer {
      if server.exitStatus(within: 0) == nil {
        kill(server.pid, SIGTERM)
        if server.exitStatus(within: 10) == nil { server.stop() }
      }
      for worker in workers where isAlive(worker) { kill(worker, SIGKILL) }
    }
    try #require(
      eventually(20) { loopbackTaken(port) && childPIDs(of: server.pid).count == 2 }, "gunicorn did not start")
    workers = childPIDs(of: server.pid)

    let request = Process()
    request.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    request.arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/slow"]
    let answer = Pipe()
    request.standardOutput = answer
    request.standardError = FileHandle.nullDevice
    try request.run()
    defer { if request.isRunning { request.terminate() } }
    try #require(eventually(10) { FileManager.default.fileExists(atPath: started) }, "the request did not start")

    let result = try portctl("free", "\(port)", "--yes", "--json")
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    request.waitUntilExit()
    let code = String(decoding: answer.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(code == "200", "the request in flight got \(code)")
    let byPID = targets(try result.json())
    let arbiter = try #require(byPID[Int(server.pid)])
    #expect(arbiter["signals"] as? [String] == ["TERM"])
    #expect(arbiter["outcome"] as? String == "exited")
    #expect(arbiter["graceSeconds"] as? Double == 35)
    for worker in workers {
      let target = try #require(byPID[Int(worker)], "worker \(worker) is not a target")
      #expect(target["signals"] as? [String] == [], "worker \(worker) was signalled")
      #expect(target["signal"] is NSNull)
      #expect(target["master"] as? Int == Int(server.pid))
      #expect(target["outcome"] as? String == "stopped-with-master")
    }
  }

  // MARK: nginx

  /// nginx with two ports: the dry run names the blast radius and SIGQUIT; `free` sends
  /// SIGQUIT to the master only; the workers stop with it; `--signal` replaces SIGQUIT.
  @Test(.enabled(if: Programs.installed("/usr/sbin/nginx"), "needs nginx; .ci/run installs nginx-light"))
  func nginxIsStoppedWithSIGQUIT() throws {
    let directory = try temporaryDirectory("nginx")
    defer { try? FileManager.default.removeItem(at: directory) }
    let port = try portFreeEverywhere()
    let other = try portFreeEverywhere()
    let conf = try nginxConfig(in: directory, ports: [port, other])
    let server = try Spawned("/usr/sbin/nginx", ["-c", conf, "-p", directory.path, "-g", "daemon off;"])
    var workers: [Int32] = []
    defer {
      if server.exitStatus(within: 0) == nil {
        kill(server.pid, SIGQUIT)
        if server.exitStatus(within: 10) == nil { server.stop() }
      }
      for worker in workers where isAlive(worker) { kill(worker, SIGKILL) }
    }
    try #require(
      eventually(10) { loopbackTaken(port) && childPIDs(of: server.pid).count == 2 }, "nginx did not start")
    workers = childPIDs(of: server.pid)

    let dry = try portctl("free", "\(port)", "--dry-run")
    #expect(dry.status == 0)
    #expect(dry.stdout.hasPrefix("would send SIGQUIT to:\n"), "\(dry.stdout)")
    #expect(dry.stdout.contains("server nginx: nginx master process \(server.pid) and 2 workers"), "\(dry.stdout)")
    #expect(dry.stdout.contains("it also listens on 127.0.0.1:\(other)/tcp"), "\(dry.stdout)")
    #expect(
      dry.stdout.contains(
        "sends: SIGQUIT to nginx (pid \(server.pid)), SIGKILL after 10 s to whatever is left; 2 workers stop with it"),
      "\(dry.stdout)")
    let given = try portctl("kill", "\(port)", "--dry-run", "--json", "--signal", "TERM", "--timeout", "3s")
    let givenMaster = try #require(targets(try given.json())[Int(server.pid)])
    #expect(givenMaster["signal"] as? String == "TERM")
    #expect(givenMaster["graceSeconds"] as? Double == 3)

    let result = try portctl("free", "\(port)", "--yes", "--json")
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    let byPID = targets(try result.json())
    #expect(byPID[Int(server.pid)]?["signals"] as? [String] == ["QUIT"])
    #expect(byPID[Int(server.pid)]?["outcome"] as? String == "exited")
    for worker in workers {
      #expect(byPID[Int(worker)]?["outcome"] as? String == "stopped-with-master")
      #expect(byPID[Int(worker)]?["signals"] as? [String] == [])
    }
    #expect(server.exitStatus(within: 5) != nil)
    let log = (try? String(contentsOfFile: "\(directory.path)/error.log", encoding: .utf8)) ?? ""
    #expect(log.contains("signal 3 (SIGQUIT) received"), "\(log)")
  }

  /// An nginx configuration listening on `ports` of 127.0.0.1; its path.
  private func nginxConfig(in directory: URL, ports: [UInt16]) throws -> String {
    let conf = directory.appendingPathComponent("nginx.conf").path
    let temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map { "\($0)_temp_path \(directory.path)/\($0);" }
    let listens = ports.map { "listen 127.0.0.1:\($0);" }.joined(separator: " ")
    try """
    worker_processes 2;
    pid \(directory.path)/nginx.pid;
    error_log \(directory.path)/error.log notice;
    events {}
    http {
      access_log off;
      \(temp.joined(separator: "\n  "))
      server { \(listens) return 200 "ok\\n"; }
    }
    """.write(toFile: conf, atomically: true, encoding: .utf8)
    return conf
  }

  // MARK: the prompt and --via-manager

  /// memcached run by supervisord, on a TCP and a UDP port: the prompt (on a pseudo-terminal)
  /// names the server, the supervisord program with its stop command, the other port and
  /// what is sent; "n" leaves it running. Then `--via-manager` stops it through supervisorctl
  /// (supervisord does not start it again) and proves the port free.
  @Test(
    .enabled(
      if: RealServers.tool("supervisord") != nil && RealServers.tool("supervisorctl") != nil
        && Programs.installed("/usr/bin/memcached")
        && hasScript, "needs supervisord, memcached and script(1)"))
  func supervisedServerPromptThenViaManager() throws {
    let supervisord = try #require(RealServers.tool("supervisord"))
    let directory = try temporaryDirectory("sv-memcached")
    defer { try? FileManager.default.removeItem(at: directory) }
    let port = try portFreeEverywhere()
    let udp = try portFreeEverywhere()
    let config = try RealServers.supervisordConfig(
      in: directory, program: "cache",
      command: "/usr/bin/memcached -l 127.0.0.1 -p \(port) -U \(udp)\(isRoot ? " -u nobody" : "")")
    let daemon = try Spawned(supervisord, ["-c", config])
    var started: Int32?
    defer {
      daemon.stop(SIGTERM)
      if let started, isAlive(started) { kill(started, SIGKILL) }
    }
    _ = eventually(15) {
      started = childPIDs(of: daemon.pid).first {
        (try? String(contentsOfFile: "/proc/\($0)/comm", encoding: .utf8)) == "memcached\n"
      }
      return started != nil && loopbackTaken(port)
    }
    let memcached = try #require(started, "supervisord did not start memcached")
    let stop = "supervisorctl -c \(config) stop cache"

    let declined = try onTerminal("\(Products.portctl.path) free \(port)/tcp", answering: "n")
    #expect(declined.status == 4)
    let shown = declined.stdout
    #expect(shown.contains("server memcached: the memcached server (pid \(memcached))"), "\(shown)")
    #expect(shown.contains("managed: the supervisord program cache"), "\(shown)")
    #expect(shown.contains("stop with `\(stop)`"), "\(shown)")
    #expect(shown.contains("it also listens on 127.0.0.1:\(udp)/udp"), "\(shown)")
    #expect(shown.contains("sends: SIGTERM to memcached (pid \(memcached)), SIGKILL after 5 s"), "\(shown)")
    #expect(shown.contains("(m: stop through the manager instead) [y/N/m] n"), "\(shown)")
    #expect(shown.contains("nothing was signalled"))
    #expect(isAlive(memcached))
    #expect(loopbackTaken(port))

    let result = try portctl("free", "\(port)/tcp", "--via-manager", "--yes", "--json")
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    let document = try result.json()
    let stops = document["managerStops"] as? [[String: Any]] ?? []
    #expect(stops.first?["command"] as? String == stop)
    #expect(stops.first?["exitCode"] as? Int == 0)
    #expect(document["freed"] as? Bool == true)
    let target = targets(document)[Int(memcached)]
    #expect(target?["outcome"] as? String == "stopped-by-manager")
    #expect(target?["signals"] as? [String] == [])
    #expect((target?["manager"] as? [String: Any])?["runnable"] as? Bool == true)
    #expect((document["ports"] as? [[String: Any]])?.first?["verdict"] as? String == "free")
    #expect(!isAlive(memcached))
    usleep(1_000_000)
    #expect(canBindLoopback(port), "supervisord started memcached again")

    // Started again, then "m" at the prompt: the same stop command instead of a signal.
    let start = try shell("supervisorctl -c \(config) start cache")
    #expect(start.status == 0, "\(start.stdout)")
    try #require(eventually(10) { loopbackTaken(port) }, "supervisord did not start memcached again")
    started = childPIDs(of: daemon.pid).first {
      (try? String(contentsOfFile: "/proc/\($0)/comm", encoding: .utf8)) == "memcached\n"
    }
    let answered = try onTerminal("\(Products.portctl.path) free \(port)/tcp", answering: "m", after: "[y/N/m]")
    #expect(answered.status == 0, "\(answered.stdout)")
    #expect(answered.stdout.contains("portctl: running `\(stop)`"), "\(answered.stdout)")
    #expect(answered.stdout.contains("stopped by its manager"), "\(answered.stdout)")
    #expect(answered.stdout.contains("\(port)/tcp is free"), "\(answered.stdout)")
    #expect(canBindLoopback(port))
  }

  /// `--via-manager` for a holder nothing manages: refused, exit 4, nothing signalled.
  @Test func viaManagerWithoutAManagerIsRefused() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    defer { holder.stop() }
    let result = try portctl("free", "\(holder.port)", "--via-manager", "--yes")
    #expect(result.status == 4)
    #expect(result.stderr.contains("refusing --via-manager: no manager portctl can run stops pid \(holder.pid)"))
    #expect(isAlive(holder.pid))
    let usage = try portctl("free", "\(holder.port)", "--via-manager", "--force")
    #expect(usage.status == 64)
  }

  // MARK: progress

  /// A holder that ignores SIGTERM: on a terminal a live line counts the wait, then the
  /// respawn watch; on a pipe, not a byte of it.
  @Test(.enabled(if: hasScript, "needs script(1)"))
  func progressLineOnATerminalOnly() throws {
    let holder = try Holder("--ignore-term", "tcp:127.0.0.1:0")
    defer { holder.stop() }
    let shown = try onTerminal("\(Products.portctl.path) free \(holder.port) --yes --timeout 1s")
    #expect(shown.status == 0, "\(shown.stdout)")
    let name = "port-holder (pid \(holder.pid))"
    #expect(shown.stdout.contains("\r\u{1B}[2Kwaiting for \(name) to exit after SIGTERM: 0."), "\(shown.stdout)")
    #expect(shown.stdout.contains(" of 1 s"))
    // Nothing can start it again (its parent is the test runner): no respawn watch.
    #expect(!shown.stdout.contains("for a respawn"), "\(shown.stdout)")
    #expect(shown.stdout.contains("did not exit within 1 s of SIGTERM; killed with SIGKILL"), "\(shown.stdout)")
    #expect(!shown.stdout.contains("ignoring"))

    let piped = try Holder("--ignore-term", "tcp:127.0.0.1:0")
    defer { piped.stop() }
    let result = try portctl("free", "\(piped.port)", "--yes", "--timeout", "1s")
    #expect(result.status == 0)
    #expect(!result.stderr.contains("waiting for"), "\(result.stderr)")
    #expect(!result.stderr.contains("watching"), "\(result.stderr)")
    #expect(!result.stderr.contains("\u{1B}"), "\(result.stderr)")
    #expect(result.stdout.contains("did not exit within 1 s of SIGTERM; killed with SIGKILL"))
  }

  /// `free --wait` on a port only TIME_WAIT blocks: the drain is counted on a terminal.
  @Test(.enabled(if: hasScript && Programs.installed(Programs.python), "needs script(1) and python3"))
  func drainingIsShownOnATerminal() throws {
    let port = try realTimeWait(reuseAddress: false)
    let shown = try onTerminal("\(Products.portctl.path) free \(port) --yes --wait --wait-timeout 1s")
    #expect(shown.stdout.contains("\u{1B}[2Kwaiting for closing sockets on port \(port) to drain: "), "\(shown.stdout)")
    #expect(shown.stdout.contains(" of 1 s"), "\(shown.stdout)")
  }
}
#endif
