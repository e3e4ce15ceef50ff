#if os(Linux)
import Foundation
import Testing

/// `why` on real web and application servers: the server named once, its master and
/// workers, its stop signal and command.
@Suite(.serialized) struct WebServerWhyTests {
  /// Checks `why --json` and `why` on `127.0.0.1:port`: every holder names the same server,
  /// with exactly this master, these workers, signal and stop command; the text names it
  /// once, folds identical workers and shows the stop. Returns the text.
  @discardableResult
  private func expectServer(
    port: UInt16, kind: String, master: Int32, workers: [Int32], signal: String, grace: Int, stop: String?,
    holders: [Int32]? = nil, foldedWorkers: String? = nil
  ) throws -> RunResult {
    let json = try portctl("why", "127.0.0.1:\(port)", "--json")
    #expect(json.status == 0, "\(json.stderr)")
    let sockets = try json.json().sockets
    #expect(sockets.count == 1)
    let processes = try #require(sockets.first?["processes"] as? [[String: Any]])
    if let holders {
      #expect(processes.compactMap { $0["pid"] as? Int } == holders.map(Int.init))
    }
    for process in processes {
      let server = try #require(process["server"] as? [String: Any], "no server for \(process["pid"] ?? "?")")
      #expect(server["kind"] as? String == kind)
      #expect(server["master"] as? Int == Int(master))
      #expect(server["workers"] as? [Int] == workers.sorted().map(Int.init))
      #expect(server["stopSignal"] as? String == signal)
      #expect(server["graceSeconds"] as? Double == Double(grace))
      if let stop {
        #expect(server["stop"] as? String == stop)
      } else {
        #expect(server["stop"] is NSNull)
      }
      // The full command line stays in JSON.
      #expect((process["commandLine"] as? [String])?.isEmpty == false)
    }

    let text = try portctl("why", "127.0.0.1:\(port)")
    #expect(text.status == 0)
    let lines = text.stdout.split(separator: "\n").map(String.init)
    #expect(lines.filter { $0.hasPrefix("  server ") }.count == 1, "\(text.stdout)")
    #expect(lines.filter { $0.hasPrefix("  master ") }.count == 1, "\(text.stdout)")
    #expect(lines.contains { $0.hasPrefix("  master \(master) ") }, "\(text.stdout)")
    let pids = workers.sorted().map(String.init).joined(separator: ", ")
    if workers.count > 1 {
      let folded = "  workers \(pids): \(foldedWorkers ?? "")"
      #expect(lines.contains { $0.hasPrefix(folded) }, "\(text.stdout)")
      #expect(lines.filter { $0.hasPrefix("  worker") }.count == 1, "\(text.stdout)")
    } else if workers.count == 1 {
      #expect(lines.contains { $0.hasPrefix("  worker \(pids): ") }, "\(text.stdout)")
    }
    #expect(text.stdout.contains("sends \(signal) to the master \(master)"), "\(text.stdout)")
    #expect(text.stdout.contains("after \(grace) s"), "\(text.stdout)")
    if let stop { #expect(lines.contains("    stop with   \(stop)"), "\(text.stdout)") }
    #expect(!text.stdout.contains("nothing portctl recognises"), "\(text.stdout)")
    return text
  }

  // MARK: nginx

  @Test(.enabled(if: Programs.installed("/usr/sbin/nginx"), "needs nginx; .ci/run installs nginx-light"))
  func nginxMasterAndTwoWorkersWithItsOwnConfig() throws {
    let dir = try RealServers.directory("nginx")
    defer { try? FileManager.default.removeItem(at: dir) }
    let port = try portFreeEverywhere()
    let conf = dir.appendingPathComponent("nginx.conf").path
    let temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map { "\($0)_temp_path \(dir.path)/\($0);" }
    try """
    worker_processes 2;
    pid \(dir.path)/nginx.pid;
    error_log \(dir.path)/error.log;
    events {}
    http {
      access_log off;
      \(temp.joined(separator: "\n  "))
      server { listen 127.0.0.1:\(port); return 200 "ok\\n"; }
    }
    """.write(toFile: conf, atomically: true, encoding: .utf8)
    let errorLog = "\(dir.path)/error.log"
    let server = try Spawned("/usr/sbin/nginx", ["-c", conf, "-p", dir.path, "-e", errorLog, "-g", "daemon off;"])
    var workers: [Int32] = []
    defer { RealServers.stop(server, children: workers, signal: SIGQUIT) }
    try #require(eventually(10) { loopbackTaken(port) && childPIDs(of: server.pid).count == 2 }, "nginx did not start")
    workers = childPIDs(of: server.pid)

    let stop = "/usr/sbin/nginx -c \(conf) -p \(dir.path) -e \(errorLog) -g 'daemon off;' -s quit"
    try expectServer(
      port: port, kind: "nginx", master: server.pid, workers: workers, signal: "SIGQUIT", grace: 10, stop: stop,
      holders: [server.pid] + workers, foldedWorkers: "nginx: worker process")

    // The stop command shown is one that works: it stops this nginx, and the port is free.
    let stopped = try shell(stop)
    #expect(stopped.status == 0, "\(stopped.stderr)")
    #expect(server.exitStatus(within: 10) != nil, "nginx did not stop after \(stop)")
    #expect(eventually(5) { !loopbackTaken(port) })
  }

  /// nginx whose prefix directory has a space, a quote and an escape sequence in its name:
  /// the stop command quotes it (and works when run), the text shows it escaped.
  @Test(.enabled(if: Programs.installed("/usr/sbin/nginx"), "needs nginx; .ci/run installs nginx-light"))
  func nginxStopCommandFromAnOddPrefixIsQuotedAndEscaped() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "portctl-nginx it's \u{1B}[31mred-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let port = try portFreeEverywhere()
    let conf = dir.appendingPathComponent("nginx.conf").path
    // Paths in the configuration are relative to the prefix.
    let temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map { "\($0)_temp_path \($0);" }
    try """
    worker_processes 2;
    pid nginx.pid;
    events {}
    http {
      access_log off;
      \(temp.joined(separator: "\n  "))
      server { listen 127.0.0.1:\(port); return 200 "ok\\n"; }
    }
    """.write(toFile: conf, atomically: true, encoding: .utf8)
    let server = try Spawned(
      "/usr/sbin/nginx", ["-p", dir.path + "/", "-c", conf, "-e", "stderr", "-g", "daemon off;"])
    var workers: [Int32] = []
    defer { RealServers.stop(server, children: workers, signal: SIGQUIT) }
    try #require(
      eventually(10) { RealServers.accepting(port) && childPIDs(of: server.pid).count == 2 }, "nginx did not start")
    workers = childPIDs(of: server.pid)

    let quoted = { (path: String) in "'" + path.replacingOccurrences(of: "'", with: #"'"'"'"#) + "'" }
    let stop = "/usr/sbin/nginx -p \(quoted(dir.path + "/")) -c \(quoted(conf)) -e stderr -g 'daemon off;' -s quit"
    let json = try portctl("why", "127.0.0.1:\(port)", "--json")
    let processes = try #require(try json.json().sockets.first?["processes"] as? [[String: Any]])
    #expect(processes.count == 3)
    for process in processes {
      #expect((process["server"] as? [String: Any])?["stop"] as? String == stop)
    }
    let text = try portctl("why", "127.0.0.1:\(port)")
    #expect(!text.stdout.contains("\u{1B}"), "an escape sequence from a command line reached the terminal")
    let shown = stop.replacingOccurrences(of: "\u{1B}", with: "\\x1b")
    #expect(text.stdout.contains("    stop with   \(shown)\n"), "\(text.stdout)")

    let stopped = try shell(stop)
    #expect(stopped.status == 0, "\(stopped.stderr)")
    #expect(server.exitStatus(within: 10) != nil, "nginx did not stop after \(stop)")
  }

  /// gunicorn run by supervisord: named once as a server, and the manager's stop is the one
  /// shown first.
  @Test func gunicornUnderSupervisordShowsTheManagersStop() throws {
    guard let supervisord = RealServers.tool("supervisord") else {
      Issue.record("supervisord (PyPI supervisor) is not installed; .ci/run installs it")
      return
    }
    guard let python = RealServers.python(importing: "gunicorn") else {
      Issue.record("gunicorn is not installed; .ci/run installs it")
      return
    }
    let dir = try RealServers.directory("gunicorn-sv")
    defer { try? FileManager.default.removeItem(at: dir) }
    try "def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n"
      .write(to: dir.appendingPathComponent("app.py"), atomically: true, encoding: .utf8)
    let port = try portFreeEverywhere()
    let config = try RealServers.supervisordConfig(
      in: dir, program: "web",
      command: "\(python) -m gunicorn -w 2 --graceful-timeout 3 -b 127.0.0.1:\(port) --chdir \(dir.path) app:app")
    let daemon = try Spawned(supervisord, ["-c", config])
    var processes: [Int32] = []
    defer { RealServers.stop(daemon, children: processes) }
    var master: Int32 = 0
    try #require(
      eventually(20) {
        guard let first = childPIDs(of: daemon.pid).first else { return false }
        master = first
        return RealServers.accepting(port) && childPIDs(of: first).count == 2
      }, "supervisord did not start gunicorn")
    let workers = childPIDs(of: master)
    processes = [master] + workers

    let json = try portctl("why", "127.0.0.1:\(port)", "--json")
    let holders = try #require(try json.json().sockets.first?["processes"] as? [[String: Any]])
    #expect(holders.compactMap { $0["pid"] as? Int } == ([master] + workers).map(Int.init))
    for holder in holders {
      #expect((holder["managers"] as? [[String: Any]])?.first?["kind"] as? String == "supervisord")
      #expect((holder["server"] as? [String: Any])?["master"] as? Int == Int(master))
    }
    let text = try portctl("why", "127.0.0.1:\(port)")
    let lines = text.stdout.split(separator: "\n").map(String.init)
    let managed = try #require(
      lines.firstIndex(of: "    managed by  the supervisord program web, which supervisord restarts when it exits"),
      "\(text.stdout)")
    #expect(
      lines.dropFirst(managed + 1).first == "    stop with   supervisorctl -c \(config) stop web", "\(text.stdout)")
    #expect(lines.filter { $0.hasPrefix("    managed by ") }.count == 1, "\(text.stdout)")
    #expect(lines.filter { $0.hasPrefix("  server gunicorn: ") }.count == 1, "\(text.stdout)")
    #expect(lines.contains { $0.hasPrefix("  workers \(workers.map(String.init).joined(separator: ", ")): ") })
    #expect(lines.contains { $0.hasPrefix("    parent \(daemon.pid) ") }, "\(text.stdout)")
    #expect(text.stdout.contains("sends SIGTERM to the master \(master) (its workers stop with it)"))
  }

  // MARK: gunicorn

  @Test func gunicornArbiterAndTwoWorkersAndTheTextIsCutOnATerminal() throws {
    guard let python = RealServers.python(importing: "gunicorn") else {
      Issue.record("gunicorn is not installed; .ci/run installs it")
      return
    }
    let dir = try RealServers.directory("gunicorn")
    defer { try? FileManager.default.removeItem(at: dir) }
    try "def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n"
      .write(to: dir.appendingPathComponent("app.py"), atomically: true, encoding: .utf8)
    let port = try portFreeEverywhere()
    let server = try Spawned(
      python,
      [
        "-m", "gunicorn", "-w", "2", "--graceful-timeout", "7", "-b", "127.0.0.1:\(port)", "--chdir", dir.path,
        "app:app",
      ])
    var workers: [Int32] = []
    defer { RealServers.stop(server, children: workers) }
    try #require(
      eventually(20) { loopbackTaken(port) && childPIDs(of: server.pid).count == 2 }, "gunicorn did not start")
    workers = childPIDs(of: server.pid)
    let text = try expectServer(
      port: port, kind: "gunicorn", master: server.pid, workers: workers, signal: "SIGTERM", grace: 12, stop: nil,
      holders: [server.pid] + workers, foldedWorkers: "\(python) -m gunicorn -w 2")
    // Not a terminal: whole command lines.
    #expect(text.stdout.contains("--chdir \(dir.path) app:app  (\(userName), up"), "\(text.stdout)")

    // On a 100-column terminal every line of a process is cut to fit.
    let tty = try shell("script -qec 'stty cols 100; \(Products.portctl.path) why 127.0.0.1:\(port)' /dev/null")
    let plain = tty.stdout.replacingOccurrences(of: "\u{1B}[", with: "\u{1B}").split(
      whereSeparator: { $0.isNewline }
    ).map { line in
      // Colour codes (ESC, digits, m) do not take columns.
      var text = ""
      var inCode = false
      for scalar in line.unicodeScalars {
        if scalar == "\u{1B}" {
          inCode = true
        } else if inCode {
          if scalar == "m" { inCode = false }
        } else {
          text.unicodeScalars.append(scalar)
        }
      }
      return text
    }
    let master = try #require(plain.first { $0.hasPrefix("  master \(server.pid) ") }, "\(tty.stdout)")
    #expect(master.contains("…"), "\(master)")
    #expect(master.unicodeScalars.count <= 100, "\(master)")
    #expect(master.hasSuffix(", holds the socket)"), "\(master)")
    let parent = try #require(plain.first { $0.hasPrefix("    parent ") })
    #expect(parent.unicodeScalars.count <= 100, "\(parent)")
  }

  // MARK: uvicorn

  @Test func uvicornSupervisorWithTwoWorkers() throws {
    guard let python = RealServers.python(importing: "uvicorn") else {
      Issue.record("uvicorn is not installed; .ci/run installs it")
      return
    }
    let server = try RealServers.uvicorn(python)
    defer { server.cleanUp() }
    // The resource tracker is a child but no worker.
    #expect(server.helpers.count == 1)
    try expectServer(
      port: server.port, kind: "uvicorn", master: server.master, workers: server.workers, signal: "SIGTERM",
      grace: 10, stop: nil, foldedWorkers: "\(python) -B -c from multiprocessing.spawn import spawn_main;")
  }

  @Test func hypercornSupervisorWithTwoWorkersAndItsGracefulTimeout() throws {
    guard let python = RealServers.python(importing: "hypercorn") else {
      Issue.record("hypercorn is not installed; .ci/run installs it")
      return
    }
    let server = try RealServers.hypercorn(python)
    defer { server.cleanUp() }
    let workers = server.workers
    try expectServer(
      port: server.port, kind: "hypercorn", master: server.master, workers: workers, signal: "SIGTERM", grace: 7,
      stop: nil, foldedWorkers: "\(python) -B -c from multiprocessing.spawn import spawn_main;")
    // SIGTERM to the supervisor, as shown, stops it and its workers.
    kill(server.master, SIGTERM)
    #expect(server.process?.exitStatus(within: 10) != nil)
    #expect(eventually(5) { workers.allSatisfy { !isAlive($0) } })
  }

  // MARK: Django autoreloader

  /// Django's runserver: only the child (RUN_MAIN=true) holds the socket; the server is led
  /// by the autoreloader above it, whose ancestors are shown.
  @Test func djangoRunserverChildLeadsToTheAutoreloader() throws {
    guard let python = RealServers.python(importing: "django") else {
      Issue.record("django is not installed; .ci/run installs it")
      return
    }
    let server = try RealServers.django(python)
    defer { server.cleanUp() }
    let child = try #require(server.workers.first)
    let text = try expectServer(
      port: server.port, kind: "django", master: server.master, workers: [child], signal: "SIGTERM", grace: 5,
      stop: nil, holders: [child])
    let lines = text.stdout.split(separator: "\n").map(String.init)
    // The master does not hold the socket; its child does, and the chain is the master's.
    #expect(lines.contains { $0.hasPrefix("  master \(server.master) ") && !$0.contains("holds the socket") })
    #expect(lines.contains { $0.hasPrefix("  worker \(child): ") && $0.hasSuffix(", holds the socket)") })
    #expect(lines.contains { $0.hasPrefix("    parent \(getpid()) ") }, "\(text.stdout)")
    // SIGTERM to the autoreloader, as shown, ends both.
    kill(server.master, SIGTERM)
    #expect(server.process?.exitStatus(within: 10) != nil)
    #expect(eventually(5) { !isAlive(child) })
  }

  // MARK: node cluster

  @Test(.enabled(if: Programs.installed(Programs.node), "needs node"))
  func nodeClusterPrimaryIsTheOnlyHolderAndNamesItsWorkers() throws {
    let server = try RealServers.nodeCluster()
    defer { server.cleanUp() }
    let script = server.directory.appendingPathComponent("cluster.js")
    try expectServer(
      port: server.port, kind: "node-cluster", master: server.master, workers: server.workers, signal: "SIGTERM",
      grace: 5, stop: nil, holders: [server.master], foldedWorkers: "\(Programs.node) \(script.path) --lifeline")
  }

  // MARK: Flask reloader

  @Test func flaskReloaderAndItsChildAreOneServer() throws {
    guard let python = RealServers.python(importing: "flask") else {
      Issue.record("flask is not installed; .ci/run installs it")
      return
    }
    let server = try RealServers.flask(python)
    defer { server.cleanUp() }
    let child = try #require(server.workers.first)
    try expectServer(
      port: server.port, kind: "werkzeug", master: server.master, workers: [child], signal: "SIGTERM", grace: 5,
      stop: nil, holders: [server.master, child])
  }
}
#endif
