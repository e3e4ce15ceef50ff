import ArgumentParser
import PortKit

struct Why: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    // Named here: deriving it from the type name costs a demangling at every start.
    commandName: "why",
    abstract: "Who holds the ports, how each holder came to be, and how to stop it properly.",
    discussion: """
      For each holder: the chain of ancestors up to pid 1, and the manager that owns its \
      life with the command that stops it properly instead of kill: systemd system and user \
      units, Docker and Podman containers (and docker-proxy), supervisord programs, pm2, \
      nodemon, foreman/overmind/honcho, runit, s6, tmux sessions, screen sessions, ssh -L/-R/-D \
      forwards, kubectl port-forward, VS Code servers, launchd, Windows services.

      Exit status as for `who`: 0 held, 1 not held, 2 the system could not be inspected, 64 \
      usage error.
      """
  )

  @OptionGroup var target: PortSpecArguments

  @OptionGroup var selection: SocketSelectionOptions
  @OptionGroup var output: OutputOptions
  @OptionGroup var backend: BackendOptions

  func run() async throws {
    let specs = target.specs
    let result = try await Inspection.run("why", output: output, backend: backend.backend) { system in
      try await PortInspection(system: system).inspect(
        specs, protocols: selection.protocols, listenersOnly: !selection.all, exclusions: false)
    }
    let (report, provenance) = (result.report, result.provenance)
    let status = report.isHeld ? ExitStatus.success : ExitStatus.negative
    if output.json {
      JSONOutput.streamReport(
        ReportDocument(command: "why", exitCode: status, query: specs, report: report, provenance: provenance))
    } else if !output.quiet {
      WhyText.print(report, provenance: provenance, specs: specs, all: selection.all)
    }
    if status != ExitStatus.success { throw ExitCode(status) }
  }
}

enum WhyText {
  static func print(_ report: PortReport, provenance: [PID: Provenance], specs: [PortSpec], all: Bool) {
    let style = Style.standardOutput
    if report.sockets.isEmpty {
      Swift.print("\(all ? "no socket" : "nothing listening") on \(specs.map(\.text).joined(separator: ", "))")
      return
    }
    for entry in report.sockets {
      let socket = entry.socket
      Swift.print(style.bold("\(socket.proto.rawValue) \(socket.local) \(socket.state.rawValue)"))
      switch entry.owner {
      case .processes(let holders):
        for holder in holders {
          let process = holder.process
          let user = TerminalText.escape(process.user ?? process.uid.map { "uid \($0)" } ?? "?")
          let uptime = process.startTime.map { ", up \(Durations.compact(report.takenAt - $0))" } ?? ""
          let shared =
            holder.sharesWith.map { ", shares the socket with its \(process.ppid == $0 ? "parent" : "ancestor") \($0)" }
            ?? ""
          let command = TerminalText.escape(process.displayCommand)
          Swift.print("  \(style.bold("\(process.pid)")) \(command)  (\(user)\(uptime)\(shared))")
          let chain = provenance[process.pid]?.ancestry ?? []
          for (index, ancestor) in chain.enumerated() {
            let label = index == 0 ? "parent" : "  ←"
            let started = ancestor.startTime.map { "  started \(ReportText.localTime($0))" } ?? ""
            Swift.print(
              "    \(label) \(ancestor.pid) \(TerminalText.escape(ancestor.displayCommand))\(style.dim(started))")
          }
          let managers = provenance[process.pid]?.managers ?? []
          if managers.isEmpty {
            Swift.print("    managed by: nothing portctl recognises; stop it with portctl kill \(socket.local.port)")
          }
          for (index, manager) in managers.enumerated() {
            Swift.print("    \(index == 0 ? "managed by" : "also     ")  \(TerminalText.escape(manager.detail))")
            Swift.print(
              "    \(index == 0 ? "stop with " : "         ")  \(style.green(TerminalText.escape(manager.stop)))")
            if let warning = manager.evidenceWarning {
              Swift.print("    \(index == 0 ? "evidence  " : "         ")  \(style.yellow(warning))")
            }
          }
          if let hint = HolderHints.hint(for: process, socket: socket) {
            Swift.print("    note: \(TerminalText.escape(process.name)) is \(TerminalText.escape(hint))")
          }
        }
        if let unseen = entry.unseenHolders {
          Swift.print("  note: \(TerminalText.escape(unseen.alsoHeldAdvice))")
        }
      case .hidden(let hidden):
        Swift.print("  \(TerminalText.escape(hidden.advice))")
      case .kernel:
        Swift.print("  held by the kernel, not a process")
      case .none:
        Swift.print("  no process holds it")
      }
    }
  }
}
