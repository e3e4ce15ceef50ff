#if os(Linux)
import Foundation
import Testing

/// `sh -c CODE`, started by the test, where CODE runs port-holder (once or in a loop);
/// stopped with every process it started (first stopped itself, so it starts no more).
private final class ShellRunning: @unchecked Sendable {
  let pid: pid_t
  private var reaped = false

  init(_ code: String) throws {
    guard let pid = spawnQuietly("/bin/sh", ["-c", code]) else {
      throw HolderError(message: "could not start sh -c \(code)")
    }
    self.pid = pid
  }

  /// The port-holder it runs now.
  var child: pid_t? { childPIDs(of: pid).first }

  func stop() {
    guard !reaped else { return }
    kill(pid, SIGSTOP)
    for child in childPIDs(of: pid) { kill(child, SIGKILL) }
    kill(pid, SIGKILL)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0, errno == EINTR {}
    reaped = true
  }

  deinit { stop() }
}

/// `free` watches for a respawn only where something can start the holder again.
@Suite(.serialized) struct RespawnGatingTests {
  private func parent(of pid: pid_t) -> pid_t? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")")
    else { return nil }
    return stat[stat.index(after: close)...].split(separator: " ").dropFirst(1).first.flatMap { pid_t($0) }
  }

  private func commandLine(of pid: pid_t) -> [String] {
    let data = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
    return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
  }

  private func firstPort(_ document: [String: Any]) -> [String: Any]? {
    (document["ports"] as? [[String: Any]])?.first
  }

  /// Runs `command` (portctl and its arguments) on a pseudo-terminal through `script`, so
  /// that it colours its output; what it printed.
  private func onTerminal(_ command: [String]) throws -> RunResult {
    let line = ([Products.portctl.path] + command).map { "'\($0)'" }.joined(separator: " ")
    return try run(
      URL(fileURLWithPath: "/usr/bin/script"), ["-qec", line, "/dev/null"], environment: ["TERM": "xterm"])
  }

  @Test func aHolderUnderAOneShotScriptIsNotWatchedFor() throws {
    let holder = try Holder(
      ["tcp:127.0.0.1:0"], launcher: ["/bin/sh", "-c", "\"$0\" \"$@\"; echo done", Products.holder.path])
    // The shell runs port-holder as its child and would go on to `echo done`: one-shot.
    let shell = try #require(parent(of: holder.pid))
    try #require(shell == holder.process.processIdentifier)
    try #require(commandLine(of: shell).prefix(2) == ["/bin/sh", "-c"])
    let result = try portctl("free", "127.0.0.1:\(holder.port)", "--yes", "--json")
    #expect(result.status == 0, "\(result.stderr)")
    let document = try result.json()
    #expect(document["respawnRisks"] as? [String] == [])
    #expect(document["respawnWatch"] is NSNull)
    #expect(firstPort(document)?["verdict"] as? String == "free")
  }

  @Test func aHolderUnderTmuxIsNotWatchedFor() throws {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux") else {
      Issue.record("tmux is not installed; .ci/run installs it")
      return
    }
    let socket = "portctl-respawn-\(getpid())"
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(socket)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer {
      _ = detached("/usr/bin/tmux", ["-L", socket, "kill-server"])
      try? FileManager.default.removeItem(at: directory)
    }
    let direct = directory.appendingPathComponent("direct")
    let typed = directory.appendingPathComponent("typed")
    // One session runs port-holder as its command (the tmux server, or a one-shot shell under
    // it, is the parent); the other types it into the pane's interactive shell.
    try #require(
      detached(
        "/usr/bin/tmux",
        [
          "-L", socket, "-f", "/dev/null", "new-session", "-d", "-s", "direct",
          "\(Products.holder.path) tcp:127.0.0.1:0 > \(direct.path)",
        ])
        == 0)
    try #require(detached("/usr/bin/tmux", ["-L", socket, "new-session", "-d", "-s", "typed"]) == 0)
    try #require(
      detached(
        "/usr/bin/tmux",
        ["-L", socket, "send-keys", "-t", "typed", "\(Products.holder.path) tcp:127.0.0.1:0 > \(typed.path)", "Enter"])
        == 0)
    // A third session's command is port-holder alone: the shell execs it, and the tmux
    // server itself is its parent.
    let serverPort = try portFreeEverywhere()
    try #require(
      detached(
        "/usr/bin/tmux",
        ["-L", socket, "new-session", "-d", "-s", "server", "\(Products.holder.path) tcp:127.0.0.1:\(serverPort)"]) == 0
    )
    try #require(eventually(10) { loopbackTaken(serverPort) }, "port-holder did not start in tmux")
    var holders: [(pid: pid_t, port: UInt16, parent: String)] = []
    for file in [direct, typed] {
      var line = ""
      try #require(
        eventually(10) {
          line = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
          return line.contains("ready")
        }, "port-holder did not start in tmux")
      let fields = line.split(separator: " ")
      let pid = try #require(fields.first { $0.hasPrefix("pid=") }.flatMap { pid_t($0.dropFirst(4)) })
      let port = try #require(fields.first { $0.hasPrefix("ports=") }.flatMap { UInt16($0.dropFirst(6)) })
      holders.append((pid, port, file == typed ? "shell" : "any"))
    }
    let panes = try run(
      URL(fileURLWithPath: "/usr/bin/tmux"), ["-L", socket, "list-panes", "-t", "server", "-F", "#{pane_pid}"])
    let serverHolder = try #require(pid_t(panes.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    holders.append((serverHolder, serverPort, "tmux"))
    for holder in holders {
      let parentPID = try #require(parent(of: holder.pid))
      let parentName = (try? String(contentsOfFile: "/proc/\(parentPID)/comm", encoding: .utf8)) ?? ""
      switch holder.parent {
      case "shell":
        // The pane's shell, reading what is typed into it.
        try #require(["bash\n", "sh\n", "dash\n", "zsh\n"].contains(parentName), "parent \(parentName)")
      case "tmux":
        try #require(parentName.hasPrefix("tmux"), "parent \(parentName)")
      default:
        break
      }
      let result = try portctl("free", "127.0.0.1:\(holder.port)", "--yes", "--json")
      #expect(result.status == 0, "\(result.stderr)")
      let document = try result.json()
      #expect(document["respawnRisks"] as? [String] == [], "parent \(parentName)")
      #expect(document["respawnWatch"] is NSNull)
      #expect(firstPort(document)?["verdict"] as? String == "free")
    }
  }

  @Test func aShellLoopIsWatchedAndTheRespawnReported() throws {
    let port = try portFreeEverywhere()
    let loop = try ShellRunning("while true; do '\(Products.holder.path)' --reuseaddr tcp:127.0.0.1:\(port); done")
    defer { loop.stop() }
    try #require(eventually { loopbackTaken(port) }, "the loop's port-holder did not listen")
    let first = try #require(loop.child)
    let result = try portctl("free", "127.0.0.1:\(port)", "--yes", "--json")
    #expect(result.status == 1, "\(result.stderr)")
    let document = try result.json()
    #expect(document["freed"] as? Bool == false)
    #expect((document["targets"] as? [[String: Any]])?.compactMap { $0["pid"] as? Int } == [Int(first)])
    #expect(document["respawnRisks"] as? [String] == ["parent is sh (pid \(loop.pid)), running it in a loop"])
    let watch = try #require(document["respawnWatch"] as? [String: Any])
    #expect(watch["ended"] as? String == "respawned")
    #expect(watch["windowSeconds"] as? Double == 2)
    let verdict = try #require(firstPort(document))
    #expect(verdict["verdict"] as? String == "respawned")
    let respawn = try #require(verdict["respawn"] as? [String: Any])
    let fresh = try #require(respawn["pids"] as? [Int])
    #expect(!fresh.isEmpty && !fresh.contains(Int(first)))
    #expect((respawn["supervisor"] as? [String: Any])?["pid"] as? Int == Int(loop.pid))

    // On a terminal the verdict is red, never green.
    try #require(eventually { loopbackTaken(port) })
    let text = try onTerminal(["free", "127.0.0.1:\(port)", "--yes"])
    #expect(text.status == 1)
    #expect(
      text.stdout.contains("\u{1B}[31m\(port)/tcp is NOT free\u{1B}[0m: taken again by port-holder"), "\(text.stdout)")
    #expect(text.stdout.contains("its parent sh (pid \(loop.pid): /bin/sh -c while true; do "))
  }

  /// A loop that starts its server again a second later: on a terminal the watch is counted
  /// on a live line that names the loop, until the respawn is seen.
  @Test func theRespawnWatchIsCountedOnATerminal() throws {
    let port = try portFreeEverywhere()
    let loop = try ShellRunning(
      "while true; do '\(Products.holder.path)' --reuseaddr tcp:127.0.0.1:\(port); sleep 1; done")
    defer { loop.stop() }
    try #require(eventually { loopbackTaken(port) }, "the loop's port-holder did not listen")
    let text = try onTerminal(["free", "127.0.0.1:\(port)", "--yes"])
    #expect(text.status == 1, "\(text.stdout)")
    #expect(text.stdout.contains("\u{1B}[2Kwatching 2 s for a respawn (0."), "\(text.stdout)")
    // Cut to the width of script(1)'s terminal (80 columns): how much of the reason fits
    // depends on the number of digits in the pid.
    #expect(text.stdout.contains(" s): parent is sh (pid \(loop.pid)), ru"), "\(text.stdout)")

    #expect(text.stdout.contains("is NOT free"), "\(text.stdout)")
  }

  @Test func aSupervisordProgramIsWatchedAndTheSupervisorNamed() throws {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map {
      "\($0)/supervisord"
    }.first { FileManager.default.isExecutableFile(atPath: $0) }
    guard let supervisord = path else {
      Issue.record("supervisord (PyPI supervisor) is not installed; .ci/run installs it")
      return
    }
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portctl-respawn-sv-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let port = try portFreeEverywhere()
    let config = try RealServers.supervisordConfig(
      in: directory, program: "web", command: "\(Products.holder.path) --reuseaddr tcp:127.0.0.1:\(port)")
    let daemon = try #require(spawnQuietly(supervisord, ["-c", config]))
    defer {
      kill(daemon, SIGTERM)
      var status: Int32 = 0
      while waitpid(daemon, &status, 0) < 0, errno == EINTR {}
    }
    try #require(eventually(10) { loopbackTaken(port) }, "supervisord did not start the program")
    // who sets the manager off from the process with a colon.
    let program = try #require(try portctl("who", "127.0.0.1:\(port)", "--json").json().sockets.pids.first)
    let who = try portctl("who", "127.0.0.1:\(port)")
    #expect(
      who.stdout.contains(
        "\nport-holder (pid \(program)): the supervisord program web, which supervisord restarts when it exits"),
      "\(who.stdout)")
    // supervisord starts a program again within a few seconds (its loop wakes once a second).
    let result = try portctl("free", "127.0.0.1:\(port)", "--yes", "--respawn-window", "15s", "--json")
    #expect(result.status == 1, "\(result.stderr)")
    let document = try result.json()
    #expect(document["respawnRisks"] as? [String] == ["parent is supervisord (pid \(daemon))"])
    #expect((document["respawnWatch"] as? [String: Any])?["ended"] as? String == "respawned")
    #expect(firstPort(document)?["verdict"] as? String == "respawned")
    try #require(eventually(10) { loopbackTaken(port) })
    let text = try portctl("free", "127.0.0.1:\(port)", "--yes", "--respawn-window", "15s")
    #expect(
      text.stdout.contains(
        "\n  managed by: the supervisord program web, which supervisord restarts when it exits; stop it with: supervisorctl -c \(config) stop web"
      ), "\(text.stdout)")
  }

  /// Script files are read (from the shell's working directory) for a loop.
  @Test func scriptFilesAreReadForALoop() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portctl-respawn-sh-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    try "'\(Products.holder.path)' \"$@\"\necho done\n".write(
      to: directory.appendingPathComponent("once.sh"), atomically: true, encoding: .utf8)
    let once = try Holder(
      ["tcp:127.0.0.1:0"], launcher: ["/bin/sh", "-c", "cd '\(directory.path)' && exec /bin/sh ./once.sh \"$@\"", "sh"])
    try #require(commandLine(of: try #require(parent(of: once.pid))).prefix(2) == ["/bin/sh", "./once.sh"])
    let oneShot = try portctl("free", "127.0.0.1:\(once.port)", "--yes", "--json")
    #expect(oneShot.status == 0, "\(oneShot.stderr)")
    #expect(try oneShot.json()["respawnRisks"] as? [String] == [])
    #expect(try oneShot.json()["respawnWatch"] is NSNull)

    let port = try portFreeEverywhere()
    try "while true\ndo\n  '\(Products.holder.path)' --reuseaddr tcp:127.0.0.1:\(port)\ndone\n".write(
      to: directory.appendingPathComponent("loop.sh"), atomically: true, encoding: .utf8)
    let loop = try ShellRunning("cd '\(directory.path)' && exec /bin/sh ./loop.sh")
    defer { loop.stop() }
    try #require(eventually { loopbackTaken(port) }, "the script's port-holder did not listen")
    let looped = try portctl("free", "127.0.0.1:\(port)", "--yes", "--json")
    #expect(looped.status == 1, "\(looped.stderr)")
    let document = try looped.json()
    #expect(
      document["respawnRisks"] as? [String] == [
        "parent is sh (pid \(loop.pid)), running the script ./loop.sh, which loops"
      ])
    #expect((document["respawnWatch"] as? [String: Any])?["ended"] as? String == "respawned")
  }

  @Test func theWatchEndsWhenTheLoopingShellExits() throws {
    let port = try portFreeEverywhere()
    // The loop goes on only while port-holder exits cleanly: SIGTERM ends it, and the shell.
    let loop = try ShellRunning("while '\(Products.holder.path)' --reuseaddr tcp:127.0.0.1:\(port); do :; done")
    defer { loop.stop() }
    try #require(eventually { loopbackTaken(port) }, "the loop's port-holder did not listen")
    let result = try portctl("free", "127.0.0.1:\(port)", "--yes", "--json")
    #expect(result.status == 0, "\(result.stderr)")
    let document = try result.json()
    #expect(document["respawnRisks"] as? [String] == ["parent is sh (pid \(loop.pid)), running it in a loop"])
    let watch = try #require(document["respawnWatch"] as? [String: Any])
    #expect(watch["ended"] as? String == "respawner-exited")
    // Ended by the exit, before the window (a lower watchedSeconds than 2 says the same).
    #expect((watch["watchedSeconds"] as? Double).map { $0 < 2 } == true)
    #expect(firstPort(document)?["verdict"] as? String == "free")
  }

  @Test func resultsThatAreNotSuccessesAreNotGreen() throws {
    let holder = try Holder("tcp:127.0.0.1:0", "--ignore-term")
    let killed = try onTerminal(["kill", "127.0.0.1:\(holder.port)", "--yes", "--timeout", "200ms"])
    #expect(killed.status == 0, "\(killed.stdout)")
    // It needed SIGKILL: yellow, not green.
    #expect(killed.stdout.contains("\u{1B}[33mdid not exit within 200 ms of SIGTERM; killed with SIGKILL\u{1B}[0m"))
    #expect(!killed.stdout.contains("\u{1B}[32m"), "\(killed.stdout)")

    // A clean exit and a free port are green.
    let clean = try Holder("tcp:127.0.0.1:0")
    let freed = try onTerminal(["free", "127.0.0.1:\(clean.port)", "--yes"])
    #expect(freed.status == 0)
    #expect(freed.stdout.contains("\u{1B}[32mexited after SIGTERM ("))
    #expect(
      freed.stdout.contains("\u{1B}[32m\(clean.port)/tcp is free\u{1B}[0m: a bind on 0.0.0.0, 127.0.0.1 and [::] works")
    )

    // check: a port held is red.
    let held = try Holder("tcp:127.0.0.1:0")
    let check = try onTerminal(["check", "127.0.0.1:\(held.port)"])
    #expect(check.status == 1)
    #expect(check.stdout.contains("tcp 127.0.0.1:\(held.port): \u{1B}[31mcannot bind\u{1B}[0m"))
    #expect(!check.stdout.contains("\u{1B}[32m"))
  }

  @Test func checkWithOnlyAReuseAddressBindIsYellow() throws {
    let port = try realTimeWait(reuseAddress: true)
    let check = try onTerminal(["check", "tcp:\(port)"])
    #expect(check.status == 0)
    #expect(check.stdout.contains("tcp \(port): \u{1B}[33mcan bind\u{1B}[0m"), "\(check.stdout)")
  }
}

/// `--` ends the options on every command.
@Suite(.serialized) struct DoubleDashTests {
  @Test func everyCommandTakesADoubleDash() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let port = "127.0.0.1:\(holder.port)"
    let who = try portctl("who", "--", port)
    #expect(who.status == 0, "\(who.stderr)")
    #expect(who.stdout.contains("\(holder.pid)"))
    let bare = try portctl("--", port)
    #expect(bare.status == 0, "\(bare.stderr)")
    #expect(bare.stdout.contains("\(holder.pid)"))
    let why = try portctl("why", "--json", "--", port)
    #expect(why.status == 0, "\(why.stderr)")
    #expect((try why.json().sockets.first?["processes"] as? [[String: Any]])?.first?["pid"] as? Int == Int(holder.pid))
    let check = try portctl("check", "--", port)
    #expect(check.status == 1, "\(check.stderr)")
    #expect(check.stdout.hasPrefix("tcp \(port): cannot bind"))
    let list = try portctl("list", "--json", "--")
    #expect(list.status == 0, "\(list.stderr)")
    let find = try portctl("find", "--count", "1", "--")
    #expect(find.status == 0, "\(find.stderr)")
    #expect(find.stdout.split(separator: "\n").count == 1)
    let listening = try portctl("wait", "--listening", "--timeout", "2s", "--", port)
    #expect(listening.status == 0, "\(listening.stderr)")
    let dry = try portctl("kill", "--dry-run", "--", port)
    #expect(dry.status == 0, "\(dry.stderr)")
    #expect(dry.stdout.contains("\(holder.pid)"))
    let kill = try portctl("kill", "--yes", "--json", "--", port)
    #expect(kill.status == 0, "\(kill.stderr)")
    #expect((try kill.json()["targets"] as? [[String: Any]])?.first?["outcome"] as? String == "exited")
    let other = try Holder("tcp:127.0.0.1:0")
    let free = try portctl("free", "--yes", "--json", "--", "127.0.0.1:\(other.port)")
    #expect(free.status == 0, "\(free.stderr)")
    #expect(try free.json()["freed"] as? Bool == true)
    let waited = try portctl("wait", "--free", "--timeout", "2s", "--", "127.0.0.1:\(other.port)")
    #expect(waited.status == 0, "\(waited.stderr)")
    let explained = try portctl("explain", "--", "Error: listen EADDRINUSE: address already in use :::\(other.port)")
    #expect(explained.status == 0, "\(explained.stderr)")
    #expect(explained.stdout.contains("could not bind on [::]:\(other.port)"), "\(explained.stdout)")
  }

  @Test func waitingForAListenerIsWordedAsSuch() throws {
    let port = try unusedPort()
    let line = "\(Products.portctl.path) wait --listening --timeout 300ms \(port)"
    let result = try run(
      URL(fileURLWithPath: "/usr/bin/script"), ["-qec", line, "/dev/null"], environment: ["TERM": "xterm"])
    #expect(result.status == 1)
    #expect(result.stdout.contains("waiting for something to listen on \(port)… "), "\(result.stdout)")
    #expect(!result.stdout.contains("listened on"))
  }

  @Test func afterTheDoubleDashNothingIsAnOption() throws {
    let result = try portctl("who", "--", "--json")
    #expect(result.status == 64)
    #expect(result.stdout.isEmpty)
    #expect(result.stderr.contains("invalid port spec '--json'"), "\(result.stderr)")
    let negative = try portctl("kill", "--yes", "--", "-1")
    #expect(negative.status == 64)
    #expect(negative.stderr.contains("not negative"))
    // explain takes text after it that looks like an option.
    let text = try portctl("explain", "--", "--port")
    #expect(text.status == 5)
  }
}

/// Advice for Windows or macOS is not given on Linux.
@Suite struct PlatformNoteTests {
  @Test func wellKnownPortNotesAreLinuxOnes() throws {
    let http = try portctl("check", "tcp:80", "--json")
    let notes = ((try http.json()["checks"] as? [[String: Any]])?.first?["notes"] as? [[String: Any]]) ?? []
    let wellKnown = notes.first { $0["code"] as? String == "well-known-port" }
    #expect(wellKnown?["message"] as? String == "80 is the usual port of HTTP")
    let text = try portctl("check", "tcp:80", "tcp:5000", "tcp:7000")
    #expect(!text.stdout.contains("HTTP.sys"))
    #expect(!text.stdout.contains("AirPlay"))
    #expect(
      text.stdout.contains("note well-known-port: 5000 is the usual port of Flask and ASP.NET development servers\n"))
  }

  @Test func aWindowsErrorGetsNoNetshAdviceHere() throws {
    let port = try unusedPort()
    let message = """
      PermissionError: [WinError 10013] An attempt was made to access a socket in a way forbidden by its access permissions
      while binding 127.0.0.1:\(port)
      """
    let result = try portctl("explain", "--port", "\(port)", message)
    #expect(result.stdout.contains("Windows forbade the access"), "\(result.stdout)")
    #expect(!result.stdout.contains("netsh"))
    #expect(!result.stdout.contains("Hyper-V"))
  }
}
#endif
