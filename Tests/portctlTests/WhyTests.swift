#if os(Linux)
import Foundation
import Testing

@Suite(.serialized) struct WhyTests {
  private func tool(_ name: String) -> String? {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
      let path = "\(directory)/\(name)"
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
  }

  private func managers(_ result: RunResult) throws -> [[String: Any]] {
    let process = try #require((try result.json().sockets.first?["processes"] as? [[String: Any]])?.first)
    return process["managers"] as? [[String: Any]] ?? []
  }

  @Test func ancestryReachesPidOneAndHolderDetailsAreThere() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let result = try portctl("why", "\(holder.port)", "--json")
    #expect(result.status == 0)
    let process = try #require((try result.json().sockets.first?["processes"] as? [[String: Any]])?.first)
    let ancestry = try #require(process["ancestry"] as? [[String: Any]])
    #expect(ancestry.first?["pid"] as? Int == Int(getpid()))
    #expect(ancestry.last?["pid"] as? Int == 1)
    let text = try portctl("why", "\(holder.port)")
    #expect(text.stdout.contains("  \(holder.pid) \(Products.holder.path) tcp:127.0.0.1:0 --lifeline"))
    #expect(text.stdout.contains("    parent \(getpid()) "))
  }

  @Test func tmuxSessionIsNamed() throws {
    guard let tmux = tool("tmux") else {
      Issue.record("tmux is not installed; .ci/run installs it")
      return
    }
    let session = "portctl-why-\(getpid())"
    let ready = FileManager.default.temporaryDirectory.appendingPathComponent("\(session).ready")
    defer {
      _ = detached(tmux, ["kill-session", "-t", session])
      try? FileManager.default.removeItem(at: ready)
    }
    let started = detached(
      tmux,
      ["new-session", "-d", "-s", session, "-n", "api", "\(Products.holder.path) tcp:127.0.0.1:0 > \(ready.path)"])
    try #require(started == 0)
    var line = ""
    for _ in 0..<200 {
      line = (try? String(contentsOf: ready, encoding: .utf8)) ?? ""
      if line.contains("ready") { break }
      usleep(10_000)
    }
    let port = try #require(
      line.split(separator: " ").first { $0.hasPrefix("ports=") }.flatMap { UInt16($0.dropFirst(6)) })
    let result = try portctl("why", "\(port)", "--json")
    #expect(result.status == 0)
    let manager = try #require(try managers(result).first)
    #expect(manager["kind"] as? String == "tmux")
    #expect(manager["name"] as? String == session)
    #expect((manager["stop"] as? String)?.hasPrefix("tmux send-keys -t \(session):0.0 C-c") == true)
    let who = try portctl("who", "\(port)")
    #expect(who.stdout.contains("runs in the tmux session \(session), window 0 (api), pane 0"))
  }

  @Test func supervisordProgramIsNamedWithSupervisorctlStop() throws {
    guard let supervisord = tool("supervisord") else {
      Issue.record("supervisord (PyPI supervisor) is not installed; .ci/run installs it")
      return
    }
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portctl-sv-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let port = try unusedPort()
    let config = directory.appendingPathComponent("supervisord.conf")
    try """
    [unix_http_server]
    file=\(directory.path)/supervisor.sock
    [supervisord]
    logfile=\(directory.path)/supervisord.log
    pidfile=\(directory.path)/supervisord.pid
    nodaemon=true
    [rpcinterface:supervisor]
    supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
    [supervisorctl]
    serverurl=unix://\(directory.path)/supervisor.sock
    [program:webapp]
    command=\(Products.holder.path) --reuseaddr tcp:127.0.0.1:\(port)
    autorestart=true
    startsecs=0
    """.write(to: config, atomically: true, encoding: .utf8)
    let daemon = try #require(spawnQuietly(supervisord, ["-c", config.path]))
    defer {
      kill(daemon, SIGTERM)
      var status: Int32 = 0
      while waitpid(daemon, &status, 0) < 0, errno == EINTR {}
    }
    var listening = false
    for _ in 0..<500 where !listening {
      listening = !canBind(port)
      if !listening { usleep(10_000) }
    }
    try #require(listening, "supervisord did not start the program")
    let result = try portctl("why", "\(port)", "--json")
    #expect(result.status == 0)
    let manager = try #require(try managers(result).first)
    #expect(manager["kind"] as? String == "supervisord")
    #expect(manager["name"] as? String == "webapp")
    #expect(manager["stop"] as? String == "supervisorctl -c \(config.path) stop webapp")
    let text = try portctl("why", "\(port)")
    #expect(text.stdout.contains("managed by  the supervisord program webapp"))
    #expect(text.stdout.contains("stop with   supervisorctl -c \(config.path) stop webapp"))
    let free = try portctl("free", "\(port)", "--yes", "--respawn-window", "15s")
    #expect(free.status == 1)
    #expect(free.stdout.contains("is NOT free: taken again by port-holder"))
    #expect(free.stdout.contains("stop it with: supervisorctl -c \(config.path) stop webapp"))
  }

  @Test func freePortAndBadInput() throws {
    let port = try unusedPort()
    let result = try portctl("why", "\(port)")
    #expect(result.status == 1)
    #expect(result.stdout == "nothing listening on \(port)\n")
    #expect(try portctl("why", "0").status == 64)
  }
}
#endif
