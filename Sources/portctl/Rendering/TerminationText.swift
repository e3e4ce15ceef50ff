import PortKit

enum OutcomeText {
  static func describe(_ result: TerminationResult) -> String {
    switch result.outcome {
    case .exited(let signal, let seconds): "exited after \(signal) (\(milliseconds(seconds)))"
    case .killed(let seconds):
      result.signalsSent.count > 1
        ? "did not exit within \(duration(result.grace.seconds)) of \(result.signalsSent[0]); killed with SIGKILL"
        : "killed with SIGKILL (\(milliseconds(seconds)))"
    case .stoppedWithMaster(let seconds): "stopped with its master (\(milliseconds(seconds)))"
    case .stoppedByManager(let seconds): "stopped by its manager (\(milliseconds(seconds)))"
    case .alreadyGone: "already gone"
    case .replaced: "not signalled: its pid now names another process"
    case .releasedPort: "not signalled: it no longer held the port"
    case .notPermitted: "not permitted (use sudo)"
    case .survived:
      result.signalsSent.isEmpty
        ? "still running \(duration(result.grace.seconds)) after its manager's stop command"
        : "still running after SIGKILL (uninterruptible sleep?)"
    }
  }

  /// "5 s", "2.5 s", "500 ms": a duration as a person gives it.
  static func duration(_ seconds: Double) -> String {
    // A grace read from another process's command line can be anything: no conversion that
    // could trap.
    guard seconds.isFinite, seconds >= 0, seconds < 1e9 else { return "\(seconds) s" }
    if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
    if seconds == seconds.rounded() { return "\(Int(seconds)) s" }
    return "\(Double(Int(seconds * 10)) / 10) s"
  }

  /// "2.1 s": elapsed time to a tenth of a second.
  static func tenths(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds < 1e9 else { return "\(seconds) s" }
    return "\(Double(Int(max(seconds, 0) * 10)) / 10) s"
  }

  static func milliseconds(_ seconds: Double) -> String {
    seconds < 1 ? "\(Int((seconds * 1000).rounded())) ms" : "\(Double(Int(seconds * 10)) / 10) s"
  }
}

enum PortVerdictText {
  static func line(_ result: FreeVerifier.PortResult, manager: ProcessManager? = nil) -> String {
    let port = "\(result.item.port)/\(result.item.proto.rawValue)"
    let addresses =
      (result.probe?.outcomes.filter { $0.value == .bindable }.keys.sorted().map {
        $0.isWildcard && $0.family == .ipv6 ? "[::]" : "\($0)"
      }
      ?? []).joined(separator: " and ")
    switch result.verdict {
    case .free:
      return "\(port) is free: a bind on \(addresses) works"
    case .freeExceptTimeWait:
      guard !result.lingering.isEmpty else {
        return
          "\(port) is free for servers that set SO_REUSEADDR (most do); a plain bind still fails, and no visible socket explains it"
      }
      return
        "\(port) is free for servers that set SO_REUSEADDR (most do); \(closing(result.lingering)), owned by no process, block a plain bind\(left(result.lingering, "for up to")) (--wait waits for them)"
    case .freeExceptConnections:
      return
        "\(port) is free for servers that set SO_REUSEADDR (most do); a plain bind fails while \(connections(result.connections)); they do not close on their own: end them too with portctl free \(result.item.port) --all"
    case .timeWait:
      let reuse =
        result.probe?.isBindable == true ? "a plain bind" : "any bind (the old server did not set SO_REUSEADDR)"
      return
        "\(port) is NOT free: \(closing(result.lingering)), owned by no process, block \(reuse); they close\(left(result.lingering, "within")) (--wait waits for them)"
    case .freeUnprobed:
      return result.probe == nil
        ? "\(port) is free by the socket table (no bind test on this platform)"
        : "\(port) is free by the socket table; a bind test needs privilege for this port"
    case .held:
      let holders = result.stillHeld.flatMap(\.owner.holders).map {
        "\(TerminalText.escape($0.process.name)) (pid \($0.process.pid))"
      }
      if result.stillHeld.isEmpty, !result.connections.isEmpty {
        let why =
          result.probe?.isBindable == true
          ? "they block a plain bind and --wait does not wait for them, as they do not close on their own"
          : "they block every bind until they close"
        return
          "\(port) is NOT free: no listener is left, but \(connections(result.connections)); \(why): end them too with portctl free \(result.item.port) --all"
      }
      let by = holders.isEmpty ? "" : " by \(holders.joined(separator: ", "))"
      return "\(port) is NOT free: still held\(by)"
    case .respawned:
      guard let respawn = result.respawn else { return "\(port) is NOT free: taken again" }
      if let hidden = respawn.hiddenOwner {
        return
          "\(port) is NOT free: taken again by a process of \(TerminalText.escape(hidden.ownerDescription)) that portctl cannot see"
      }
      let first =
        respawn.holders.first.map {
          "\(TerminalText.escape($0.process.name)) (pid \($0.process.pid): \(TerminalText.escape($0.process.displayCommand)))"
        }
        ?? "a new process"
      let running = respawn.alreadyRunning ? ", which was already running before portctl signalled" : ""
      let supervisor =
        respawn.supervisor.map {
          "; its parent \(TerminalText.escape($0.name)) (pid \($0.pid): \(TerminalText.escape($0.displayCommand))) is the likely supervisor: stop it there, killing again will not help"
        } ?? ""
      let stop =
        manager.map {
          let warning = $0.evidenceWarning.map { " (\($0))" } ?? ""
          return "\n  it \(TerminalText.escape($0.detail))\(warning); stop it with: \(TerminalText.escape($0.stop))"
        } ?? ""
      return "\(port) is NOT free: taken again by \(first)\(running)\(supervisor)\(stop)"
    }
  }
  /// "2 TIME_WAIT and 1 FIN_WAIT2 socket(s)": closing states named as they are.
  static func closing(_ sockets: [SocketEntry]) -> String {
    var counts: [String: Int] = [:]
    for socket in sockets { counts[socket.state.rawValue, default: 0] += 1 }
    let parts = counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.value) \($0.key)" }
    let list =
      parts.count > 1 ? parts.dropLast().joined(separator: ", ") + " and " + (parts.last ?? "") : parts.joined()
    return "\(list) socket(s)"
  }

  /// " within 42 s": the longest time the kernel's timers give them; empty when unknown.
  static func left(_ sockets: [SocketEntry], _ preposition: String) -> String {
    sockets.compactMap(\.timer?.remainingSeconds).max().map { " \(preposition) \(Int($0.rounded(.up))) s" } ?? ""
  }

  /// "socat (pid 12), socat (pid 13) hold 2 connection(s) on the port (ESTABLISHED)".
  static func connections(_ entries: [SocketReport]) -> String {
    var names: [String] = []
    for entry in entries {
      let owners: [String]
      switch entry.owner {
      case .processes(let holders):
        owners = holders.map { "\(TerminalText.escape($0.process.name)) (pid \($0.process.pid))" }
      case .hidden(let hidden): owners = ["a process of \(TerminalText.escape(hidden.ownerDescription))"]
      default: owners = []
      }
      for owner in owners where !names.contains(owner) { names.append(owner) }
    }
    let states = Set(entries.map(\.socket.state.rawValue)).sorted().joined(separator: ", ")
    let who = names.isEmpty ? "processes" : names.joined(separator: ", ")
    return "\(who) hold \(entries.count) connection(s) on the port (\(states))"
  }
}
