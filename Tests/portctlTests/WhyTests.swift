#if os(Linux)
import Foundation
import Testing

@Suite(.serialized) struct WhyTests {
  /// A port nothing holds on any address (others' tests hold ports on 127.x addresses, which
  /// a wildcard bind, used here to see the program start, collides with).
  private func portFreeOnEveryAddress() throws -> UInt16 {
    for _ in 0..<50 {
      let port = try unusedPort()
      if canBind(port) { return port }
    }
    throw HolderError(message: "no port is free on every address")
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
    guard let tmux = RealServers.tool("tmux") else {
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
    let tmpdir = ProcessInfo.processInfo.environment["TMUX_TMPDIR"] ?? "/tmp"
    let socket = URL(fileURLWithPath: "\(tmpdir)/tmux-\(geteuid())/default").resolvingSymlinksInPath().path
    #expect(manager["stop"] as? String == "tmux -S \(socket) kill-session -t \(session)")
    let who = try portctl("who", "\(port)")
    #expect(who.stdout.contains("runs in the tmux session \(session), window 0 (api), pane 0"))
  }

  @Test func supervisordProgramIsNamedWithSupervisorctlStop() throws {
    guard let supervisord = RealServers.tool("supervisord") else {
      Issue.record("supervisord (PyPI supervisor) is not installed; .ci/run installs it")
      return
    }
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portctl-sv-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let port = try portFreeOnEveryAddress()
    let config = try RealServers.supervisordConfig(
      in: directory, program: "webapp", command: "\(Products.holder.path) --reuseaddr tcp:127.0.0.1:\(port)")
    let daemon = try #require(spawnQuietly(supervisord, ["-c", config]))
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
    #expect(manager["stop"] as? String == "supervisorctl -c \(config) stop webapp")
    let text = try portctl("why", "\(port)")
    #expect(text.stdout.contains("managed by  the supervisord program webapp"))
    #expect(text.stdout.contains("stop with   supervisorctl -c \(config) stop webapp"))
    let free = try portctl("free", "\(port)", "--yes", "--respawn-window", "15s")
    #expect(free.status == 1)
    #expect(free.stdout.contains("is NOT free: taken again by port-holder"))
    #expect(free.stdout.contains("stop it with: supervisorctl -c \(config) stop webapp"))
  }

  /// A supervisord program whose name is shell code: the suggested stop command quotes it,
  /// and running that command through a shell stops the program and runs nothing else.
  @Test func supervisordProgramWithShellCodeInItsNameGetsAQuotedStop() throws {
    guard let supervisord = RealServers.tool("supervisord") else {
      Issue.record("supervisord (PyPI supervisor) is not installed; .ci/run installs it")
      return
    }
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portctl-sv-quote-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let port = try portFreeOnEveryAddress()
    // supervisord refuses spaces in a program name, but not quotes, $( ) or backticks.
    let name = "api'$(touch${IFS}pwned)`touch${IFS}pwned2`"
    let quoted = #"'api'"'"'$(touch${IFS}pwned)`touch${IFS}pwned2`'"#
    let config = try RealServers.supervisordConfig(
      in: directory, program: name, command: "\(Products.holder.path) --reuseaddr tcp:127.0.0.1:\(port)")
    let daemon = try #require(spawnQuietly(supervisord, ["-c", config]))
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
    let stop = "supervisorctl -c \(config) stop \(quoted)"
    let result = try portctl("why", "\(port)", "--json")
    #expect(result.status == 0)
    let manager = try #require(try managers(result).first, "\(result.stdout)")
    #expect(manager["kind"] as? String == "supervisord")
    #expect(manager["name"] as? String == name)
    #expect(manager["stop"] as? String == stop)
    // supervisord itself is an ancestor: not only the program's own word.
    #expect(manager["evidence"] as? String == "ancestor")
    #expect(manager["selfReported"] as? Bool == false)
    let text = try portctl("why", "\(port)")
    #expect(text.stdout.contains("stop with   \(stop)\n"), "\(text.stdout)")
    #expect(!text.stdout.contains("evidence"))
    // The suggested command, run as automation would run it.
    let shell = Process()
    shell.executableURL = URL(fileURLWithPath: "/bin/sh")
    shell.arguments = ["-c", try #require(manager["stop"] as? String)]
    shell.currentDirectoryURL = directory
    shell.standardOutput = FileHandle.nullDevice
    shell.standardError = FileHandle.nullDevice
    try shell.run()
    shell.waitUntilExit()
    #expect(shell.terminationStatus == 0)
    #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("pwned").path))
    #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("pwned2").path))
    var freed = false
    for _ in 0..<500 where !freed {
      freed = canBind(port)
      if !freed { usleep(10_000) }
    }
    #expect(freed, "supervisorctl did not stop the program")
  }

  /// A holder that merely claims, in its own environment, to be a supervisord program.
  @Test func selfReportedManagerIsQuotedAndMarked() throws {
    let hostile = "api && rm -rf ~ #"
    let holder = try Holder(["tcp:127.0.0.1:0"], environment: ["SUPERVISOR_PROCESS_NAME": hostile])
    defer { holder.stop() }
    let result = try portctl("why", "\(holder.port)", "--json")
    #expect(result.status == 0)
    let manager = try #require(try managers(result).first)
    #expect(manager["kind"] as? String == "supervisord")
    #expect(manager["name"] as? String == hostile)
    #expect(manager["stop"] as? String == "supervisorctl stop 'api && rm -rf ~ #'")
    #expect(manager["evidence"] as? String == "environment")
    #expect(manager["selfReported"] as? Bool == true)
    let text = try portctl("why", "\(holder.port)")
    #expect(text.stdout.contains("managed by  the supervisord program api && rm -rf ~ #, which supervisord restarts"))
    #expect(text.stdout.contains("stop with   supervisorctl stop 'api && rm -rf ~ #'\n"))
    #expect(
      text.stdout.contains(
        "evidence    self-reported: only the process's own environment says so, and any process can set that"))
    let who = try portctl("who", "\(holder.port)")
    #expect(who.stdout.contains("(self-reported: only the process's own environment says so"))
    #expect(who.stdout.contains("stop it with: supervisorctl stop 'api && rm -rf ~ #'"))
  }

  @Test func freePortAndBadInput() throws {
    let port = try portFreeOnEveryAddress()
    let result = try portctl("why", "\(port)")
    #expect(result.status == 1)
    #expect(result.stdout == "nothing listening on \(port)\n")
    #expect(try portctl("why", "0").status == 64)
  }
}
#endif
