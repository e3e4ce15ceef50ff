/// Frees ports by ending the processes that hold them: `kill` and `free` as one library call.
///
/// The sequence: read who holds the ports, plan the targets (refusing protected processes and
/// sockets held by processes that cannot be seen), group them by the server they belong to
/// (its master signalled the server's way, its workers waited on; see
/// ``TerminationPlan/arrange(servers:managers:request:)``), ask for consent through a
/// callback, pin the targets (masters included), check right before the first signal that
/// each still holds the port, signal (graceful, then SIGKILL after each group's grace) or,
/// with ``Request/viaManager``, run each group's manager stop command instead, and with
/// ``Verification`` prove each port with real binds while watching for a holder coming back. Nothing is printed: progress reaches the caller as
/// ``Event`` values, and the whole story comes back as an ``Outcome``.
///
/// ```swift
/// let freeing = PortFreeing(system: try System.make())
/// let outcome = try await freeing.free(
///   PortFreeing.Request(specs: try PortSpec.parseList("8080"), verification: .init()),
///   consent: { plan in plan.targets.allSatisfy { $0.process.name == "node" } ? .givenInAdvance : .refused })
/// print(outcome.freed)
/// ```
public struct PortFreeing: Sendable {
  /// The seams it reads and signals through; it needs a process control.
  public var system: System

  /// Frees ports on `system`.
  public init(system: System) {
    self.system = system
  }

  /// What to free and how.
  public struct Request: Sendable {
    /// The ports.
    public var specs: [PortSpec]
    /// The protocols looked at.
    public var protocols: Set<TransportProtocol>
    /// Also end the processes holding connections a server accepted on the ports (`--all`),
    /// not only the listeners.
    public var includeConnections: Bool
    /// The signal, the timeout before SIGKILL, or SIGKILL at once.
    public var termination: TerminationRequest
    /// Plan only: ask nothing, signal nothing.
    public var dryRun: Bool
    /// After the signals, prove the ports free (`free`); `nil` ends after the signals (`kill`).
    public var verification: Verification?
    /// Stop every group through its manager's stop command instead of signalling
    /// (`--via-manager`); refused when a group has no manager portctl can run.
    public var viaManager: Bool = false
    /// Read what goes with each group besides the asked sockets (its other listeners and
    /// children) for the consent question; a caller that will not ask can skip it.
    public var readsBlastRadius: Bool = true
    /// Only the sockets held by a process in this project (`--project DIR`); with no
    /// `specs`, every listener of the project.
    public var project: ProjectScope? = nil

    /// Listeners on `specs`, ended with SIGTERM then SIGKILL after 5 s, not proved free.
    public init(
      specs: [PortSpec], protocols: Set<TransportProtocol> = [.tcp, .udp], includeConnections: Bool = false,
      termination: TerminationRequest = TerminationRequest(), dryRun: Bool = false, verification: Verification? = nil
    ) {
      self.specs = specs
      self.protocols = protocols
      self.includeConnections = includeConnections
      self.termination = termination
      self.dryRun = dryRun
      self.verification = verification
    }

    /// The sockets this request looks at.
    public var query: SocketQuery {
      SocketQuery(
        specs: specs.isEmpty && project != nil ? nil : specs, protocols: protocols, listenersOnly: !includeConnections)
    }
  }

  /// How to prove the ports free after their holders were ended.
  public struct Verification: Sendable {
    /// How long to watch for a holder coming back, when something may restart one; `nil`:
    /// as long as the slowest of those respawners needs (``Respawner/window``).
    public var respawnWindow: Duration?
    /// Wait up to this long for TIME_WAIT (and other closing) sockets to drain, so that even
    /// a plain bind works; `nil` does not wait.
    public var drainTimeWait: Duration?

    /// Watches for a respawn (when one is likely) as long as the respawner needs, and does
    /// not wait for TIME_WAIT.
    public init(respawnWindow: Duration? = nil, drainTimeWait: Duration? = nil) {
      self.respawnWindow = respawnWindow
      self.drainTimeWait = drainTimeWait
    }
  }

  /// The caller's answer to "signal these processes?".
  public enum Consent: Hashable, Sendable {
    /// Given before being asked (a `--yes` flag, a server's policy).
    case givenInAdvance
    /// Given when asked (a person answered yes).
    case given
    /// Not given: nothing is signalled.
    case refused
    /// Given, but to stop every group through its manager's stop command instead of
    /// signalling it (only when every group has one, see
    /// ``TerminationPlan/Group/managerCommand``).
    case viaManager

    /// True when the targets may be signalled.
    public var isGiven: Bool { self != .refused }
  }

  /// Why nothing was signalled.
  public enum Refusal: Hashable, Sendable {
    /// Holders that are never signalled (init, kernel threads, this process and its
    /// ancestors): stop them some other way.
    case protected([TerminationPlan.Protected])
    /// Sockets that processes this process cannot see or signal hold (`hidden`), or may hold
    /// as well as the visible ones (`partlyHidden`): ending the visible ones would not free
    /// the port. More privilege, or stopping them where they run, is needed.
    case unseenHolders(hidden: [SocketReport], partlyHidden: [SocketReport])
    /// The consent callback refused.
    case noConsent
    /// Stopping through the managers was asked for, but these groups (by their master's
    /// pid) have no manager whose stop command portctl can run.
    case noManager([PID])
  }

  /// Progress, in the order it happens.
  public enum Event: Sendable {
    /// The targets, and what stands in the way, before anything is asked or signalled.
    case planned(TerminationPlan)
    /// Nothing will be signalled, for this reason.
    case refused(Refusal)
    /// A signal was delivered to a target.
    case signalled(ProcessRecord, Signal)
    /// A target exited after a signal.
    case exited(ProcessRecord)
    /// The signals went out and every target's fate is known.
    case terminated([TerminationResult])
    /// Proving these ports free (watching for a respawn, binding).
    case verifying([FreeVerifier.Item])
    /// The verdict on every port.
    case verified([FreeVerifier.PortResult])
    /// Still waiting for a group to exit: `elapsed` seconds of its `grace` since `signal`
    /// was sent to `master`. About ten a second while the wait lasts.
    case waiting(master: ProcessRecord, signal: Signal, elapsed: Double, grace: Double)
    /// Running a manager's stop command (`--via-manager`).
    case runningManagerStop(String)
    /// After the managers' stop commands: still waiting for `process` to exit, `elapsed`
    /// seconds of `limit` since the first command started.
    case waitingAfterManagerStop(process: ProcessRecord, elapsed: Double, limit: Double)
    /// Watching the socket table for a holder coming back: `elapsed` seconds of `window`;
    /// `reasons` say what may restart one.
    case watchingForRespawn(elapsed: Double, window: Double, reasons: [String])
    /// Waiting for closing sockets to drain (`free --wait`): `elapsed` seconds of `limit`.
    case drainingClosingSockets(port: UInt16, elapsed: Double, limit: Double)
  }

  /// A manager's stop command that was run, and how it ended.
  public struct ManagerStop: Hashable, Sendable {
    /// The command, as run by `/bin/sh -c`.
    public var command: String
    /// Its exit code (`nil`: it ended by a signal, or could not be run).
    public var exitCode: Int32?
    /// What it printed on standard error (or why it could not be run), trimmed.
    public var message: String
  }

  /// How the call ended.
  public enum Ending: Hashable, Sendable {
    /// Nothing was signalled (see the refusal).
    case refused(Refusal)
    /// No process holds the ports (without verification: nothing to do), or none in the
    /// request's project does.
    case nothingToSignal
    /// A dry run: the plan only.
    case dryRun
    /// The kernel refused to deliver a signal (another user's process).
    case notPermitted
    /// The targets were signalled (without verification).
    case terminated
    /// The ports were proved (see ``Outcome/ports``).
    case verified
    /// A manager's stop command failed (see ``Outcome/managerStops``); nothing was signalled.
    case managerStopFailed
    /// With verification: nothing held the ports and nothing was left to prove.
    case nothingHolds
  }

  /// Everything that happened.
  public struct Outcome: Sendable {
    /// How the call ended.
    public var ending: Ending
    /// The plan, with targets, protected processes, hidden and client sockets.
    public var plan: TerminationPlan
    /// The holders' parents, as read with the holders.
    public var parents: [PID: ProcessRecord]
    /// The caller's answer, when it was asked.
    public var consent: Consent?
    /// What became of each target, once signalled.
    public var results: [TerminationResult]?
    /// Why a holder may be started again (a supervisor, a systemd service), per target.
    public var respawnRisks: [String] = []
    /// The watch for a respawn, when there was one (something could start a holder again).
    public var respawnWatch: FreeVerifier.Watch?
    /// The verdict on every port, after verification.
    public var ports: [FreeVerifier.PortResult]?
    /// For a respawned port, the manager of the new holder (by its pid), where one is known:
    /// it says how to stop the holder for good.
    public var managers: [PID: ProcessManager] = [:]
    /// The managers' stop commands run instead of signals (`--via-manager`).
    public var managerStops: [ManagerStop] = []

    /// True when every target let go of the port and (with verification) every port is free.
    public var freed: Bool {
      switch ending {
      case .nothingHolds: true
      case .terminated: (results ?? []).allSatisfy(\.outcome.letGoOfPort)
      case .verified:
        (ports ?? []).allSatisfy(\.isFree) && (results ?? []).allSatisfy(\.outcome.letGoOfPort)
      default: false
      }
    }
  }

  /// Answers whether `plan`'s targets may be signalled. Called once, only when there is
  /// something to signal and the request is not a dry run.
  public typealias ConsentCallback = @Sendable (TerminationPlan) async -> Consent

  /// Frees the ports of `request`. Throws when the system cannot be read (or, on this
  /// backend, processes cannot be signalled); a read that fails while the ports are being
  /// proved is an error too, never a port taken as free.
  public func free(
    _ request: Request, consent: ConsentCallback, events: @Sendable (Event) async -> Void = { _ in }
  ) async throws(PortKitError) -> Outcome {
    guard let control = system.control else {
      throw PortKitError(
        .unsupportedPlatform,
        "This backend cannot signal processes; free the port through a backend that can (procfs on Linux, lsof on macOS)."
      )
    }
    let query = request.query
    var report = try await PortInspection(system: system).report(for: query)
    if let scope = request.project {
      let inspection = PortInspection(system: system)
      let projects = await inspection.projects(for: report.sockets.flatMap(\.owner.holders).map(\.process))
      report.sockets.removeAll { !scope.containsAny($0.owner.holders, projects: projects) }
    }
    let protection = ProcessProtection(chain: await control.selfAndAncestors())
    let reads = FreeingReads(source: system.source, query: query, protection: protection)
    let peers = try await reads.peerListeners(of: report)
    var plan = TerminationPlan.make(from: report, protection: protection, peerListeners: peers)
    var refusedMasters: [TerminationPlan.Protected] = []
    if plan.isUnobstructed, !plan.targets.isEmpty {
      // Who leads each target and what manages it: the plan signals a server's master, its
      // way, and the question says so.
      let provenance = await PortInspection(system: system).provenance(for: report)
      plan.arrange(
        servers: provenance.compactMapValues(\.server), managers: provenance.compactMapValues(\.managers.first),
        request: request.termination)
      for index in plan.groups.indices {
        let group = plan.groups[index]
        let ancestry =
          provenance[group.master.pid]?.ancestry
          ?? group.processes.lazy.compactMap { provenance[$0.pid]?.ancestry }.first ?? []
        if let manager = group.manager {
          plan.groups[index].managerDirectory = Self.managerDirectory(of: manager, ancestry: ancestry)
        }
      }
      for target in plan.targets {
        if let reason = protection.refusal(for: target.process) {
          refusedMasters.append(.init(process: target.process, reason: reason))
        }
      }
      if refusedMasters.isEmpty, request.readsBlastRadius {
        await reads.blastRadius(of: &plan)
      }
    }
    var outcome = Outcome(ending: .dryRun, plan: plan, parents: report.parents)
    await events(.planned(plan))

    if !plan.protected.isEmpty || !refusedMasters.isEmpty {
      return await refuse(.protected(plan.protected + refusedMasters), outcome, events)
    }
    if !plan.hidden.isEmpty || !plan.partlyHidden.isEmpty {
      return await refuse(.unseenHolders(hidden: plan.hidden, partlyHidden: plan.partlyHidden), outcome, events)
    }
    if plan.targets.isEmpty {
      // Nothing of the project listens: there is no port of its to prove free.
      guard let verification = request.verification, request.project == nil else {
        outcome.ending = .nothingToSignal
        return outcome
      }
      return try await verify(
        request, verification, report: report, ended: [], signalledAt: nil, watch: nil, outcome, events)
    }
    if request.viaManager {
      let without = plan.groups.filter { $0.managerCommand == nil }.map(\.master.pid)
      if !without.isEmpty { return await refuse(.noManager(without), outcome, events) }
    }
    if request.dryRun { return outcome }

    // Pinned now, before the question: whatever happens while it waits, a signal can only
    // reach the processes listed in it (masters that do not hold the socket included).
    let terminator = Terminator(control: control)
    let pinned = await terminator.pin(plan.targets.map(\.process))
    var answer = await consent(plan)
    if answer == .viaManager, plan.groups.contains(where: { $0.managerCommand == nil }) { answer = .refused }
    outcome.consent = answer
    guard answer.isGiven else {
      await terminator.release(pinned)
      return await refuse(.noConsent, outcome, events)
    }
    if request.viaManager || answer == .viaManager {
      return try await stopThroughManagers(
        request, pinned: pinned, terminator: terminator, report: report, outcome, events)
    }

    // Right before signalling, each target must still hold the port: one that let go of it
    // (closed it, or handed it to a successor) is not signalled. A failed read signals nothing.
    let holding: Set<PID>
    do {
      holding = try await reads.currentTargets(peerListeners: peers)
    } catch {
      await terminator.release(pinned)
      throw error
    }
    // What may start a target again, read while the targets and their parents still run.
    let watch =
      request.verification == nil
      ? nil
      : await RespawnWatch.prepare(
        targets: plan.targets.map(\.process), parents: report.parents, system: system, control: control)
    let signalledAt = await control.clockTicks()
    let results = await terminator.terminate(
      pinned, stops: plan.groups.map(\.stop), killTimeout: request.termination.killTimeout,
      stillHolding: { _ in holding },
      progress: { progress in
        switch progress {
        case .signalled(let process, let signal): await events(.signalled(process, signal))
        case .exited(let process): await events(.exited(process))
        case .waiting(let master, let signal, let elapsed, let grace):
          await events(.waiting(master: master, signal: signal, elapsed: elapsed, grace: grace))
        }
      })
    return try await finish(
      request, results: results, report: report, signalledAt: signalledAt, watch: watch, outcome, events)
  }

  /// After the targets were ended: the results, then (for `free`) the proof.
  private func finish(
    _ request: Request, results: [TerminationResult], report: PortReport, signalledAt: UInt64?,
    watch: RespawnWatch?, _ outcome: Outcome, _ events: @Sendable (Event) async -> Void
  ) async throws(PortKitError) -> Outcome {
    var outcome = outcome
    let control = system.control
    outcome.results = results
    await events(.terminated(results))
    if results.contains(where: { $0.outcome == .notPermitted }) {
      if let control { await watch?.release(control) }
      outcome.ending = .notPermitted
      return outcome
    }
    guard let verification = request.verification else {
      outcome.ending = .terminated
      return outcome
    }
    do {
      let verified = try await verify(
        request, verification, report: report, ended: Set(results.map(\.process.pid)), signalledAt: signalledAt,
        watch: watch, outcome, events)
      if let control { await watch?.release(control) }
      return verified
    } catch {
      if let control { await watch?.release(control) }
      throw error
    }
  }

  /// `--via-manager`: runs each group's manager stop command (once per distinct command)
  /// instead of signalling, waits for the targets to go, then proves the ports as `free`
  /// does. A command that fails ends the call with ``Ending/managerStopFailed``.
  private func stopThroughManagers(
    _ request: Request, pinned: Terminator.Pinned, terminator: Terminator, report: PortReport, _ outcome: Outcome,
    _ events: @Sendable (Event) async -> Void
  ) async throws(PortKitError) -> Outcome {
    var outcome = outcome
    let clock = ContinuousClock()
    let started = clock.now
    let signalledAt = await system.control?.clockTicks()
    var commands: [String] = []
    for group in outcome.plan.groups {
      if let command = group.managerCommand, !commands.contains(command) { commands.append(command) }
    }
    for command in commands {
      await events(.runningManagerStop(command))
      let directory = outcome.plan.groups.first { $0.managerCommand == command }?.managerDirectory
      let stop = await runManagerStop(command, directory: directory)
      outcome.managerStops.append(stop)
      if stop.exitCode != 0 {
        await terminator.release(pinned)
        outcome.ending = .managerStopFailed
        return outcome
      }
    }
    let grace = outcome.plan.groups.map(\.grace).max() ?? request.termination.timeout
    let waited = (clock.now - started).seconds
    let results = await terminator.awaitExits(pinned, timeout: grace, alreadyWaited: waited) { process, elapsed in
      await events(.waitingAfterManagerStop(process: process, elapsed: elapsed, limit: waited + grace.seconds))
    }
    return try await finish(
      request, results: results, report: report, signalledAt: signalledAt, watch: nil, outcome, events)
  }

  /// The directory of the daemon behind a supervisord or pm2 manager: its executable's (a
  /// pip or npm install puts `supervisorctl` and `pm2` beside it).
  static func managerDirectory(of manager: ProcessManager, ancestry: [ProcessRecord]) -> String? {
    let daemon: ProcessRecord?
    switch manager.kind {
    case .supervisord: daemon = ancestry.first { $0.commandLine.joined(separator: " ").contains("supervisord") }
    case .pm2:
      daemon = ancestry.first {
        $0.name.lowercased().hasPrefix("pm2") || $0.commandLine.joined(separator: " ").contains("PM2")
      }
    default: daemon = nil
    }
    guard let executable = daemon?.executable, let slash = executable.lastIndex(of: "/"), slash != executable.startIndex
    else { return nil }
    return String(executable[..<slash])
  }

  /// Runs one stop command through `/bin/sh -c` (every value in it is shell-quoted); as root
  /// with PATH set to the system directories only, as the command runner does for itself.
  private func runManagerStop(_ command: String, directory: String?) async -> ManagerStop {
    let runner = system.runner
    // As root: the system directories, then the manager daemon's own directory when only
    // root can change it (root already runs the daemon from there).
    var path = ToolLocation.systemDirectories
    if let directory, let trusted = Privileges.rootOnlyDirectory(directory) { path.append(trusted) }
    let script =
      Privileges.isRoot
      ? "PATH=\(ShellQuoting.quote(path.joined(separator: ":"))); export PATH; \(command)" : command
    do {
      let output = try await runner.run("sh", ["-c", script])
      let text = String(decoding: output.standardError.prefix(4096), as: UTF8.self)
      let message = String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
      return ManagerStop(command: command, exitCode: output.exitCode, message: message)
    } catch {
      return ManagerStop(command: command, exitCode: nil, message: error.message)
    }
  }

  private func refuse(_ refusal: Refusal, _ outcome: Outcome, _ events: @Sendable (Event) async -> Void) async
    -> Outcome
  {
    var outcome = outcome
    outcome.ending = .refused(refusal)
    await events(.refused(refusal))
    return outcome
  }

  private func verify(
    _ request: Request, _ verification: Verification, report: PortReport, ended: Set<PID>, signalledAt: UInt64?,
    watch: RespawnWatch?, _ outcome: Outcome, _ events: @Sendable (Event) async -> Void
  ) async throws(PortKitError) -> Outcome {
    var outcome = outcome
    let plan = outcome.plan
    let items = FreeingReads.items(plan: plan, report: report, specs: request.specs, protocols: request.protocols)
    guard !items.isEmpty else {
      outcome.ending = .nothingHolds
      return outcome
    }
    let risks = watch?.risks(for: plan.targets.map(\.process), ended: ended) ?? []
    outcome.respawnRisks = risks.map(\.reason)
    await events(.verifying(items))
    // Watch for a respawn only when something may restart a holder, and only while it runs.
    let window =
      risks.isEmpty ? Duration.zero : verification.respawnWindow ?? risks.map(\.window).max() ?? .seconds(2)
    let verifier = FreeVerifier(source: system.source, probe: system.binder.map { BindProbe(binder: $0) })
    let control = system.control
    let verified = try await verifier.verifyWatching(
      items, ended: ended, respawnWindow: window, drainTimeWait: verification.drainTimeWait, signalledAt: signalledAt,
      respawnersGone: { () async -> Bool in
        guard let watch, let control else { return false }
        return await watch.allExited(risks, control: control)
      },
      progress: { [reasons = outcome.respawnRisks] progress in
        switch progress {
        case .watching(let elapsed, let window):
          await events(.watchingForRespawn(elapsed: elapsed, window: window, reasons: reasons))
        case .draining(let port, let elapsed, let limit):
          await events(.drainingClosingSockets(port: port, elapsed: elapsed, limit: limit))
        }
      })
    let ports = verified.ports
    outcome.respawnWatch = verified.watch
    outcome.ports = ports
    outcome.ending = .verified
    // A respawn: how to stop the new holder through what restarts it.
    if ports.contains(where: { $0.verdict == .respawned }) {
      let again = PortReport(sockets: ports.flatMap(\.stillHeld), takenAt: 0, effectiveUID: 0)
      for (pid, provenance) in await PortInspection(system: system).provenance(for: again) {
        if let manager = provenance.managers.first { outcome.managers[pid] = manager }
      }
    }
    await events(.verified(ports))
    return outcome
  }
}
