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
    case .notPermitted: "not permitted (\(HostPlatform.current.elevationAdvice))"
    case .survived:
      result.signalsSent.isEmpty
        ? "still running \(duration(result.grace.seconds)) after its manager's stop command"
        : "still running after SIGKILL (uninterruptible sleep?)"
    }
  }

  /// Green only for a process that exited (after the signal asked for, or before it could be
  /// sent); yellow where the port was let go of some other way (SIGKILL needed, not
  /// signalled); red where the process may still hold it.
  static func tint(_ outcome: TerminationOutcome) -> Tint {
    switch outcome {
    case .exited, .stoppedWithMaster, .stoppedByManager, .alreadyGone: .green
    case .killed, .replaced, .releasedPort: .yellow
    case .notPermitted, .survived: .red
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

  /// The limit a progress line counts towards, in the same unit as the count: "0.2 s" under a
  /// second, "5 s" above.
  static func limit(_ seconds: Double) -> String {
    seconds < 1 ? tenths(seconds) : duration(seconds)
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
  /// The verdict line, its head (`3000/tcp is free`, `… is NOT free`) coloured by `style`:
  /// green for free, yellow for free with a condition, red for not free.
  static func line(
    _ result: FreeVerifier.PortResult, manager: ProcessManager? = nil, style: Style = Style(enabled: false)
  )
    -> String
  {
    let text = plainLine(result, manager: manager)
    let head = "\(result.item.port)/\(result.item.proto.rawValue) is \(result.isFree ? "free" : "NOT free")"
    guard text.hasPrefix(head) else { return text }
    let tint: Tint =
      switch result.verdict {
      case .free: .green
      case .freeExceptTimeWait, .freeExceptConnections, .freeUnprobed: .yellow
      case .held, .respawned, .timeWait: .red
      }
    return tint.apply(head, style) + text.dropFirst(head.count)
  }

  static func plainLine(_ result: FreeVerifier.PortResult, manager: ProcessManager?) -> String {
    let port = "\(result.item.port)/\(result.item.proto.rawValue)"
    let addresses = Wording.list(
      (result.probe?.outcomes.filter { $0.value == .bindable }.keys.sorted().map {
        $0.isWildcard && $0.family == .ipv6 ? "[::]" : "\($0)"
      }
        ?? []))
    let one = result.lingering.count == 1
    switch result.verdict {
    case .free:
      return "\(port) is free: a bind on \(addresses) works"
    case .freeExceptTimeWait:
      guard !result.lingering.isEmpty else {
        return
          "\(port) is free for servers that set SO_REUSEADDR (most do); a plain bind still fails, and no visible socket explains it"
      }
      return
        "\(port) is free for servers that set SO_REUSEADDR (most do); \(closing(result.lingering)), owned by no process, \(one ? "blocks" : "block") a plain bind\(left(result.lingering, "for up to")) (--wait waits for \(one ? "it" : "them"))"
    case .freeExceptConnections:
      return
        "\(port) is free for servers that set SO_REUSEADDR (most do); a plain bind fails while \(connections(result.connections)); \(result.connections.count == 1 ? "it does not close on its own: end it" : "they do not close on their own: end them") too with portctl free \(result.item.port) --all\(Inspection.suggestionSuffix)"
    case .timeWait:
      let reuse =
        result.probe?.isBindable == true ? "a plain bind" : "any bind (the old server did not set SO_REUSEADDR)"
      return
        "\(port) is NOT free: \(closing(result.lingering)), owned by no process, \(one ? "blocks" : "block") \(reuse); \(one ? "it closes" : "they close")\(left(result.lingering, "within")) (--wait waits for \(one ? "it" : "them"))"
    case .freeUnprobed:
      return result.probe == nil
        ? "\(port) is free by the socket table (no bind test is made on this platform or over --host)"
        : "\(port) is free by the socket table; a bind test needs privilege for this port"
    case .held:
      let holders = result.stillHeld.flatMap(\.owner.holders).map {
        "\(TerminalText.escape($0.process.name)) (pid \($0.process.pid))"
      }
      if result.stillHeld.isEmpty, !result.connections.isEmpty {
        let single = result.connections.count == 1
        let why =
          switch (result.probe?.isBindable == true, single) {
          case (true, true): "it blocks a plain bind and --wait does not wait for it, as it does not close on its own"
          case (true, false):
            "they block a plain bind and --wait does not wait for them, as they do not close on their own"
          case (false, true): "it blocks every bind until it closes"
          case (false, false): "they block every bind until they close"
          }
        return
          "\(port) is NOT free: no listener is left, but \(connections(result.connections)); \(why): end \(single ? "it" : "them") too with portctl free \(result.item.port) --all\(Inspection.suggestionSuffix)"
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
          return
            "\n  managed by: \(TerminalText.escape($0.detail))\(warning); stop it with: \(TerminalText.escape($0.stop))"
        } ?? ""
      return "\(port) is NOT free: taken again by \(first)\(running)\(supervisor)\(stop)"
    }
  }
  /// "2 TIME_WAIT and 1 FIN_WAIT2 sockets", "1 TIME_WAIT socket": closing states named as they are.
  static func closing(_ sockets: [SocketEntry]) -> String {
    var counts: [String: Int] = [:]
    for socket in sockets { counts[socket.state.rawValue, default: 0] += 1 }
    let parts = counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.value) \($0.key)" }
    return "\(Wording.list(parts)) \(sockets.count == 1 ? "socket" : "sockets")"
  }

  /// " within 42 s": the longest time the kernel's timers give them; empty when unknown.
  static func left(_ sockets: [SocketEntry], _ preposition: String) -> String {
    sockets.compactMap(\.timer?.remainingSeconds).max().map { " \(preposition) \(Int($0.rounded(.up))) s" } ?? ""
  }

  /// "socat (pid 12) and socat (pid 13) hold 2 connections on the port (ESTABLISHED)";
  /// "socat (pid 12) holds 1 connection …".
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
    let who = names.isEmpty ? "processes" : Wording.list(names)
    let verb = names.count == 1 ? "holds" : "hold"
    let count = entries.count == 1 ? "1 connection" : "\(entries.count) connections"
    return "\(who) \(verb) \(count) on the port (\(states))"
  }
}

/// Lists in words.
enum Wording {
  /// "a", "a and b", "a, b and c".
  static func list(_ items: [String]) -> String {
    guard let last = items.last else { return "" }
    return items.count == 1 ? last : items.dropLast().joined(separator: ", ") + " and " + last
  }
}
