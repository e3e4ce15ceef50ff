extension ProcessManagers {
  /// Ancestors that supervise: the pm2 daemon, nodemon, Procfile runners, runit, s6, VS Code servers.
  static func fromAncestors(_ clues: Clues, into found: inout [ProcessManager]) {
    let holder = clues.holder
    let ancestors = clues.ancestors
    // A supervisord program whose environment does not name it (nginx rewrites its own
    // environment when it sets its title): supervisord among the ancestors still restarts it.
    if !found.contains(where: { $0.kind == .supervisord }), let daemon = ancestors.first(where: isSupervisord) {
      let control = configFile(daemon).map { "supervisorctl -c \(quote($0))" } ?? "supervisorctl"
      found.append(
        ProcessManager(
          kind: .supervisord, name: "supervisord",
          detail:
            "started by supervisord (pid \(daemon.pid)), which restarts it when it exits; its environment does not name the program",
          stop: "\(control) status, then \(control) stop NAME", evidence: .ancestor))
    }
    // Ancestors that supervise.
    for ancestor in ancestors {
      let line = ancestor.displayCommand
      if isPM2(ancestor), !found.contains(where: { $0.kind == .pm2 }) {
        found.append(
          ProcessManager(
            kind: .pm2, name: holder.name, detail: "started by the pm2 daemon (pid \(ancestor.pid)), which restarts it",
            stop: "pm2 list, then pm2 stop NAME", evidence: .ancestor))
      }
      if line.contains("nodemon") {
        found.append(
          ProcessManager(
            kind: .nodemon, name: "nodemon",
            detail: "started by nodemon (pid \(ancestor.pid)), which restarts it on changes",
            stop: "press Ctrl-C where nodemon runs (or kill \(ancestor.pid))", evidence: .ancestor))
      }
      for runner in ["foreman", "overmind", "honcho"]
      where ancestor.name == runner || line.contains("/\(runner) ") || line.hasPrefix("\(runner) ") {
        found.append(
          ProcessManager(
            kind: .procfileRunner, name: runner, detail: "started from a Procfile by \(runner) (pid \(ancestor.pid))",
            stop: runner == "overmind" ? "overmind stop (or overmind quit)" : "press Ctrl-C where \(runner) runs",
            evidence: .ancestor))
      }
      if ancestor.name == "runsv", let service = argument(after: "runsv", in: line) {
        found.append(
          ProcessManager(
            kind: .runit, name: service, detail: "the runit service \(service)", stop: "sv down \(quote(service))",
            evidence: .ancestor))
      }
      if ancestor.name == "s6-supervise", let service = argument(after: "s6-supervise", in: line) {
        found.append(
          ProcessManager(
            kind: .s6, name: service, detail: "the s6 service \(service)", stop: "s6-svc -d \(quote(service))",
            evidence: .ancestor))
      }
      if line.contains(".vscode-server") || line.contains("code-server") {
        found.append(
          ProcessManager(
            kind: .ideForward, name: "VS Code",
            detail: "started by a VS Code server (pid \(ancestor.pid)); VS Code may be forwarding this port",
            stop: "stop it in VS Code (terminal or Ports view)", evidence: .ancestor))
        break
      }
    }

  }
}
