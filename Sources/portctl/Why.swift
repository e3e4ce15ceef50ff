import ArgumentParser
import PortKit

struct Why: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    // Named here: deriving it from the type name costs a demangling at every start.
    commandName: "why",
    abstract: "Who holds the ports, how each holder came to be, and how to stop it properly.",
    discussion: """
      For each holder: the project it runs in (folder, git branch, framework), the chain of \
      ancestors up to pid 1, and the manager that owns its \
      life with the command that stops it properly instead of kill: systemd system and user \
      units, Docker and Podman containers (and docker-proxy), supervisord programs, pm2, \
      nodemon, foreman/overmind/honcho, runit, s6, tmux sessions, screen sessions, ssh -L/-R/-D \
      forwards, kubectl port-forward, VS Code servers, launchd, Windows services.

      A recognised server (nginx, Apache httpd, gunicorn, uvicorn and hypercorn workers, the \
      Werkzeug/Flask and Django reloaders, node cluster primaries) is named once per socket: \
      its master, its workers folded by command, its own stop command and the signal portctl \
      sends to its master. On a terminal, command lines are cut to its width (--json keeps them \
      whole).

      Exit status as for `who`: 0 held, 1 not held, 2 the system could not be inspected, 64 \
      usage error.
      """
  )

  @OptionGroup var target: PortSpecArguments

  @OptionGroup var selection: SocketSelectionOptions
  @OptionGroup var output: OutputOptions
  @OptionGroup var backend: BackendOptions
  @OptionGroup var remote: RemoteHostOptions

  func run() async throws {
    Inspection.suggestionSuffix = remote.suggestionSuffix
    let specs = target.specs
    let result = try await Inspection.run(
      "why", output: output, backend: backend.backend, host: remote.remoteHost
    ) { system in
      try await PortInspection(system: system).inspect(
        specs, protocols: selection.protocols, listenersOnly: !selection.all, exclusions: false)
    }
    let (report, provenance) = (result.report, result.provenance)
    let status = report.isHeld ? ExitStatus.success : ExitStatus.negative
    if output.json {
      JSONOutput.streamReport(
        ReportDocument(
          command: "why", exitCode: status, query: specs, report: report, provenance: provenance,
          projects: result.projects, host: remote.host))
    } else if !output.quiet {
      WhyText.print(report, provenance: provenance, specs: specs, all: selection.all, projects: result.projects)
    }
    if status != ExitStatus.success { throw ExitCode(status) }
  }
}

enum WhyText {
  static func print(
    _ report: PortReport, provenance: [PID: Provenance], specs: [PortSpec], all: Bool,
    width: Int? = Terminal.outputWidth, projects: [PID: Project] = [:]
  ) {
    var lines: [String] = []
    render(
      report, provenance: provenance, specs: specs, all: all, width: width, style: .standardOutput, projects: projects
    ) {
      lines.append($0)
    }
    for line in lines { Swift.print(line) }
  }

  /// The text of `why`, one line at a time. Command lines are cut to `width` columns when
  /// it is given (a terminal); everything another process chose is escaped.
  static func render(
    _ report: PortReport, provenance: [PID: Provenance], specs: [PortSpec], all: Bool, width: Int?, style: Style,
    projects: [PID: Project] = [:], emit: (String) -> Void
  ) {
    if report.sockets.isEmpty {
      emit("\(all ? "no socket" : "nothing listening") on \(specs.map(\.text).joined(separator: ", "))")
      return
    }
    for entry in report.sockets {
      let socket = entry.socket
      emit(style.bold("\(socket.proto.rawValue) \(socket.local) \(socket.state.rawValue)"))
      switch entry.owner {
      case .processes(let holders):
        var shownServers: Set<PID> = []
        for holder in holders {
          let process = holder.process
          if let server = provenance[process.pid]?.server {
            // One entry per server: its master and workers, however many of them hold the socket.
            guard shownServers.insert(server.master.pid).inserted else { continue }
            let layout = Layout(
              report: report, socket: socket, holders: holders, provenance: provenance, width: width, style: style)
            layout.server(server, emit: emit)
            let project = projects[server.master.pid] ?? projects[process.pid]
            if let project { emit("    \(ProjectText.summary(project))") }
            continue
          }
          let user = TerminalText.escape(process.user ?? process.uid.map { "uid \($0)" } ?? "?")
          let uptime = process.startTime.map { ", up \(Durations.compact(report.takenAt - $0))" } ?? ""
          let shared =
            holder.sharesWith.map { ", shares the socket with its \(process.ppid == $0 ? "parent" : "ancestor") \($0)" }
            ?? ""
          let suffix = "  (\(user)\(uptime)\(shared))"
          let prefix = "  \(process.pid) "
          let command = fit(TerminalText.escape(process.displayCommand), width, used: prefix.count + suffix.count)
          emit("  \(style.bold("\(process.pid)")) \(command)\(suffix)")
          let layout = Layout(
            report: report, socket: socket, holders: holders, provenance: provenance, width: width, style: style)
          if let project = projects[process.pid] { emit("    \(ProjectText.summary(project))") }
          layout.chain(provenance[process.pid]?.ancestry ?? [], emit: emit)
          let managers = provenance[process.pid]?.managers ?? []
          if managers.isEmpty {
            emit(
              "    managed by: nothing portctl recognises; stop it with portctl kill \(socket.local.port)\(Inspection.suggestionSuffix)"
            )
          }
          layout.managers(managers, emit: emit)
          if let hint = HolderHints.hint(for: process, socket: socket) {
            emit("    note: \(TerminalText.escape(process.name)) is \(TerminalText.escape(hint))")
          }
        }
        if let unseen = entry.unseenHolders {
          emit("  note: \(TerminalText.escape(unseen.alsoHeldAdvice))")
        }
      case .hidden(let hidden):
        emit("  \(TerminalText.escape(hidden.advice))")
      case .kernel:
        emit("  held by the kernel, not a process")
      case .none:
        emit("  no process holds it")
      }
    }
  }

  /// `text` cut to what is left of `width` columns after `used` of them, ending in `…`; whole
  /// when there is no width (not a terminal). At least 20 columns are kept.
  static func fit(_ text: String, _ width: Int?, used: Int) -> String {
    guard let width else { return text }
    let room = max(20, width - used)
    let scalars = text.unicodeScalars
    guard scalars.count > room else { return text }
    var cut = String.UnicodeScalarView()
    cut.append(contentsOf: scalars.prefix(room - 1))
    return String(cut) + "…"
  }

  /// What the entries of one socket share.
  struct Layout {
    var report: PortReport
    var socket: SocketEntry
    var holders: [HolderProcess]
    var provenance: [PID: Provenance]
    var width: Int?
    var style: Style

    /// The ancestors, one line per process.
    func chain(_ chain: [ProcessRecord], emit: (String) -> Void) {
      for (index, ancestor) in chain.enumerated() {
        let label = index == 0 ? "parent" : "  ←"
        let started = ancestor.startTime.map { "  started \(ReportText.localTime($0))" } ?? ""
        let prefix = "    \(label) \(ancestor.pid) "
        let command = fit(
          TerminalText.escape(ancestor.displayCommand), width, used: prefix.unicodeScalars.count + started.count)
        emit("\(prefix)\(command)\(style.dim(started))")
      }
    }

    /// The managers, most specific first, with their stop commands; the first one's is `stop
    /// with` unless `firstStop` says otherwise (a server's own command came first).
    func managers(_ managers: [ProcessManager], firstStop: String = "stop with ", emit: (String) -> Void) {
      for (index, manager) in managers.enumerated() {
        emit("    \(index == 0 ? "managed by" : "also     ")  \(TerminalText.escape(manager.detail))")
        let stop = TerminalText.escape(manager.stop)
        emit(
          "    \(index == 0 ? firstStop : "          ")  \(index == 0 && firstStop == "stop with " ? style.green(stop) : stop)"
        )
        if let warning = manager.evidenceWarning {
          emit("    \(index == 0 ? "evidence  " : "         ")  \(style.yellow(warning))")
        }
      }
    }

    /// A recognised server: named once, its master, its workers folded by command, the
    /// master's ancestors, its managers, and how it is stopped.
    func server(_ server: RecognizedServer, emit: (String) -> Void) {
      let holding = Dictionary(holders.map { ($0.process.pid, $0) }, uniquingKeysWith: { first, _ in first })
      emit("  \(style.bold("server")) \(TerminalText.escape(server.name)): \(TerminalText.escape(server.detail))")
      let master = server.master
      var notes = [user(master)]
      if let start = master.startTime { notes.append("up \(Durations.compact(report.takenAt - start))") }
      if holding[master.pid] != nil { notes.append("holds the socket") }
      process("master \(style.bold("\(master.pid)"))", plain: "master \(master.pid)", master, notes, emit: emit)

      // Identical workers (same command, same user, holding the socket or not) fold into one
      // line; commands that differ only in numbers (multiprocessing's pipe handles) count as
      // the same, and the line says so.
      var groups: [(key: String, workers: [ProcessRecord])] = []
      for worker in server.workers {
        let key = "\(Self.maskingNumbers(worker.displayCommand))\u{0}\(user(worker))\u{0}\(holding[worker.pid] != nil)"
        if let index = groups.firstIndex(where: { $0.key == key }) {
          groups[index].workers.append(worker)
        } else {
          groups.append((key, [worker]))
        }
      }
      for group in groups {
        guard let first = group.workers.first else { continue }
        let pids = group.workers.map { "\($0.pid)" }.joined(separator: ", ")
        let label = "\(group.workers.count == 1 ? "worker" : "workers") \(pids):"
        var notes = [user(first)]
        if holding[first.pid] != nil {
          let one = group.workers.count == 1
          notes.append(
            holding[master.pid] == nil
              ? (one ? "holds the socket" : "hold the socket")
              : (one ? "shares the socket" : "share the socket"))
        }
        if group.workers.contains(where: { $0.displayCommand != first.displayCommand }) {
          notes.append("commands differ only in numbers")
        }
        process(label, plain: label, first, notes, emit: emit)
      }

      // The master's ancestors: its own when it holds the socket, or those of a holder above it.
      var ancestry = provenance[master.pid]?.ancestry
      var found = provenance[master.pid]
      if ancestry == nil {
        for holder in holders where server.pids.contains(holder.process.pid) {
          guard let known = provenance[holder.process.pid] else { continue }
          found = known
          if let index = known.ancestry.firstIndex(where: { $0.pid == master.pid }) {
            ancestry = Array(known.ancestry[(index + 1)...])
            break
          }
        }
      }
      chain(ancestry ?? [], emit: emit)

      // A manager that owns the server's life (it would start it again: systemd, supervisord,
      // pm2, a container…) is stopped first; one that only hosts it (a tmux pane, a screen
      // session) or forwards to it comes after the server's own command.
      let managers = found?.managers ?? []
      let owner = managers.first.map { !Self.hostsOnly.contains($0.kind) } ?? false
      if let stop = server.stop, !owner {
        emit("    stop with   \(style.green(TerminalText.escape(stop)))")
        self.managers(managers, firstStop: "or        ", emit: emit)
      } else {
        self.managers(managers, emit: emit)
        if let stop = server.stop {
          emit("    its own     \(TerminalText.escape(stop))  (after the manager's, which would start it again)")
        }
      }
      let targets =
        server.signalsEveryProcess
        ? "each of its \(server.pids.count) processes"
        : "the master \(master.pid)\(server.workers.isEmpty ? "" : " (its workers stop with it)")"
      emit(
        "    portctl kill \(socket.local.port)\(Inspection.suggestionSuffix) sends \(server.stopSignal) to \(targets), and SIGKILL if it has not exited after \(Int(server.grace.seconds.rounded())) s"
      )
      if holding[master.pid] != nil, let hint = HolderHints.hint(for: master, socket: socket) {
        emit("    note: \(TerminalText.escape(master.name)) is \(TerminalText.escape(hint))")
      }
    }

    /// Managers that host or forward to a process without owning its life.
    static let hostsOnly: Set<ProcessManager.Kind> = [
      .tmux, .screen, .sshForward, .kubectlPortForward, .ideForward, .dockerProxy,
    ]

    /// `text` with every run of digits written as `#`.
    static func maskingNumbers(_ text: String) -> String {
      var result = ""
      var inDigits = false
      for scalar in text.unicodeScalars {
        let digit = scalar.properties.numericType == .decimal && scalar.isASCII
        if digit {
          if !inDigits { result += "#" }
        } else {
          result.unicodeScalars.append(scalar)
        }
        inDigits = digit
      }
      return result
    }

    private func user(_ process: ProcessRecord) -> String {
      process.user ?? process.uid.map { "uid \($0)" } ?? "?"
    }

    /// `  LABEL COMMAND  (NOTES)`, the command cut to the width.
    private func process(
      _ label: String, plain: String, _ process: ProcessRecord, _ notes: [String], emit: (String) -> Void
    ) {
      let suffix = "  (\(TerminalText.escape(notes.joined(separator: ", "))))"
      let used = 2 + plain.unicodeScalars.count + 1 + suffix.unicodeScalars.count
      emit("  \(label) \(fit(TerminalText.escape(process.displayCommand), width, used: used))\(suffix)")
    }
  }
}
