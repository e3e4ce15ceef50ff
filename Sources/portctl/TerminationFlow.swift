import ArgumentParser
import PortKit

/// `kill` and `free`: one ``PortFreeing`` call, with a consent callback that asks on a
/// terminal, progress rendered as it happens, and the outcome rendered once.
enum TerminationFlow {
  static func run(
    _ command: String, specs: [PortSpec], project: String? = nil, termination: TerminationOptions,
    selection: SocketSelectionOptions, output: OutputOptions, backend: Backend, host: RemoteHost? = nil,
    verification: PortFreeing.Verification?, check: (@Sendable (TerminationPlan) -> String?)? = nil
  ) async throws {
    let renderer = {
      var renderer = TerminationRenderer(
        command: command, specs: specs, project: project, termination: termination, quiet: output.quiet,
        json: output.json)
      renderer.check = check
      renderer.host = host?.destination
      return renderer
    }()
    var request = PortFreeing.Request(
      specs: specs, protocols: selection.protocols, includeConnections: selection.all,
      termination: termination.request, dryRun: termination.dryRun, verification: verification)
    request.viaManager = termination.viaManager
    // Read only for the question and the dry run: --yes asks nothing.
    request.readsBlastRadius = termination.dryRun || !termination.yes
    let outcome = try await Inspection.run(command, output: output, backend: backend, host: host) { system in
      var request = request
      if let project {
        guard let scope = PortInspection(system: system).projectScope(project) else {
          throw ValidationError("--project takes a directory: '\(project)' is not one that can be read")
        }
        request.project = scope
      }
      return try await PortFreeing(system: system).free(
        request, consent: { await renderer.consent($0) }, events: { await renderer.render($0) })
    }
    try renderer.finish(outcome)
  }
}

/// What `kill` and `free` print: notes on standard error, tables and verdicts on standard
/// output (neither with --json, which prints the document), nothing with --quiet.
struct TerminationRenderer: Sendable {
  let command: String
  let specs: [PortSpec]
  /// `--project`'s directory (real and absolute), when given.
  let project: String?
  let yes: Bool
  let dryRun: Bool
  let viaManager: Bool
  let quiet: Bool
  let json: Bool
  /// The live line on standard error while something is waited for; off unless standard
  /// error is a terminal.
  let progress: ProgressLine
  /// Refuses a plan before it is asked about (the live view: the plan must target the
  /// process shown), with the sentence to print.
  var check: (@Sendable (TerminationPlan) -> String?)?
  /// `--host`'s machine, named in the question and the document; `nil` for this one.
  var host: String?

  init(
    command: String, specs: [PortSpec], project: String? = nil, termination: TerminationOptions, quiet: Bool,
    json: Bool
  ) {
    self.command = command
    self.specs = specs
    self.project = project
    yes = termination.yes
    dryRun = termination.dryRun
    viaManager = termination.viaManager
    self.quiet = quiet
    self.json = json
    progress = ProgressLine(enabled: !quiet && Terminal.isTerminal(2))
  }

  private var specList: String {
    let ports = specs.map(\.text).joined(separator: ", ")
    guard let project else { return ports }
    let listeners = "the listeners of project \(TerminalText.escape(project))"
    return specs.isEmpty ? listeners : "\(listeners) on \(ports)"
  }

  /// The arguments that name the targets again: the ports, and `--project DIR`.
  private var targetArguments: String {
    let ports = specs.map(\.text).joined(separator: " ")
    guard let project else { return ports }
    let option = "--project \(ShellQuoting.quote(project))"
    return specs.isEmpty ? option : "\(option) \(ports)"
  }
  private var printsText: Bool { !json && !quiet }

  // MARK: - consent

  /// Asks on a terminal; without one, refuses unless --yes. Lists the targets either way,
  /// and for each group: the server and its master, its manager and the manager's stop
  /// command, what goes with it, and what will be sent when.
  func consent(_ plan: TerminationPlan) async -> PortFreeing.Consent {
    if let refusal = check?(plan) {
      note(refusal)
      note("portctl: nothing was signalled.")
      return .refused
    }
    if yes { return viaManager ? .viaManager : .givenInAdvance }
    let table = targetTable(plan).render(style: Style(enabled: false))
    let groups = Self.describe(plan.groups, viaManager: viaManager)
    guard Terminal.stdinIsTTY else {
      note(
        "portctl: refusing to \(viaManager ? "stop" : "signal") without consent: there is no terminal to ask on; run again with --yes."
      )
      note("would \(viaManager ? "stop" : "signal"):")
      for line in table { note("  " + line) }
      for line in groups { note("  " + line) }
      return .refused
    }
    let on = host.map { " on \(TerminalText.escape($0))" } ?? ""
    note("portctl \(command): these processes\(on) hold \(specList):")
    for line in table { note("  " + line) }
    for line in groups { note("  " + line) }
    let managed = !plan.groups.isEmpty && plan.groups.allSatisfy { $0.managerCommand != nil }
    let send =
      Self.uniformSignal(plan).map { signal, grace in
        signal == .kill ? "Send SIGKILL?" : "Send \(signal), then SIGKILL after \(OutcomeText.duration(grace.seconds))?"
      } ?? "Send the signals above?"
    let question =
      viaManager
      ? "Run the stop command(s) above? [y/N] "
      : managed ? "\(send) (m: stop through the manager instead) [y/N/m] " : "\(send) [y/N] "
    let answer = Terminal.ask(question)?.lowercased() ?? ""
    if ["y", "yes"].contains(answer) { return viaManager ? .viaManager : .given }
    if managed, ["m", "manager"].contains(answer) { return .viaManager }
    note("portctl: nothing was signalled.")
    return .refused
  }

  /// The signal and grace every group gets, when they all get the same.
  static func uniformSignal(_ plan: TerminationPlan) -> (Signal, Duration)? {
    guard let first = plan.groups.first,
      plan.groups.allSatisfy({ $0.signal == first.signal && $0.grace == first.grace })
    else { return nil }
    return (first.signal, first.grace)
  }

  /// The lines the question and the dry run show for every group: bare processes (no
  /// server, no manager, nothing else going with them) that get the same signal and grace
  /// share one line; every other group is described on its own.
  static func describe(_ groups: [TerminationPlan.Group], viaManager: Bool) -> [String] {
    var lines: [String] = []
    var bare: [TerminationPlan.Group] = []
    func flush() {
      guard let first = bare.first else { return }
      let who = bare.map { "\(TerminalText.escape($0.master.name)) (pid \($0.master.pid))" }
      lines.append("sends: \(first.signal) to \(list(who))\(afterGrace(first))")
      bare = []
    }
    for group in groups {
      let isBare =
        !viaManager && group.server == nil && group.manager == nil && group.otherListeners?.isEmpty == true
        && group.children?.isEmpty == true
      if isBare, let first = bare.first, first.signal != group.signal || first.grace != group.grace { flush() }
      if isBare {
        bare.append(group)
      } else {
        flush()
        lines += describe(group, viaManager: viaManager)
      }
    }
    flush()
    return lines
  }

  /// "a, b and 3 more".
  private static func list(_ names: [String]) -> String {
    names.count > 4
      ? "\(names.prefix(3).joined(separator: ", ")) and \(names.count - 3) more" : names.joined(separator: ", ")
  }

  /// ", SIGKILL after 5 s to whatever is left", or nothing after SIGKILL itself.
  private static func afterGrace(_ group: TerminationPlan.Group) -> String {
    group.signal == .kill ? "" : ", SIGKILL after \(OutcomeText.duration(group.grace.seconds)) to whatever is left"
  }

  /// The lines the question and the dry run show for one group (escaped).
  static func describe(_ group: TerminationPlan.Group, viaManager: Bool) -> [String] {
    let master = "\(TerminalText.escape(group.master.name)) (pid \(group.master.pid))"
    var lines: [String] = []
    if let server = group.server {
      // As `why` names it: the detail names the master and counts its workers.
      lines.append("server \(TerminalText.escape(server.name)): \(TerminalText.escape(server.detail))")
    } else {
      lines.append(master + ":")
    }
    if let manager = group.manager {
      let warning = manager.evidenceWarning.map { " (\($0))" } ?? ""
      lines.append(
        "  managed: \(TerminalText.escape(manager.detail))\(warning): stop with `\(TerminalText.escape(manager.stop))`")
    }
    var goes: [String] = []
    if let others = group.otherListeners, !others.isEmpty {
      let ports = others.map { "\($0.local)/\($0.proto.rawValue)" }
      var unique: [String] = []
      for port in ports where !unique.contains(port) { unique.append(port) }
      goes.append("it also listens on \(unique.joined(separator: ", "))")
    }
    if let children = group.children, !children.isEmpty {
      let shown = children.prefix(6).map { "\(TerminalText.escape($0.name)) (pid \($0.pid))" }
      let more = children.count > 6 ? ", … (\(children.count) in all)" : ""
      goes.append("these go with it: \(shown.joined(separator: ", "))\(more)")
    }
    if group.otherListeners == nil { goes.append("its other ports could not be read") }
    if !goes.isEmpty { lines.append("  " + goes.joined(separator: "; ")) }
    if viaManager {
      lines.append(
        "  runs: \(group.managerCommand.map { "`\(TerminalText.escape($0))`" } ?? "nothing (no manager portctl can run)")"
      )
    } else {
      let whoText = list(group.signalled.map { "\(TerminalText.escape($0.name)) (pid \($0.pid))" })
      let then = afterGrace(group)
      let count = group.followers.count
      let follow = count == 0 ? "" : count == 1 ? "; 1 worker stops with it" : "; \(count) workers stop with it"
      lines.append("  sends: \(group.signal) to \(whoText)\(then)\(follow)")
    }
    return lines
  }

  // MARK: - progress

  func render(_ event: PortFreeing.Event) async {
    switch event {
    case .waiting(let master, let signal, let elapsed, let grace):
      let name = "\(TerminalText.escape(master.name)) (pid \(master.pid))"
      progress.show(
        "waiting for \(name) to exit after \(signal): \(OutcomeText.tenths(elapsed)) of \(OutcomeText.limit(grace))")
    case .waitingAfterManagerStop(let process, let elapsed, let limit):
      progress.show(
        "waiting for \(TerminalText.escape(process.name)) (pid \(process.pid)) to exit after its manager's stop command: \(OutcomeText.tenths(elapsed)) of \(OutcomeText.limit(limit))"
      )
    case .watchingForRespawn(let elapsed, let window, let reasons):
      let why = reasons.first.map { ": \(TerminalText.escape($0))" } ?? ""
      progress.show(
        "watching \(OutcomeText.duration(window)) for a respawn (\(OutcomeText.tenths(elapsed)))\(why)")
    case .drainingClosingSockets(let port, let elapsed, let limit):
      progress.show(
        "waiting for closing sockets on port \(port) to drain: \(OutcomeText.tenths(elapsed)) of \(OutcomeText.limit(limit))"
      )
    case .runningManagerStop(let command):
      note("portctl: running `\(TerminalText.escape(command))`")
    case .verified:
      progress.clear()
    case .planned(let plan):
      for entry in plan.clients { note(Self.clientNote(entry)) }
      if plan.isUnobstructed, plan.targets.isEmpty {
        for entry in plan.kernelHeld {
          note(
            "portctl: \(entry.socket.proto.rawValue) \(entry.socket.local) is held by the kernel, not a process; nothing to signal."
          )
        }
      }
    case .refused(.protected(let protected)):
      for entry in protected {
        note(
          "portctl: refusing to signal \(TerminalText.escape(entry.process.name)) (pid \(entry.process.pid)): \(TerminalText.escape(entry.reason))."
        )
      }
      note("portctl: nothing was signalled.")
    case .refused(.unseenHolders(let hidden, let partlyHidden)):
      for entry in partlyHidden { if let line = partlyHiddenNote(entry) { note(line) } }
      for entry in hidden { if let line = hiddenNote(entry) { note(line) } }
      note("portctl: nothing was signalled.")
    case .terminated(let results):
      progress.clear()
      if printsText {
        for line in resultTable(results).render(style: .standardOutput) { print(line) }
      }
    case .refused(.noManager(let masters)):
      note(
        "portctl: refusing --via-manager: no manager portctl can run stops \(masters.map { "pid \($0)" }.joined(separator: ", ")) (a systemd unit, a container, a supervisord program, a pm2 app, a runit or s6 service); run without --via-manager to signal it."
      )
      note("portctl: nothing was signalled.")
    case .refused(.noConsent), .signalled, .exited, .verifying:
      break
    }
  }

  // MARK: - the end

  /// Prints what is left to say, emits the JSON document, and ends with the exit status.
  func finish(_ outcome: PortFreeing.Outcome) throws {
    progress.clear()
    var document = TerminationDocument(command: command, dryRun: dryRun)
    document.host = host
    document.plan = outcome.plan
    document.parents = outcome.parents
    document.consent = outcome.consent.map {
      switch $0 {
      case .givenInAdvance: "yes-flag"
      case .given: "prompt"
      case .refused: "refused"
      case .viaManager: yes ? "yes-flag" : "prompt"
      }
    }
    document.results = outcome.results
    document.respawnRisks = outcome.respawnRisks
    document.respawnWatch = outcome.respawnWatch
    document.ports = outcome.ports
    document.managerStops = outcome.managerStops
    let status: Int32
    switch outcome.ending {
    case .refused(.protected), .refused(.noConsent), .refused(.noManager):
      status = ExitStatus.refused
    case .managerStopFailed:
      for stop in outcome.managerStops where stop.exitCode != 0 {
        let code = stop.exitCode.map { "exit status \($0)" } ?? "no exit status"
        let message = stop.message.isEmpty ? "" : ": \(TerminalText.escape(stop.message))"
        note("portctl: `\(TerminalText.escape(stop.command))` failed (\(code))\(message); nothing was signalled.")
      }
      status = ExitStatus.negative
    case .refused(.unseenHolders):
      status = ExitStatus.notPermitted
    case .nothingToSignal:
      if printsText {
        print(
          project.map { "nothing listens in project \(TerminalText.escape($0))" }
            ?? "nothing to kill: no process holds \(specList)")
      }
      status = ExitStatus.negative
    case .dryRun:
      if printsText {
        let header = Self.uniformSignal(outcome.plan).map { "would send \($0.0) to:" } ?? "would signal:"
        print(viaManager ? "would stop:" : header)
        for line in targetTable(outcome.plan).render(style: .standardOutput) { print(line) }
        for line in Self.describe(outcome.plan.groups, viaManager: viaManager) { print("  " + line) }
      }
      status = ExitStatus.success
    case .notPermitted:
      for result in outcome.results ?? [] where result.outcome == .notPermitted {
        let owner = TerminalText.escape(
          result.process.user ?? result.process.uid.map { "uid \($0)" } ?? "another user")
        note(
          "portctl: not permitted to signal \(TerminalText.escape(result.process.name)) (pid \(result.process.pid)), which belongs to \(owner); run: \(elevatedCommand("\(command) \(targetArguments)"))"
        )
      }
      status = ExitStatus.notPermitted
    case .terminated:
      status = outcome.freed ? ExitStatus.success : ExitStatus.negative
    case .nothingHolds:
      if printsText { print("nothing holds \(specList)") }
      status = ExitStatus.success
    case .verified:
      if printsText {
        for result in outcome.ports ?? [] {
          let manager = result.respawn?.holders.first.flatMap { outcome.managers[$0.process.pid] }
          print(PortVerdictText.line(result, manager: manager, style: .standardOutput))
        }
      }
      status = outcome.freed ? ExitStatus.success : ExitStatus.negative
    }
    document.exitCode = status
    if json { JSONOutput.emit(document) }
    if status != ExitStatus.success { throw ExitCode(status) }
  }

  // MARK: - notes and tables

  private func note(_ line: String) {
    progress.clear()
    if !quiet { Terminal.printError(line) }
  }

  private static func clientNote(_ entry: SocketReport) -> String {
    let remote = entry.socket.remote.map { " to \($0)" } ?? ""
    let holders = entry.owner.holders.map { "\(TerminalText.escape($0.process.name)) (pid \($0.process.pid))" }
      .joined(separator: ", ")
    let by = holders.isEmpty ? "" : " of \(holders)"
    return
      "portctl: not a target: \(entry.socket.proto.rawValue) \(entry.socket.local)\(remote)\(by) is a connection made from port \(entry.socket.local.port), not one a server there accepted."
  }

  /// `portctl ARGUMENTS` with the privilege that was missing: through sudo (or an elevated
  /// terminal) here; as root on the other machine with `--host`.
  private func elevatedCommand(_ arguments: String) -> String {
    guard let host else { return HostPlatform.current.elevatedCommand(arguments) }
    return "portctl \(arguments) --host \(ShellQuoting.quote("root@" + Self.hostName(host)))"
  }

  /// The host part of `[USER@]HOST`.
  static func hostName(_ destination: String) -> String {
    destination.lastIndex(of: "@").map { String(destination[destination.index(after: $0)...]) } ?? destination
  }

  /// How to run `arguments` again with the privilege that was missing.
  private func withPrivilege(_ arguments: String) -> String {
    if host != nil { return "run it as root there: \(elevatedCommand(arguments))" }
    return HostPlatform.current == .windows
      ? "run \(HostPlatform.current.elevatedCommand(arguments))" : "run it with sudo: sudo portctl \(arguments)"
  }

  private func partlyHiddenNote(_ entry: SocketReport) -> String? {
    guard let unseen = entry.unseenHolders else { return nil }
    let visible = entry.owner.holders.map { "\(TerminalText.escape($0.process.name)) (pid \($0.process.pid))" }
      .joined(separator: ", ")
    let owner = TerminalText.escape(unseen.ownerDescription)
    let advice =
      unseen.reason == .needsPrivilege
      ? withPrivilege("\(command) \(entry.socket.local.port)")
      : "stop them, or what runs them, first"
    return
      "portctl: \(entry.socket.proto.rawValue) \(entry.socket.local) belongs to \(owner); portctl sees it held by \(visible), but processes of \(owner) that it cannot see or signal may hold it too, and would keep the port (a master process starting new workers); \(advice)."
  }

  private func hiddenNote(_ entry: SocketReport) -> String? {
    guard case .hidden(let owner) = entry.owner else { return nil }
    let advice =
      owner.reason == .needsPrivilege
      ? withPrivilege("\(command) \(entry.socket.local.port)")
      : "its process is not visible from here (another PID namespace such as a container); stop it where it runs"
    return
      "portctl: \(entry.socket.proto.rawValue) \(entry.socket.local) is held by \(TerminalText.escape(owner.ownerDescription)) and portctl may not see or signal that process; \(advice)."
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

  private func resultTable(_ results: [TerminationResult]) -> TextTable {
    var table = TextTable(headers: ["PID", "NAME", "USER", "RESULT"])
    for result in results {
      table.append([
        .init(text: "\(result.process.pid)"), .init(text: result.process.name),
        .init(text: result.process.user ?? result.process.uid.map { "\($0)" } ?? "?"),
        .init(
          text: OutcomeText.describe(result),
          tint: OutcomeText.tint(result.outcome)),
      ])
    }
    return table
  }
}

/// One line on standard error, redrawn in place while something is waited for, and erased
/// when the wait ends. Off (nothing written) unless standard error is a terminal. Events
/// reach it one at a time (each is awaited), so it needs no lock.
final class ProgressLine: @unchecked Sendable {
  let enabled: Bool
  private var shown = false
  private var lastDrawn: ContinuousClock.Instant?

  init(enabled: Bool) {
    self.enabled = enabled
  }

  /// Draws `text` over the previous line, at most ten times a second, cut to the width of
  /// the terminal.
  func show(_ text: String) {
    guard enabled else { return }
    let now = ContinuousClock.now
    if let lastDrawn, now - lastDrawn < .milliseconds(90) { return }
    lastDrawn = now
    let width = max((Terminal.errorColumns ?? 80) - 1, 20)
    let line = text.count > width ? String(text.prefix(width - 1)) + "…" : text
    Terminal.writeError("\r\u{1B}[2K" + line)
    shown = true
  }

  /// Erases the line, if one is shown.
  func clear() {
    guard shown else { return }
    Terminal.writeError("\r\u{1B}[2K")
    shown = false
    lastDrawn = nil
  }
}
