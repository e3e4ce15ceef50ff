import ArgumentParser
import LiveView
import PortKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct UI: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    // Named here: deriving it from the type name costs a demangling at every start.
    commandName: "ui",
    abstract: "A full-screen, live table of the listeners (`portctl` alone on a terminal).",
    discussion: """
      Refreshed every --interval from the snapshot `list` reads. Keys: ↑/↓ or j move (k \
      frees, so up is ↑ or Ctrl-P); / filters as you type (:3000 a port, /src/app a path, \
      !4242 a pid, anything else a name or command; Esc clears); Enter shows the row's why \
      (ancestry, manager, stop command); k (or x) frees the selected port with the consent \
      of `free`; K frees with SIGKILL; m stops it through its manager; o opens \
      http://localhost:PORT; a toggles all sockets; p groups rows by project; ? help; q, \
      Esc or Ctrl-C quit. The selection stays on its process (pid, start time, socket), and \
      an action signals nothing unless the plan targets that very process.

      Without a terminal on standard input and output (or with TERM=dumb) it prints `list` \
      once instead.
      """
  )

  @Option(name: .long, help: ArgumentHelp("How often to refresh.", valueName: "duration"))
  var interval = DurationArgument(argument: "1s")!

  @OptionGroup var backend: BackendOptions

  func validate() throws {
    if interval.duration < .milliseconds(100) { throw ValidationError("--interval takes 100ms or more") }
  }

  /// True when the live view can take the terminal: standard input and output are
  /// terminals and TERM is not `dumb`.
  static var canRun: Bool {
    #if os(Windows)
    return false
    #else
    return Terminal.stdinIsTTY && Terminal.stdoutIsTTY && Terminal.environment("TERM") != "dumb"
    #endif
  }

  func run() async throws {
    guard Self.canRun else {
      let list = try List.parse(backend.backend == .automatic ? [] : ["--backend", backend.backend.rawValue])
      try await list.run()
      return
    }
    #if !os(Windows)
    let system: System
    do {
      system = try System.make(backend.backend)
    } catch {
      throw Inspection.fail(error, command: "ui", output: OutputOptions())
    }
    let view = LiveViewLoop(system: system, interval: interval.duration, backend: backend.backend)
    try await view.run()
    #endif
  }
}

#if !os(Windows)
/// The live view's loop: refresh, draw, read keys, act. Everything it shows is read through
/// PortKit's use cases (``PortInspection``, ``PortFreeing``).
final class LiveViewLoop: @unchecked Sendable {
  let system: System
  let interval: Duration
  let backend: Backend
  private var model = LiveModel()
  private var decoder = KeyDecoder()
  private var panel: LiveLayout.Panel?
  private var editing = false
  private var message = ""
  private var allSockets = false
  private var managers: [ProcessIdentity: ProcessManager?] = [:]
  private var projects: [ProcessIdentity: Project?] = [:]
  private var refreshError: String?
  /// True while holders seen are still waiting for their managers and projects to be read.
  private var learning = false
  /// The latest snapshot's sockets and when it was taken.
  private var snapshot: (reports: [SocketReport], takenAt: Double)?
  private var tableHeight = 20
  private var openers: [pid_t] = []

  init(system: System, interval: Duration, backend: Backend) {
    self.system = system
    self.interval = interval
    self.backend = backend
  }

  func run() async throws {
    let session: TerminalSession
    do {
      session = try TerminalSession()
    } catch {
      Terminal.printError("portctl: \(error.description)")
      throw ExitCode(ExitStatus.usage)
    }
    defer { session.restore() }
    let clock = ContinuousClock()
    var nextRefresh = clock.now
    draw(session)
    while true {
      if clock.now >= nextRefresh {
        await refresh()
        nextRefresh = clock.now + interval
      }
      model.expire(now: Self.wallClock())
      draw(session)
      // Managers and projects of new holders are read after their rows are on screen.
      await enrich()
      draw(session)
      reapOpeners()
      let untilRefresh = max(0, (nextRefresh - clock.now).milliseconds)
      let timeout = decoder.hasPending ? 40 : learning ? 5 : Int32(min(untilRefresh, 250))
      let (bytes, resized) = session.read(timeout: timeout)
      if resized { session.invalidate() }
      let keys = bytes.isEmpty && !resized && decoder.hasPending ? decoder.flush() : decoder.feed(bytes)
      for key in keys {
        switch await handle(key, session: session) {
        case .quit: return
        case .refresh: nextRefresh = clock.now
        case .none: break
        }
      }
    }
  }

  // MARK: - reading

  private func refresh() async {
    let query = SocketQuery(specs: nil, protocols: [.tcp, .udp], listenersOnly: !allSockets, detail: .full)
    let inspection = PortInspection(system: system)
    do {
      let listing = try await inspection.listing(for: query)
      let reports = Array(listing)
      snapshot = (reports, listing.takenAt)
      update()
      refreshError = nil
    } catch {
      refreshError = "could not read the sockets: \(TerminalText.escape(error.message))"
    }
  }

  /// Reads the managers and projects of holders not seen before (after the rows were drawn
  /// without them), a few at a time so that keys are never kept waiting, the rows on screen
  /// first; and shows them.
  private func enrich() async {
    guard let reports = snapshot?.reports else { return }
    let onScreen = Set(
      model.lines(from: model.scroll, count: tableHeight).compactMap { line -> UInt64? in
        if case .row(let row, _) = line { return row.key.socketID }
        return nil
      })
    let first = reports.filter { onScreen.contains($0.socket.id) }
    let learned = await learn(first.isEmpty ? reports : first + reports, limit: 32)
    guard learned else { return }
    update()
  }

  /// The rows of the latest snapshot, with the managers and projects known so far.
  private func update() {
    guard let (reports, takenAt) = snapshot else { return }
    var projectsByPID: [PID: Project] = [:]
    var managersByPID: [PID: ProcessManager] = [:]
    for entry in reports {
      for holder in entry.owner.holders {
        let identity = ProcessIdentity(holder.process)
        if let project = projects[identity] ?? nil { projectsByPID[holder.process.pid] = project }
        if let manager = managers[identity] ?? nil { managersByPID[holder.process.pid] = manager }
      }
    }
    model.update(LiveRow.rows(from: reports, projects: projectsByPID, managers: managersByPID), now: takenAt)
  }

  /// Reads the managers (and projects) of up to `limit` holders not seen before, once
  /// each; true when it read some. ``learning`` says whether more are left.
  @discardableResult
  private func learn(_ reports: [SocketReport], limit: Int) async -> Bool {
    var unseen: [SocketReport] = []
    var processes: [ProcessRecord] = []
    var picked = Set<ProcessIdentity>()
    learning = false
    for entry in reports {
      let fresh = entry.owner.holders.filter {
        let identity = ProcessIdentity($0.process)
        return managers[identity] == nil && !picked.contains(identity)
      }
      guard !fresh.isEmpty else { continue }
      if processes.count >= limit {
        learning = true
        break
      }
      unseen.append(entry)
      for holder in fresh {
        picked.insert(ProcessIdentity(holder.process))
        processes.append(holder.process)
      }
    }
    guard !unseen.isEmpty else { return false }
    let report = PortReport(sockets: unseen, takenAt: Self.wallClock(), effectiveUID: geteuid())
    let provenance = await PortInspection(system: system).provenance(for: report)
    let found = await ProjectColumn.projects(for: processes, system: system)
    for process in processes {
      let identity = ProcessIdentity(process)
      managers[identity] = .some(provenance[process.pid]?.managers.first)
      projects[identity] = .some(found[process.pid])
    }
    // Forget processes long gone, so the caches stay as small as the table.
    if managers.count > 4 * max(reports.count, 64) {
      let live = Set(reports.flatMap { $0.owner.holders.map { ProcessIdentity($0.process) } })
      managers = managers.filter { live.contains($0.key) }
      projects = projects.filter { live.contains($0.key) }
    }
    return true
  }

  // MARK: - drawing

  private func draw(_ session: TerminalSession) {
    let size = session.size
    tableHeight = max(1, size.rows - 3)
    model.scrollToSelection(height: tableHeight)
    let rows = model.current.count
    let noun = allSockets ? "socket" : "listener"
    var title = " portctl · \(rows) \(noun)\(rows == 1 ? "" : "s")"
    if !model.filterText.isEmpty { title += " · filter \(TerminalText.escape(model.filterText))" }
    if model.grouped { title += " · by project" }
    title += " · ?: help  q: quit"
    let status: String
    if editing {
      status = "/" + TerminalText.escape(model.filterText) + "▏  Enter: keep  Esc: clear"
    } else if let refreshError {
      status = " " + refreshError
    } else if !message.isEmpty {
      status = " " + message
    } else if panel != nil {
      status = " ↑/↓ scroll  Esc/Enter/q: back"
    } else {
      status = " Enter why  k free  K force  m manager stop  o open  / filter  a all  p projects"
    }
    let paint = LiveLayout.Paint(enabled: Self.colour)
    session.draw(
      LiveLayout.frame(
        model, width: size.columns, height: size.rows, title: title, status: status, panel: panel, paint: paint,
        empty: snapshot == nil ? "reading the sockets…" : nil))
  }

  /// Colour unless NO_COLOR (non-empty) or TERM=dumb.
  static var colour: Bool {
    if let noColor = Terminal.environment("NO_COLOR"), !noColor.isEmpty { return false }
    return Terminal.environment("TERM") != "dumb"
  }

  static func wallClock() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
  }

  // MARK: - keys

  enum Reaction { case none, quit, refresh }

  private func handle(_ key: Key, session: TerminalSession) async -> Reaction {
    if editing { return edit(key) }
    message = ""
    if var shown = panel {
      switch key {
      case .escape, .enter, .character("q"), .character("?"), .left: panel = nil
      case .interrupt: return .quit
      case .up: shown.scroll = max(0, shown.scroll - 1)
      case .down, .character("j"): shown.scroll = min(max(0, shown.lines.count - 1), shown.scroll + 1)
      case .pageUp: shown.scroll = max(0, shown.scroll - tableHeight)
      case .pageDown: shown.scroll = min(max(0, shown.lines.count - 1), shown.scroll + tableHeight)
      default: break
      }
      if panel != nil { panel = shown }
      return .none
    }
    switch key {
    case .interrupt, .character("q"): return .quit
    case .escape:
      if model.filterText.isEmpty { return .quit }
      model.filterText = ""
    case .down, .character("j"), .control(0x0E): model.move(by: 1)
    case .up, .control(0x10): model.move(by: -1)
    case .pageDown: model.move(by: tableHeight)
    case .pageUp: model.move(by: -tableHeight)
    case .home: model.move(by: -Int(Int32.max))
    case .end: model.move(by: Int(Int32.max))
    case .character("/"):
      editing = true
    case .enter: await why()
    case .character("k"), .character("x"): return await free(session: session, mode: .safe)
    case .character("K"): return await free(session: session, mode: .force)
    case .character("m"): return await free(session: session, mode: .manager)
    case .character("o"): open()
    case .character("a"):
      allSockets.toggle()
      message = allSockets ? "showing every socket, connections too" : "showing listeners only"
      return .refresh
    case .character("p"):
      model.grouped.toggle()
    case .character("?"):
      panel = LiveLayout.Panel(title: "portctl ui: keys", lines: LiveLayout.help)
    case .other:
      break
    default:
      break
    }
    return .none
  }

  private func edit(_ key: Key) -> Reaction {
    switch key {
    case .escape:
      model.filterText = ""
      editing = false
    case .enter:
      editing = false
    case .interrupt:
      return .quit
    case .backspace:
      if !model.filterText.isEmpty { model.filterText.removeLast() }
    case .character(let character):
      if model.filterText.count < 200 { model.filterText.append(character) }
    default:
      break
    }
    if model.selection == nil || model.selectedLine == nil { model.selectFirst() }
    return .none
  }

  // MARK: - actions

  /// The row an action works on, or a message saying why there is none.
  private func selectedRow() -> LiveRow? {
    guard let row = model.selection else {
      message = "no row is selected: move to one with ↑/↓ or j"
      return nil
    }
    return row
  }

  /// The port spec of exactly the row's socket: its address, port and protocol.
  private static func spec(for row: LiveRow) -> String {
    "\(row.key.local)/\(row.key.proto.rawValue)"
  }

  private func why() async {
    guard let row = selectedRow() else { return }
    let text = Self.spec(for: row)
    guard let specs = try? PortSpec.parseList(text) else { return }
    do {
      let result = try await PortInspection(system: system).inspect(
        specs, protocols: [row.key.proto], listenersOnly: !allSockets, exclusions: false)
      var report = result.report
      report.sockets = report.sockets.filter { $0.socket.local == row.key.local && $0.socket.proto == row.key.proto }
      var lines: [String] = []
      let width = max(40, (Terminal.outputWidth ?? 80) - 1)
      WhyText.render(
        report, provenance: result.provenance, specs: specs, all: allSockets, width: width,
        style: Style(enabled: false),
        projects: result.projects
      ) { lines.append($0) }
      if let pid = row.key.pid,
        !report.sockets.contains(where: { entry in
          entry.owner.holders.contains {
            ProcessIdentity($0.process) == ProcessIdentity(pid: pid, startTicks: row.key.startTicks)
          }
        })
      {
        lines.insert("note: pid \(pid) no longer holds this socket; this is who holds it now.", at: 0)
      }
      panel = LiveLayout.Panel(title: "why \(text)", lines: lines)
    } catch {
      message = "could not read \(text): \(TerminalText.escape(error.message))"
    }
  }

  enum FreeMode { case safe, force, manager }

  /// Frees the selected row's socket through `free`'s own flow (the same consent, progress
  /// and proof), on the normal screen, then comes back. The plan must target the process
  /// shown (same pid and start time) and no process the view did not show on that port.
  private func free(session: TerminalSession, mode: FreeMode) async -> Reaction {
    guard let row = selectedRow() else { return .none }
    guard let pid = row.key.pid else {
      message = "no process of yours holds this socket: nothing to signal"
      return .none
    }
    let text = Self.spec(for: row)
    guard let specs = try? PortSpec.parseList(text) else { return .none }
    let expected = ProcessIdentity(pid: pid, startTicks: row.key.startTicks)
    // Every holder the view showed on this port: the consent may list them, nothing else.
    let shown = Set(
      model.current.filter { $0.port == row.port && $0.key.proto == row.key.proto }.flatMap(\.holders))
    let check = Self.pinnedCheck(expected: expected, shown: shown, port: text)
    var arguments: [String] = []
    switch mode {
    case .safe: break
    case .force: arguments = ["--force"]
    case .manager: arguments = ["--via-manager"]
    }
    session.suspend()
    Terminal.writeError("\u{1B}[2J\u{1B}[H")
    Terminal.printError("portctl ui: free \(text) (\(TerminalText.escape(row.process)), pid \(pid))")
    do {
      let termination = try TerminationOptions.parse(arguments)
      let selection = try SocketSelectionOptions.parse([])
      let output = try OutputOptions.parse([])
      try await TerminationFlow.run(
        "free", specs: specs, termination: termination, selection: selection, output: output, backend: backend,
        verification: .init(), check: check)
    } catch let code as ExitCode {
      Terminal.printError("portctl ui: free ended with exit status \(code.rawValue).")
    } catch {
      Terminal.printError("portctl ui: \(TerminalText.escape("\(error)"))")
    }
    fflush(nil)
    session.waitForKey(prompt: "\nPress any key to return to the live view.")
    session.enter()
    return .refresh
  }

  /// The check the consent runs first: the plan must signal the process shown (pid and
  /// start time), and every process it signals for holding the port must be one the view
  /// showed there. Anything else (the process exited, a new one took the port) refuses.
  static func pinnedCheck(expected: ProcessIdentity, shown: Set<ProcessIdentity>, port: String)
    -> @Sendable (TerminationPlan) -> String?
  {
    { plan in
      let targets = plan.targets.map { ProcessIdentity($0.process) }
      guard targets.contains(expected) else {
        return
          "portctl: pid \(expected.pid) is no longer the process shown on \(port) (it exited or something else holds the port now); refresh and look again."
      }
      for target in plan.targets where !target.sockets.isEmpty {
        let identity = ProcessIdentity(target.process)
        if !shown.contains(identity) {
          return
            "portctl: \(TerminalText.escape(target.process.name)) (pid \(target.process.pid)) holds \(port) now but was not shown there; refresh and look again."
        }
      }
      return nil
    }
  }

  /// Opens http://localhost:PORT with the desktop's opener, run directly (no shell).
  private func open() {
    guard let row = selectedRow() else { return }
    let url = "http://localhost:\(row.port)"
    #if os(macOS)
    let candidates = ["open"]
    #else
    let candidates = ["xdg-open", "sensible-browser", "x-www-browser"]
    #endif
    let directories = ["/usr/local/bin", "/usr/bin", "/bin"]
    let paths = candidates.flatMap { name in directories.map { "\($0)/\(name)" } }
    guard let tool = paths.first(where: { access($0, X_OK) == 0 }) else {
      message = "cannot open \(url): none of \(candidates.joined(separator: ", ")) is installed"
      return
    }
    if let pid = Self.spawnDetached(tool, [tool, url]) {
      openers.append(pid)
      message = "opening \(url)"
    } else {
      message = "could not run \(TerminalText.escape(tool))"
    }
  }

  private func reapOpeners() {
    openers.removeAll { pid in
      var status: Int32 = 0
      return waitpid(pid, &status, WNOHANG) != 0
    }
  }

  /// Starts `path` with `arguments`, its streams on /dev/null.
  static func spawnDetached(_ path: String, _ arguments: [String]) -> pid_t? {
    #if canImport(Darwin)
    var actions: posix_spawn_file_actions_t? = nil
    let environment = _NSGetEnviron().pointee
    #else
    var actions = posix_spawn_file_actions_t()
    let environment = environ
    #endif
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    for descriptor: Int32 in [0, 1, 2] {
      posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", descriptor == 0 ? O_RDONLY : O_WRONLY, 0)
    }
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { releaseCString(pointer) } }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, path, &actions, nil, &argv, environment)
    return result == 0 ? pid : nil
  }
}

/// `free(3)`, named apart from ``LiveViewLoop``'s `free`.
private func releaseCString(_ pointer: UnsafeMutablePointer<CChar>?) {
  free(pointer)
}

extension Duration {
  var milliseconds: Int64 {
    let (seconds, attoseconds) = components
    return seconds * 1000 + attoseconds / 1_000_000_000_000_000
  }
}

/// The project column: each holder's project, from ``PortInspection/projects(for:)``.
enum ProjectColumn {
  static func projects(for processes: [ProcessRecord], system: System) async -> [PID: Project] {
    await PortInspection(system: system).projects(for: processes)
  }
}
#endif
