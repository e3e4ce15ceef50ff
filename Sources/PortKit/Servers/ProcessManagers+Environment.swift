extension ProcessManagers {
  /// Managers that name themselves in the holder's environment: supervisord, pm2, tmux, screen.
  static func fromEnvironment(_ clues: Clues, into found: inout [ProcessManager]) {
    let ancestors = clues.ancestors
    let environment = clues.environment
    // Environment set by the manager.
    if let environment {
      if let program = environment["SUPERVISOR_PROCESS_NAME"] {
        let group = environment["SUPERVISOR_GROUP_NAME"] ?? program
        let fullName = group == program ? program : "\(group):\(program)"
        let daemon = ancestors.first { isSupervisord($0) }
        let control = daemon.flatMap(configFile).map { "supervisorctl -c \(quote($0))" } ?? "supervisorctl"
        found.append(
          ProcessManager(
            kind: .supervisord, name: fullName,
            detail: "the supervisord program \(fullName), which supervisord restarts when it exits",
            stop: "\(control) stop \(quote(fullName))", evidence: daemon == nil ? .environment : .ancestor))
      }
      if let id = environment["pm_id"] {
        let name = environment["name"] ?? id
        let daemon = ancestors.contains { isPM2($0) }
        found.append(
          ProcessManager(
            kind: .pm2, name: name, detail: "the pm2 app \(name) (id \(id)), which pm2 restarts when it exits",
            stop: "pm2 stop \(quote(name))", evidence: daemon ? .ancestor : .environment))
      }
      if let tmux = environment["TMUX"], let pane = environment["TMUX_PANE"] {
        let socket = tmux.split(separator: ",").first.map(String.init) ?? ""
        let server = ancestors.contains { $0.name.hasPrefix("tmux") }
        found.append(
          ProcessManager(
            kind: .tmux, name: pane, detail: "runs in tmux pane \(pane) (server socket \(socket))",
            stop: "tmux \(socket.isEmpty ? "" : "-S \(quote(socket)) ")send-keys -t \(quote(pane)) C-c",
            evidence: server ? .ancestor : .environment))
      }
      if let session = environment["STY"] {
        let server = ancestors.contains { $0.name.lowercased() == "screen" }
        found.append(
          ProcessManager(
            kind: .screen, name: session, detail: "runs in the screen session \(session)",
            stop: "screen -r \(quote(session)), then Ctrl-C (or screen -S \(quote(session)) -X quit)",
            evidence: server ? .ancestor : .environment))
      }
    }

  }
}
