import ArgumentParser
import PortKit

/// `kill` and `free`: plan, consent, terminate, and (for `free`) verify; then one report.
struct TerminationFlow {
  struct Verification {
    var respawnWindow: Duration
    var drainTimeWait: Duration?
  }

  let command: String
  let specs: [PortSpec]
  let termination: TerminationOptions
  let output: OutputOptions
  let query: SocketQuery
  let backend: Backend
  let control: any ProcessControl
  var document: TerminationDocument
  /// When the first signal went out, in clock ticks since boot (where known).
  var signalledAt: UInt64?

  init(
    command: String, specs: [PortSpec], termination: TerminationOptions, selection: SocketSelectionOptions,
    output: OutputOptions, backend: Backend
  ) throws {
    self.backend = backend
    self.command = command
    self.specs = specs
    self.termination = termination
    self.output = output
    query = SocketQuery(specs: specs, protocols: selection.protocols, listenersOnly: !selection.all)
    do {
      control = try SystemSources.processControl(backend)
    } catch {
      throw Inspection.fail(error, command: command, output: output)
    }
    document = TerminationDocument(command: command, dryRun: termination.dryRun)
  }

  mutating func run(verify: Verification?) async throws {
    let asked = query
    let report = try await Inspection.run(command, output: output, backend: backend) { system in
      try await PortInspection(system: system).report(for: asked)
    }
    let protection = ProcessProtection(chain: await control.selfAndAncestors())
    let peerListeners = await Self.peerListeners(of: report, query: query, backend: backend)
    let plan = TerminationPlan.make(from: report, protection: protection, peerListeners: peerListeners)
    document.plan = plan
    for entry in plan.clients {
      let remote = entry.socket.remote.map { " to \($0)" } ?? ""
      let holders = entry.owner.holders.map { "\(TerminalText.escape($0.process.name)) (pid \($0.process.pid))" }
        .joined(separator: ", ")
      let by = holders.isEmpty ? "" : " of \(holders)"
      note(
        "portctl: not a target: \(entry.socket.proto.rawValue) \(entry.socket.local)\(remote)\(by) is a connection made from port \(entry.socket.local.port), not one a server there accepted."
      )
    }
    document.parents = report.parents

    if !plan.protected.isEmpty {
      for entry in plan.protected {
        note(
          "portctl: refusing to signal \(TerminalText.escape(entry.process.name)) (pid \(entry.process.pid)): \(TerminalText.escape(entry.reason))."
        )
      }
      note("portctl: nothing was signalled.")
      return try finish(ExitStatus.refused)
    }
    if !plan.hidden.isEmpty || !plan.partlyHidden.isEmpty {
      for entry in plan.partlyHidden {
        guard let unseen = entry.unseenHolders else { continue }
        let visible = entry.owner.holders.map { "\(TerminalText.escape($0.process.name)) (pid \($0.process.pid))" }
          .joined(separator: ", ")
        let owner = TerminalText.escape(unseen.ownerDescription)
        let advice =
          unseen.reason == .needsPrivilege
          ? "run it with sudo: sudo portctl \(command) \(entry.socket.local.port)"
          : "stop them, or what runs them, first"
        note(
          "portctl: \(entry.socket.proto.rawValue) \(entry.socket.local) belongs to \(owner); portctl sees it held by \(visible), but processes of \(owner) that it cannot see or signal may hold it too, and would keep the port (a master process starting new workers); \(advice)."
        )
      }
      for entry in plan.hidden {
        guard case .hidden(let owner) = entry.owner else { continue }
        let advice =
          owner.reason == .needsPrivilege
          ? "run it with sudo: sudo portctl \(command) \(entry.socket.local.port)"
          : "its process is not visible from here (another PID namespace such as a container); stop it where it runs"
        note(
          "portctl: \(entry.socket.proto.rawValue) \(entry.socket.local) is held by \(TerminalText.escape(owner.ownerDescription)) and portctl may not see or signal that process; \(advice)."
        )
      }
      note("portctl: nothing was signalled.")
      return try finish(ExitStatus.notPermitted)
    }

    if plan.targets.isEmpty {
      for entry in plan.kernelHeld {
        note(
          "portctl: \(entry.socket.proto.rawValue) \(entry.socket.local) is held by the kernel, not a process; nothing to signal."
        )
      }
      guard let verify else {
        if !output.json && !output.quiet { print("nothing to kill: no process holds \(specList)") }
        return try finish(ExitStatus.negative)
      }
      return try await verifyPorts(verify, plan: plan, report: report, ended: [])
    }

    if termination.dryRun {
      if !output.json && !output.quiet {
        print("would send \(firstSignalName) to:")
        for line in targetTable(plan).render(style: .standardOutput) { print(line) }
      }
      return try finish(ExitStatus.success)
    }

    // Pinned now, before the question: whatever happens while it waits, a signal can only
    // reach the processes listed in it.
    let terminator = Terminator(control: control)
    let pinned = await terminator.pin(plan.targets.map(\.process))
    guard try consent(plan) else {
      await terminator.release(pinned)
      return try finish(ExitStatus.refused)
    }

    // Right before signalling, each target must still hold the port: one that let go of it
    // (closed it, or handed it to a successor) is not signalled.
    let (query, backend) = (query, backend)
    signalledAt = await control.clockTicks()
    let results = await terminator.terminate(
      pinned, request: termination.request,
      stillHolding: { _ in
        await Self.currentTargets(
          query: query, backend: backend, protection: protection, peerListeners: peerListeners)
      })
    document.results = results
    if !output.json && !output.quiet {
      for line in resultTable(results, plan: plan).render(style: .standardOutput) { print(line) }
    }
    if results.contains(where: { $0.outcome == .notPermitted }) {
      for result in results where result.outcome == .notPermitted {
        let owner = TerminalText.escape(result.process.user ?? result.process.uid.map { "uid \($0)" } ?? "another user")
        note(
          "portctl: not permitted to signal \(TerminalText.escape(result.process.name)) (pid \(result.process.pid)), which belongs to \(owner); run: sudo portctl \(command) \(specList)"
        )
      }
      return try finish(ExitStatus.notPermitted)
    }
    guard let verify else {
      return try finish(results.allSatisfy(\.outcome.letGoOfPort) ? ExitStatus.success : ExitStatus.negative)
    }
    return try await verifyPorts(verify, plan: plan, report: report, ended: Set(results.map(\.process.pid)))
  }

  /// The pids that would be targets now: the holders of the asked sockets, read again.
  /// `nil` when the system cannot be read.
  static func currentTargets(
    query: SocketQuery, backend: Backend, protection: ProcessProtection, peerListeners: [SocketEntry]
  ) async -> Set<PID>? {
    guard let source = try? SystemSources.source(backend), let snapshot = try? await source.snapshot(for: query) else {
      return nil
    }
    let plan = TerminationPlan.make(
      from: PortInspector.report(from: snapshot, query: query), protection: protection, peerListeners: peerListeners)
    return Set(plan.targets.map(\.process.pid))
  }

  /// With `--all`: this host's listeners on the ports the report's connections lead to, so
  /// that a connection made to one of them counts as a client, not a target.
  static func peerListeners(of report: PortReport, query: SocketQuery, backend: Backend) async -> [SocketEntry] {
    guard !query.listenersOnly else { return [] }
    var ports: [TransportProtocol: Set<UInt16>] = [:]
    for entry in report.sockets where !entry.socket.isListener && entry.owner.holdsPort {
      if let remote = entry.socket.remote { ports[entry.socket.proto, default: []].insert(remote.port) }
    }
    guard !ports.isEmpty, let source = try? SystemSources.source(backend) else { return [] }
    let specs = ports.flatMap { proto, ports in ports.map { PortSpec(ports: $0...$0, proto: proto) } }
    let peers = SocketQuery(specs: specs, protocols: Set(ports.keys), listenersOnly: true, detail: .summary)
    guard let snapshot = try? await source.snapshot(for: peers) else { return [] }
    return snapshot.sockets.filter { $0.isListener && peers.matches($0) }
  }

  // MARK: - free's verification

  private mutating func verifyPorts(
    _ verification: Verification, plan: TerminationPlan, report: PortReport, ended: Set<PID>
  ) async throws {
    let source: any SystemSource
    do {
      source = try SystemSources.source(backend)
    } catch {
      throw Inspection.fail(error, command: command, output: output)
    }
    let probe = (try? SystemSources.binder()).map { BindProbe(binder: $0) }
    let items = Self.items(plan: plan, report: report, specs: specs, protocols: query.protocols)
    if items.isEmpty {
      if !output.json && !output.quiet { print("nothing holds \(specList)") }
      return try finish(ExitStatus.success)
    }
    // Watch for a respawn only when something may restart a holder.
    let risks = plan.targets.compactMap { target -> String? in
      if let parent = target.process.ppid as PID?, ended.contains(parent) { return nil }
      return RespawnRisk.reason(for: target.process, parent: report.parents[target.process.ppid])
    }
    document.respawnRisks = risks
    let window = risks.isEmpty ? Duration.zero : verification.respawnWindow
    let verifier = FreeVerifier(source: source, probe: probe)
    let results = await verifier.verify(
      items, ended: ended, respawnWindow: window, drainTimeWait: verification.drainTimeWait,
      signalledAt: signalledAt)
    document.ports = results
    if !output.json && !output.quiet {
      // A respawn: say how to stop the holder through what restarts it.
      let provenance =
        results.contains { $0.verdict == .respawned }
        ? await ProvenanceReader(source: source, runner: SubprocessRunner()).provenance(
          for: PortReport(sockets: results.flatMap(\.stillHeld), takenAt: 0, effectiveUID: 0)) : [:]
      for result in results {
        let manager = result.respawn?.holders.first.flatMap { provenance[$0.process.pid]?.managers.first }
        print(PortVerdictText.line(result, manager: manager))
      }
    }
    let freed = results.allSatisfy(\.isFree) && (document.results ?? []).allSatisfy(\.outcome.letGoOfPort)
    try finish(freed ? ExitStatus.success : ExitStatus.negative)
  }

  /// The ports to prove: every port a target held, with the addresses it held there; and,
  /// for single-port specs that nothing visible held, the port itself.
  static func items(plan: TerminationPlan, report: PortReport, specs: [PortSpec], protocols: Set<TransportProtocol>)
    -> [FreeVerifier.Item]
  {
    var items: [FreeVerifier.Item] = []
    func add(_ proto: TransportProtocol, _ port: UInt16, _ address: IPAddress?) {
      if let index = items.firstIndex(where: { $0.proto == proto && $0.port == port }) {
        if let address, !items[index].addresses.contains(address) { items[index].addresses.append(address) }
      } else {
        items.append(FreeVerifier.Item(proto: proto, port: port, addresses: address.map { [$0] } ?? []))
      }
    }
    for socket in plan.targets.flatMap(\.sockets) where socket.isListener {
      add(socket.proto, socket.local.port, socket.local.address)
    }
    for socket in report.sockets.map(\.socket) where !socket.isListener {
      add(socket.proto, socket.local.port, nil)
    }
    for spec in specs where spec.ports.count == 1 {
      let port = spec.ports.lowerBound
      // A port whose holders were found is proved for their protocols only.
      if spec.proto == nil, items.contains(where: { $0.port == port }) { continue }
      let wanted = spec.proto.map { [$0] } ?? TransportProtocol.allCases
      for proto in wanted where protocols.contains(proto) { add(proto, port, spec.address) }
    }
    return items.sorted { ($0.port, $0.proto) < ($1.port, $1.proto) }
  }

  // MARK: - consent

  /// Asks on a terminal; without one, refuses unless --yes. Lists the targets either way.
  private mutating func consent(_ plan: TerminationPlan) throws -> Bool {
    if termination.yes {
      document.consent = "yes-flag"
      return true
    }
    let table = targetTable(plan).render(style: Style(enabled: false))
    guard Terminal.stdinIsTTY else {
      note("portctl: refusing to signal without consent: there is no terminal to ask on; run again with --yes.")
      note("would send \(firstSignalName) to:")
      for line in table { note("  " + line) }
      document.consent = "refused"
      return false
    }
    note("portctl \(command): these processes hold \(specList):")
    for line in table { note("  " + line) }
    let then = termination.force ? "" : ", then SIGKILL after \(termination.timeout)"
    let answer = Terminal.ask("Send \(firstSignalName)\(then)? [y/N] ")
    let yes = ["y", "yes"].contains(answer?.lowercased() ?? "")
    document.consent = yes ? "prompt" : "refused"
    if !yes { note("portctl: nothing was signalled.") }
    return yes
  }

  // MARK: - output

  private var specList: String { specs.map(\.text).joined(separator: ", ") }
  private var firstSignalName: String { termination.force ? "SIGKILL" : termination.signal.description }

  private func note(_ line: String) {
    if !output.quiet { Terminal.printError(line) }
  }

  private func finish(_ status: Int32) throws {
    var document = document
    document.exitCode = status
    if output.json { JSONOutput.emit(document) }
    if status != ExitStatus.success { throw ExitCode(status) }
  }

  private func targetTable(_ plan: TerminationPlan) -> TextTable {
    var table = TextTable(headers: ["PID", "USER", "PORTS", "COMMAND"])
    for target in plan.targets {
      let ports = Set(target.sockets.map { "\($0.local.port)/\($0.proto.rawValue)" }).sorted().joined(separator: ",")
      let pid = target.sharesWith == nil ? "\(target.process.pid)" : "└ \(target.process.pid)"
      table.append([
        .init(text: pid), .init(text: target.process.user ?? target.process.uid.map { "\($0)" } ?? "?"),
        .init(text: ports), .init(text: target.process.displayCommand),
      ])
    }
    return table
  }

  private func resultTable(_ results: [TerminationResult], plan: TerminationPlan) -> TextTable {

    var table = TextTable(headers: ["PID", "NAME", "USER", "RESULT"])
    for result in results {
      table.append([
        .init(text: "\(result.process.pid)"), .init(text: result.process.name),
        .init(text: result.process.user ?? result.process.uid.map { "\($0)" } ?? "?"),
        .init(
          text: OutcomeText.describe(result, timeout: termination.timeout.duration),
          tint: result.outcome.letGoOfPort ? .green : .red),
      ])
    }
    return table
  }
}

enum OutcomeText {
  static func describe(_ result: TerminationResult, timeout: Duration) -> String {
    switch result.outcome {
    case .exited(let signal, let seconds): "exited after \(signal) (\(milliseconds(seconds)))"
    case .killed(let seconds):
      result.signalsSent.count > 1
        ? "killed with SIGKILL after ignoring \(result.signalsSent[0]) for \(milliseconds(timeout.seconds))"
        : "killed with SIGKILL (\(milliseconds(seconds)))"
    case .alreadyGone: "already gone"
    case .replaced: "not signalled: its pid now names another process"
    case .releasedPort: "not signalled: it no longer held the port"
    case .notPermitted: "not permitted (use sudo)"
    case .survived: "still running after SIGKILL (uninterruptible sleep?)"
    }
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
