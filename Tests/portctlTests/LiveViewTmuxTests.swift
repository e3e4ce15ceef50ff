#if os(Linux)
import Foundation
import Testing

/// The live view end to end: the real binary in a tmux pane of a fixed size, driven with
/// `send-keys` and read with `capture-pane`, against real holders.
@Suite(.serialized) struct LiveViewTmuxTests {
  @Test func rowsForRealHoldersAppearTheFilterNarrowsAndALateHolderAppears() throws {
    guard let pane = try LiveViewPane.open(width: 80, height: 24) else { return }
    defer { pane.close() }
    let first = try Holder("tcp:127.0.0.1:0")
    let second = try Holder("tcp:127.0.0.1:0")
    try pane.start()
    // Other people's listeners may fill the screen: each holder is looked for by its port.
    for holder in [first, second] {
      pane.send("/", ":\(holder.port)")
      let narrowed = try #require(
        pane.waitFor { LiveViewPane.narrowed(to: holder.port, in: $0) },
        "the filter did not narrow to port \(holder.port):\n\(pane.capture())")
      #expect(LiveViewPane.row(in: narrowed, port: holder.port)?.contains(" \(holder.pid) ") == true, "\(narrowed)")
      #expect(narrowed.contains("filter :\(holder.port)"))
      // Esc clears the filter: more than one row again.
      pane.send("Escape")
      _ = try #require(
        pane.waitFor { !$0.contains("filter :") && LiveViewPane.rows(in: $0).count > 1 }, "\(pane.capture())")
    }
    // Enter keeps the filter; a holder started after the view opened appears, marked new.
    let port = try portFreeEverywhere()
    pane.send("/", ":\(port)", "Enter")
    _ = try #require(pane.waitFor { $0.contains("no row matches the filter") }, "\(pane.capture())")
    let late = try Holder("tcp:127.0.0.1:\(port)")
    let shown = try #require(
      pane.waitFor { LiveViewPane.row(in: $0, port: port)?.contains(" \(late.pid) ") == true },
      "the late holder \(late.pid) did not appear:\n\(pane.capture())")
    #expect(LiveViewPane.row(in: shown, port: port)?.dropFirst().first == "+", "\(shown)")
    // Every line fits the 80 columns.
    for line in shown.split(separator: "\n") { #expect(line.count <= 80) }
  }

  @Test func aWideWindowShowsEveryColumn() throws {
    guard let pane = try LiveViewPane.open(width: 200, height: 30) else { return }
    defer { pane.close() }
    let holder = try Holder("tcp:127.0.0.1:0")
    try pane.start()
    pane.send("/", ":\(holder.port)", "Enter")
    let screen = try #require(
      pane.waitFor { LiveViewPane.row(in: $0, port: holder.port) != nil }, "\(pane.capture())")
    let header = try #require(screen.split(separator: "\n").dropFirst().first.map(String.init))
    for title in ["PORT", "PROTO", "ADDRESS", "PID", "PROCESS", "USER", "PROJECT", "UPTIME", "MANAGER"] {
      #expect(header.contains(title), "\(header)")
    }
    let row = try #require(LiveViewPane.row(in: screen, port: holder.port))
    #expect(row.contains("tcp"))
    #expect(row.contains("127.0.0.1"))
    #expect(row.contains(" \(holder.pid) "))
    #expect(row.contains("port-holder"))
  }

  @Test func enterShowsTheManagerOfASupervisordProgram() throws {
    guard let supervisord = RealServers.tool("supervisord") else {
      Issue.record("supervisord (PyPI supervisor) is not installed; .ci/run installs it")
      return
    }
    guard let pane = try LiveViewPane.open(width: 120, height: 40) else { return }
    defer { pane.close() }
    let dir = try RealServers.directory("ui-sv")
    defer { try? FileManager.default.removeItem(at: dir) }
    let port = try portFreeEverywhere()
    let config = try RealServers.supervisordConfig(
      in: dir, program: "uiweb", command: "\(Products.holder.path) tcp:127.0.0.1:\(port)")
    let daemon = try Spawned(supervisord, ["-c", config])
    var program: Int32 = 0
    defer { RealServers.stop(daemon, children: program == 0 ? [] : [program]) }
    try #require(
      eventually(20) {
        guard let child = childPIDs(of: daemon.pid).first else { return false }
        program = child
        return loopbackTaken(port)
      }, "supervisord did not start the program")
    try pane.start()
    pane.send("/", ":\(port)", "Enter")
    let row = try #require(
      pane.waitFor(20) { screen in
        LiveViewPane.narrowed(to: port, in: screen)
          && LiveViewPane.row(in: screen, port: port)?.contains("supervisord") == true
      }.flatMap { LiveViewPane.row(in: $0, port: port) }, "\(pane.capture())")
    #expect(row.contains(" \(program) "), "\(row)")
    #expect(row.contains("supervisord uiweb"), "\(row)")
    pane.send("Enter")
    let why = try #require(
      pane.waitFor(15) { $0.contains("stop with") }, "the why panel did not open:\n\(pane.capture())")
    #expect(why.contains("why 127.0.0.1:\(port)/tcp"), "\(why)")
    #expect(why.contains("managed by  the supervisord program uiweb"), "\(why)")
    #expect(why.contains("stop with   supervisorctl -c \(config) stop uiweb"), "\(why)")
    #expect(why.contains("parent \(daemon.pid) "), "\(why)")
    // Esc closes the panel, the table is back.
    pane.send("Escape")
    try #require(pane.waitFor { LiveViewPane.row(in: $0, port: port) != nil } != nil, "\(pane.capture())")
    // m stops it through supervisorctl, after the same consent as `free --via-manager`.
    pane.send("m")
    let question = try #require(pane.waitFor(15) { $0.contains("[y/N]") }, "no consent asked:\n\(pane.capture())")
    #expect(question.contains("runs: `supervisorctl -c \(config) stop uiweb`"), "\(question)")
    #expect(question.contains("Run the stop command(s) above? [y/N]"), "\(question)")
    pane.send("y", "Enter")
    let proof = try #require(
      pane.waitFor(40) { $0.contains("Press any key") }, "the stop did not end:\n\(pane.capture())")
    #expect(proof.contains("running `supervisorctl -c \(config) stop uiweb`"), "\(proof)")
    #expect(proof.contains("\(port)/tcp is free"), "\(proof)")
    #expect(eventually { !isAlive(program) }, "the program \(program) still runs")
    #expect(isAlive(daemon.pid), "supervisord itself was stopped")
    pane.send("Space")
  }

  @Test func kThenYFreesThePortAndTheRowGoes() throws {
    guard let pane = try LiveViewPane.open(width: 80, height: 24) else { return }
    defer { pane.close() }
    let other = try Holder("tcp:127.0.0.1:0")
    let holder = try Holder("tcp:127.0.0.1:0")
    try pane.start()
    pane.send("/", ":\(holder.port)", "Enter")
    _ = try #require(
      pane.waitFor { LiveViewPane.narrowed(to: holder.port, in: $0) },
      "\(pane.capture())")
    // K asks the same with SIGKILL; declined, nothing is signalled.
    pane.send("K")
    let forced = try #require(pane.waitFor(15) { $0.contains("[y/N]") }, "no consent asked:\n\(pane.capture())")
    #expect(forced.contains("Send SIGKILL? [y/N]"), "\(forced)")
    #expect(forced.contains("sends: SIGKILL to port-holder (pid \(holder.pid))"), "\(forced)")
    pane.send("n", "Enter")
    let declined = try #require(pane.waitFor(15) { $0.contains("Press any key") }, "\(pane.capture())")
    #expect(declined.contains("nothing was signalled"), "\(declined)")
    #expect(isAlive(holder.pid))
    pane.send("Space")
    _ = try #require(pane.waitFor { LiveViewPane.narrowed(to: holder.port, in: $0) }, "\(pane.capture())")
    pane.send("k")
    let question = try #require(pane.waitFor(15) { $0.contains("[y/N]") }, "no consent asked:\n\(pane.capture())")
    // The same consent as `free`: targets, what will be sent.
    #expect(question.contains("portctl free: these processes hold 127.0.0.1:\(holder.port)/tcp:"), "\(question)")
    #expect(question.contains("sends: SIGTERM to port-holder (pid \(holder.pid))"), "\(question)")
    #expect(isAlive(holder.pid), "signalled before consent")
    pane.send("y", "Enter")
    let proof = try #require(
      pane.waitFor(20) { $0.contains("Press any key") }, "the free did not end:\n\(pane.capture())")
    #expect(proof.contains("\(holder.port)/tcp is free"), "\(proof)")
    #expect(eventually { !isAlive(holder.pid) }, "the holder \(holder.pid) still runs")
    #expect(isAlive(other.pid), "another holder was signalled")
    pane.send("Space")
    // Back in the view: the row goes (red for a moment, then gone).
    _ = try #require(
      pane.waitFor(10) {
        $0.contains("filter :\(holder.port)") && LiveViewPane.ours(in: $0, port: holder.port).isEmpty
      },
      "the row did not disappear:\n\(pane.capture())")
    #expect(canBindLoopback(holder.port))
  }

  @Test func aProcessThatTookTheSelectedPortBeforeKIsNeverSignalled() throws {
    guard let pane = try LiveViewPane.open(width: 80, height: 24) else { return }
    defer { pane.close() }
    let first = try Holder("tcp:127.0.0.1:0")
    let port = first.port
    // No refresh after the first: the view still shows the first holder when k is pressed.
    try pane.start(["--interval", "10m"])
    pane.send("/", ":\(port)", "Enter")
    _ = try #require(
      pane.waitFor {
        LiveViewPane.narrowed(to: port, in: $0)
          && LiveViewPane.row(in: $0, port: port)?.contains(" \(first.pid) ") == true
      },
      "\(pane.capture())")
    first.stop()
    let second = try Holder("tcp:127.0.0.1:\(port)")
    #expect(second.pid != first.pid)
    pane.send("k")
    let refused = try #require(
      pane.waitFor(15) { $0.contains("Press any key") }, "the free did not end:\n\(pane.capture())")
    #expect(refused.contains("pid \(first.pid) is no longer the process shown on 127.0.0.1:\(port)/tcp"), "\(refused)")
    #expect(refused.contains("nothing was signalled"), "\(refused)")
    #expect(!refused.contains("[y/N]"), "\(refused)")
    #expect(isAlive(second.pid), "the new holder was signalled")
    #expect(loopbackTaken(port))
    pane.send("q")
  }

  @Test func aRefreshNeverMovesTheSelectionToTheProcessThatReplacedIt() throws {
    guard let pane = try LiveViewPane.open(width: 80, height: 24) else { return }
    defer { pane.close() }
    let first = try Holder("tcp:127.0.0.1:0")
    let port = first.port
    try pane.start()
    pane.send("/", ":\(port)", "Enter")
    _ = try #require(
      pane.waitFor { screen in
        LiveViewPane.narrowed(to: port, in: screen)
          && LiveViewPane.row(in: screen, port: port)?.contains(" \(first.pid) ") == true
          && LiveViewPane.row(in: screen, port: port)?.hasPrefix(">") == true
      }, "\(pane.capture())")
    first.stop()
    let second = try Holder("tcp:127.0.0.1:\(port)")
    // The new holder's row appears, and is not selected.
    let screen = try #require(
      pane.waitFor(10) { screen in
        LiveViewPane.narrowed(to: port, in: screen)
          && LiveViewPane.row(in: screen, port: port)?.contains(" \(second.pid) ") == true
      }, "\(pane.capture())")
    #expect(LiveViewPane.row(in: screen, port: port)?.hasPrefix(">") == false, "\(screen)")
    pane.send("k")
    #expect(
      pane.waitFor { $0.contains("no row is selected") } != nil, "k acted without a selection:\n\(pane.capture())")
    #expect(!pane.capture().contains("[y/N]"))
    #expect(isAlive(second.pid))
  }

  @Test func theTerminalIsRestoredAfterQ() throws {
    guard let pane = try LiveViewPane.open(width: 80, height: 24) else { return }
    defer { pane.close() }
    try pane.start()
    _ = try #require(pane.waitFor { $0.contains("PORT") && $0.contains("?: help") }, "\(pane.capture())")
    #expect(pane.alternateScreen == true)
    let before = try #require(pane.stty(), "stty in the pane")
    #expect(before.contains("-icanon") && before.contains("-echo "), "\(before)")
    pane.send("q")
    let status = try #require(pane.exitStatus(), "portctl did not exit:\n\(pane.capture())")
    #expect(status == 0)
    #expect(pane.alternateScreen == false)
    let after = try #require(pane.sttyAfterExit(), "no stty after the exit")
    #expect(LiveViewPane.isCooked(after), "\(after)")
  }

  @Test func theTerminalIsRestoredAfterSIGTERM() throws {
    guard let pane = try LiveViewPane.open(width: 80, height: 24) else { return }
    defer { pane.close() }
    try pane.start()
    _ = try #require(pane.waitFor { $0.contains("PORT") && $0.contains("?: help") }, "\(pane.capture())")
    let pid = try #require(pane.portctlPID, "portctl's pid")
    #expect(kill(pid, SIGTERM) == 0)
    let status = try #require(pane.exitStatus(), "portctl did not exit:\n\(pane.capture())")
    #expect(status == 128 + SIGTERM)
    #expect(pane.alternateScreen == false)
    let after = try #require(pane.sttyAfterExit(), "no stty after the exit")
    #expect(LiveViewPane.isCooked(after), "\(after)")
  }

  @Test func portctlAloneOnATerminalOpensTheView() throws {
    guard let pane = try LiveViewPane.open(width: 80, height: 24) else { return }
    defer { pane.close() }
    try pane.start([], command: [])
    _ = try #require(pane.waitFor { $0.contains("PORT") && $0.contains("?: help") }, "\(pane.capture())")
    #expect(pane.alternateScreen == true)
    pane.send("?")
    #expect(pane.waitFor { $0.contains("portctl ui: keys") } != nil, "\(pane.capture())")
    pane.send("Escape", "C-c")
    #expect(pane.exitStatus() == 0)
  }

  @Test func allSocketsGroupingColourAndResize() throws {
    guard let coloured = try LiveViewPane.open(width: 80, height: 24) else { return }
    defer { coloured.close() }
    try coloured.start()
    _ = try #require(coloured.waitFor { $0.contains("?: help") }, "\(coloured.capture())")
    #expect(coloured.capture(escapes: true).contains("\u{1B}[7m"), "no inverse title with colour")

    let pane = try #require(try LiveViewPane.open(width: 80, height: 24))
    defer { pane.close() }
    // A listener with one accepted connection on it.
    let holder = try Holder("tcp:127.0.0.1:0", "--self-connect")
    try pane.start(environment: ["NO_COLOR": "1"])
    pane.send("/", ":\(holder.port)", "Enter")
    _ = try #require(
      pane.waitFor { LiveViewPane.narrowed(to: holder.port, in: $0) },
      "\(pane.capture())")
    let plain = pane.capture(escapes: true)
    for code in ["[7m", "[1m", "[31m", "[32m"] { #expect(!plain.contains("\u{1B}\(code)"), "\(code) with NO_COLOR") }
    // a: every socket, the accepted connection too.
    pane.send("a")
    let all = try #require(
      pane.waitFor { LiveViewPane.ours(in: $0, port: holder.port).count >= 2 },
      "no connection shown:\n\(pane.capture())")
    #expect(all.contains("socket"), "\(all)")
    pane.send("a")
    _ = try #require(pane.waitFor { LiveViewPane.ours(in: $0, port: holder.port).count == 1 }, "\(pane.capture())")
    // p: grouped by project, a header over the rows.
    pane.send("p")
    let grouped = try #require(pane.waitFor { $0.contains("by project") }, "\(pane.capture())")
    #expect(grouped.split(separator: "\n").contains { $0.hasPrefix("▸ ") }, "\(grouped)")
    // A resize lays the frame out again at the new size.
    _ = detached(LiveViewPane.tmux, ["-L", pane.socket, "resize-window", "-t", "v", "-x", "120", "-y", "30"])
    let resized = try #require(
      pane.waitFor { screen in
        let lines = screen.split(separator: "\n", omittingEmptySubsequences: false)
        return lines.count >= 30 && lines[29].contains("Enter why")
      }, "not redrawn at 120×30:\n\(pane.capture())")
    #expect(resized.contains("filter :\(holder.port)"))
  }

  @Test func theProjectColumnShowsTheFolderAndBranchAndPGroupsByIt() throws {
    guard let pane = try LiveViewPane.open(width: 120, height: 24) else { return }
    defer { pane.close() }
    let root = try RealServers.directory("ui-project")
    defer { try? FileManager.default.removeItem(at: root) }
    let name = "ui-shop-\(getpid())"
    let project = root.appendingPathComponent(name)
    let git = project.appendingPathComponent(".git")
    try FileManager.default.createDirectory(at: git, withIntermediateDirectories: true)
    try "ref: refs/heads/ui-branch\n".write(to: git.appendingPathComponent("HEAD"), atomically: true, encoding: .utf8)
    let source = project.appendingPathComponent("src")
    try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
    let port = try portFreeEverywhere()
    let holder = try Spawned(
      "/bin/sh", ["-c", "cd '\(source.path)' && exec '\(Products.holder.path)' tcp:127.0.0.1:\(port)"])
    try #require(eventually { loopbackTaken(port) }, "the holder did not listen")
    try pane.start()
    pane.send("/", ":\(port)", "Enter")
    let screen = try #require(
      pane.waitFor { LiveViewPane.row(in: $0, port: port)?.contains("\(name) (ui-branch)") == true },
      "no project on the row:\n\(pane.capture())")
    #expect(LiveViewPane.row(in: screen, port: port)?.contains(" \(holder.pid) ") == true, "\(screen)")
    // The filter finds it by its path, and p puts it under its project's header.
    pane.send("Escape", "/", "/\(name)", "Enter")
    _ = try #require(pane.waitFor { LiveViewPane.rows(in: $0).count == 1 }, "\(pane.capture())")
    pane.send("p")
    #expect(
      pane.waitFor { $0.contains("▸ \(name) (ui-branch) (1)") } != nil, "no project header:\n\(pane.capture())")
  }

  @Test func withoutATerminalPortctlAlonePrintsTheList() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let result = try portctl([])
    #expect(result.status == 0)
    #expect(result.stdout.hasPrefix("PROTO"), "\(result.stdout)")
    #expect(result.stdout.contains(" \(holder.pid) "))
  }

  @Test func withoutATerminalUIPrintsTheList() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let result = try portctl("ui")
    #expect(result.status == 0)
    #expect(result.stdout.hasPrefix("PROTO"), "\(result.stdout)")
    #expect(result.stdout.contains(" \(holder.pid) "))
    #expect(!result.stdout.contains("\u{1B}"))
  }
}

/// A tmux server of its own with one pane of a fixed size running `portctl ui` under a
/// shell that records, once portctl exits, its exit status and `stty -a`.
final class LiveViewPane: @unchecked Sendable {
  let socket: String
  let directory: URL
  let width: Int
  let height: Int
  static let tmux = "/usr/bin/tmux"

  /// A pane, or `nil` (recorded as an issue) when tmux is missing.
  static func open(width: Int, height: Int) throws -> LiveViewPane? {
    guard FileManager.default.isExecutableFile(atPath: tmux) else {
      Issue.record("tmux is not installed; .ci/run installs it")
      return nil
    }
    return try LiveViewPane(width: width, height: height)
  }

  private init(width: Int, height: Int) throws {
    socket = "portctl-ui-\(getpid())-\(UUID().uuidString.prefix(8))"
    directory = try RealServers.directory("ui-pane")
    self.width = width
    self.height = height
  }

  /// Starts the pane running `portctl` with `command` (`ui` by default) and `arguments`.
  func start(_ arguments: [String] = [], command: [String] = ["ui"], environment: [String: String] = [:]) throws {
    let assignments = environment.map { "\($0.key)='\($0.value)'" }.sorted()
    // The test's own NO_COLOR (if any) is not passed on: only `environment` sets it.
    let words =
      ["env", "-u", "NO_COLOR"] + assignments
      + ([Products.portctl.path] + command + arguments).map { "'\($0)'" }
    let command = words.joined(separator: " ")
    let dir = directory.path
    let script =
      "\(command); echo $? > \(dir)/status; stty -a > \(dir)/stty.tmp; mv \(dir)/stty.tmp \(dir)/stty; sleep 600"
    let status = detached(
      Self.tmux,
      [
        "-L", socket, "-f", "/dev/null", "new-session", "-d", "-x", "\(width)", "-y", "\(height)", "-s", "v", "sh",
        "-c", script,
      ])
    try #require(status == 0, "tmux did not start")
    // Keys are sent once the view is up (its title line drawn).
    _ = try #require(waitFor(30) { $0.contains("?: help") }, "the view did not open:\n\(capture())")
  }

  func send(_ keys: String...) {
    for key in keys {
      // A key name (Enter, Escape, C-c…) as a key; anything else as literal text.
      let named = ["Enter", "Escape", "Space", "Up", "Down", "C-c"].contains(key)
      _ = detached(Self.tmux, ["-L", socket, "send-keys", "-t", "v"] + (named ? [key] : ["-l", key]))
      // Esc alone needs its pause to be read as the Esc key, not the start of a sequence.
      if key == "Escape" { usleep(150_000) }
    }
  }

  /// The screen's text; with `escapes`, with its attributes as escape sequences.
  func capture(escapes: Bool = false) -> String {
    let flags = escapes ? ["-p", "-e"] : ["-p"]
    return (try? run(URL(fileURLWithPath: Self.tmux), ["-L", socket, "capture-pane"] + flags + ["-t", "v"]).stdout)
      ?? ""
  }

  /// Polls the screen until `condition` holds (up to `seconds`); the screen then, or `nil`.
  func waitFor(_ seconds: Double = 15, _ condition: (String) -> Bool) -> String? {
    let deadline = Date().addingTimeInterval(seconds)
    repeat {
      let screen = capture()
      if condition(screen) { return screen }
      usleep(100_000)
    } while Date() < deadline
    return nil
  }

  var alternateScreen: Bool? {
    let text = try? run(
      URL(fileURLWithPath: Self.tmux), ["-L", socket, "display-message", "-p", "-t", "v", "#{alternate_on}"]
    ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    return text.map { $0 == "1" }
  }

  var panePID: pid_t? {
    let text = try? run(URL(fileURLWithPath: Self.tmux), ["-L", socket, "list-panes", "-t", "v", "-F", "#{pane_pid}"])
      .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    return text.flatMap { pid_t($0) }
  }

  /// The portctl the pane's shell runs.
  var portctlPID: pid_t? {
    guard let shell = panePID else { return nil }
    return childPIDs(of: shell).first { pid in
      (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe"))?.hasSuffix("/portctl") == true
    }
  }

  /// The terminal settings now, read from the pane's terminal while portctl runs.
  func stty() -> String? {
    let text = try? run(
      URL(fileURLWithPath: Self.tmux), ["-L", socket, "display-message", "-p", "-t", "v", "#{pane_tty}"]
    ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    guard let tty = text, !tty.isEmpty else { return nil }
    return try? shell("stty -a < \(tty)").stdout
  }

  /// portctl's exit status, once it exited (up to 10 s).
  func exitStatus() -> Int32? {
    let path = directory.appendingPathComponent("status").path
    guard eventually(10, { FileManager.default.fileExists(atPath: path) }) else { return nil }
    _ = eventually(2) { ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").hasSuffix("\n") }
    return (try? String(contentsOfFile: path, encoding: .utf8)).flatMap {
      Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
    }
  }

  /// `stty -a` as the shell saw it right after portctl exited.
  func sttyAfterExit() -> String? {
    let path = directory.appendingPathComponent("stty").path
    guard eventually(10, { FileManager.default.fileExists(atPath: path) }) else { return nil }
    return try? String(contentsOfFile: path, encoding: .utf8)
  }

  /// Line mode and echo on.
  static func isCooked(_ stty: String) -> Bool {
    let words = Set(stty.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == ";" }).map(String.init))
    return words.contains("icanon") && words.contains("echo") && words.contains("isig")
  }

  /// The table's rows (lines after the header, marked by their first two columns).
  static func rows(in screen: String) -> [String] {
    let lines = screen.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    guard lines.count > 2 else { return [] }
    return lines.dropFirst(2).dropLast().filter { line in
      let fields = line.dropFirst(2).split(separator: " ")
      return fields.count >= 3 && UInt16(fields[0]) != nil && ["tcp", "udp"].contains(String(fields[1]))
    }
  }

  /// The rows of `port` on 127.0.0.1 (where the tests' holders listen: other people's
  /// listeners may use the same port on another address).
  static func ours(in screen: String, port: UInt16) -> [String] {
    rows(in: screen).filter { line in
      let fields = line.dropFirst(2).split(separator: " ")
      return fields.first == Substring("\(port)") && fields.count > 2 && fields[2] == "127.0.0.1"
    }
  }

  /// The first row of `port` on 127.0.0.1, when one is shown.
  static func row(in screen: String, port: UInt16) -> String? {
    ours(in: screen, port: port).first
  }

  /// True when the filter narrowed the table to `port`: one row of ours, and no row of
  /// another port.
  static func narrowed(to port: UInt16, in screen: String) -> Bool {
    let rows = rows(in: screen)
    return ours(in: screen, port: port).count == 1
      && rows.allSatisfy { $0.dropFirst(2).split(separator: " ").first == Substring("\(port)") }
  }

  func close() {
    _ = detached(Self.tmux, ["-L", socket, "kill-server"])
    try? FileManager.default.removeItem(at: directory)
  }
}
#endif
