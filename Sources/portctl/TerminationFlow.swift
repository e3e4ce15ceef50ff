import ArgumentParser
import PortKit

/// `kill` and `free`: one ``PortFreeing`` call, with a consent callback that asks on a
/// terminal, progress rendered as it happens, and the outcome rendered once.
enum TerminationFlow {
  static func run(
    _ command: String, specs: [PortSpec], termination: TerminationOptions, selection: SocketSelectionOptions,
    output: OutputOptions, backend: Backend, verification: PortFreeing.Verification?
  ) async throws {
    let renderer = TerminationRenderer(
      command: command, specs: specs, termination: termination, quiet: output.quiet, json: output.json)
    let request = PortFreeing.Request(
      specs: specs, protocols: selection.protocols, includeConnections: selection.all,
      termination: termination.request, dryRun: termination.dryRun, verification: verification)
    let outcome = try await Inspection.run(command, output: output, backend: backend) { system in
      try await PortFreeing(system: system).free(
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
  let yes: Bool
  let dryRun: Bool
  let force: Bool
  let timeoutText: String
  let timeout: Duration
  let firstSignalName: String
  let quiet: Bool
  let json: Bool

  init(command: String, specs: [PortSpec], termination: TerminationOptions, quiet: Bool, json: Bool) {
    self.command = command
    self.specs = specs
    yes = termination.yes
    dryRun = termination.dryRun
    force = termination.force
    timeoutText = termination.timeout.description
    timeout = termination.timeout.duration
    firstSignalName = termination.force ? "SIGKILL" : termination.signal.description
    self.quiet = quiet
    self.json = json
  }

  private var specList: String { specs.map(\.text).joined(separator: ", ") }
  private var printsText: Bool { !json && !quiet }

  // MARK: - consent

  /// Asks on a terminal; without one, refuses unless --yes. Lists the targets either way.
  func consent(_ plan: TerminationPlan) async -> PortFreeing.Consent {
    if yes { return .givenInAdvance }
    let table = targetTable(plan).render(style: Style(enabled: false))
    guard Terminal.stdinIsTTY else {
      note("portctl: refusing to signal without consent: there is no terminal to ask on; run again with --yes.")
      note("would send \(firstSignalName) to:")
      for line in table { note("  " + line) }
      return .refused
    }
    note("portctl \(command): these processes hold \(specList):")
    for line in table { note("  " + line) }
    let then = force ? "" : ", then SIGKILL after \(timeoutText)"
    let answer = Terminal.ask("Send \(firstSignalName)\(then)? [y/N] ")
    let given = ["y", "yes"].contains(answer?.lowercased() ?? "")
    if !given { note("portctl: nothing was signalled.") }
    return given ? .given : .refused
  }

  // MARK: - progress

  func render(_ event: PortFreeing.Event) async {
    switch event {
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
      if printsText {
        for line in resultTable(results).render(style: .standardOutput) { print(line) }
      }
    case .refused(.noConsent), .signalled, .exited, .verifying, .verified:
      break
    }
  }

  // MARK: - the end

  /// Prints what is left to say, emits the JSON document, and ends with the exit status.
  func finish(_ outcome: PortFreeing.Outcome) throws {
    var document = TerminationDocument(command: command, dryRun: dryRun)
    document.plan = outcome.plan
    document.parents = outcome.parents
    document.consent = outcome.consent.map {
      switch $0 {
      case .givenInAdvance: "yes-flag"
      case .given: "prompt"
      case .refused: "refused"
      }
    }
    document.results = outcome.results
    document.respawnRisks = outcome.respawnRisks
    document.respawnWatch = outcome.respawnWatch
    document.ports = outcome.ports
    let status: Int32
    switch outcome.ending {
    case .refused(.protected), .refused(.noConsent):
      status = ExitStatus.refused
    case .refused(.unseenHolders):
      status = ExitStatus.notPermitted
    case .nothingToSignal:
      if printsText { print("nothing to kill: no process holds \(specList)") }
      status = ExitStatus.negative
    case .dryRun:
      if printsText {
        print("would send \(firstSignalName) to:")
        for line in targetTable(outcome.plan).render(style: .standardOutput) { print(line) }
      }
      status = ExitStatus.success
    case .notPermitted:
      for result in outcome.results ?? [] where result.outcome == .notPermitted {
        let owner = TerminalText.escape(
          result.process.user ?? result.process.uid.map { "uid \($0)" } ?? "another user")
        note(
          "portctl: not permitted to signal \(TerminalText.escape(result.process.name)) (pid \(result.process.pid)), which belongs to \(owner); run: sudo portctl \(command) \(specList)"
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

  private func partlyHiddenNote(_ entry: SocketReport) -> String? {
    guard let unseen = entry.unseenHolders else { return nil }
    let visible = entry.owner.holders.map { "\(TerminalText.escape($0.process.name)) (pid \($0.process.pid))" }
      .joined(separator: ", ")
    let owner = TerminalText.escape(unseen.ownerDescription)
    let advice =
      unseen.reason == .needsPrivilege
      ? "run it with sudo: sudo portctl \(command) \(entry.socket.local.port)"
      : "stop them, or what runs them, first"
    return
      "portctl: \(entry.socket.proto.rawValue) \(entry.socket.local) belongs to \(owner); portctl sees it held by \(visible), but processes of \(owner) that it cannot see or signal may hold it too, and would keep the port (a master process starting new workers); \(advice)."
  }

  private func hiddenNote(_ entry: SocketReport) -> String? {
    guard case .hidden(let owner) = entry.owner else { return nil }
    let advice =
      owner.reason == .needsPrivilege
      ? "run it with sudo: sudo portctl \(command) \(entry.socket.local.port)"
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
          text: OutcomeText.describe(result, timeout: timeout),
          tint: OutcomeText.tint(result.outcome)),
      ])
    }
    return table
  }
}
