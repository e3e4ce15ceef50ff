/// Frees ports by ending the processes that hold them: `kill` and `free` as one library call.
///
/// The sequence: read who holds the ports, plan the targets (refusing protected processes and
/// sockets held by processes that cannot be seen), ask for consent through a callback, pin the
/// targets, check right before the first signal that each still holds the port, signal
/// (graceful, then SIGKILL), and with ``Verification`` prove each port with real binds while
/// watching for a holder coming back. Nothing is printed: progress reaches the caller as
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
      SocketQuery(specs: specs, protocols: protocols, listenersOnly: !includeConnections)
    }
  }

  /// How to prove the ports free after their holders were ended.
  public struct Verification: Sendable {
    /// How long to watch for a holder coming back, when something may restart one.
    public var respawnWindow: Duration
    /// Wait up to this long for TIME_WAIT (and other closing) sockets to drain, so that even
    /// a plain bind works; `nil` does not wait.
    public var drainTimeWait: Duration?

    /// Watches 2 s for a respawn (when one is likely) and does not wait for TIME_WAIT.
    public init(respawnWindow: Duration = .seconds(2), drainTimeWait: Duration? = nil) {
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
  }

  /// How the call ended.
  public enum Ending: Hashable, Sendable {
    /// Nothing was signalled (see the refusal).
    case refused(Refusal)
    /// No process holds the ports (without verification: nothing to do).
    case nothingToSignal
    /// A dry run: the plan only.
    case dryRun
    /// The kernel refused to deliver a signal (another user's process).
    case notPermitted
    /// The targets were signalled (without verification).
    case terminated
    /// The ports were proved (see ``Outcome/ports``).
    case verified
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
    let report = try await PortInspection(system: system).report(for: query)
    let protection = ProcessProtection(chain: await control.selfAndAncestors())
    let reads = FreeingReads(source: system.source, query: query, protection: protection)
    let peers = try await reads.peerListeners(of: report)
    let plan = TerminationPlan.make(from: report, protection: protection, peerListeners: peers)
    var outcome = Outcome(ending: .dryRun, plan: plan, parents: report.parents)
    await events(.planned(plan))

    if !plan.protected.isEmpty {
      return await refuse(.protected(plan.protected), outcome, events)
    }
    if !plan.hidden.isEmpty || !plan.partlyHidden.isEmpty {
      return await refuse(.unseenHolders(hidden: plan.hidden, partlyHidden: plan.partlyHidden), outcome, events)
    }
    if plan.targets.isEmpty {
      guard let verification = request.verification else {
        outcome.ending = .nothingToSignal
        return outcome
      }
      return try await verify(
        request, verification, report: report, ended: [], signalledAt: nil, watch: nil, outcome, events)
    }
    if request.dryRun { return outcome }

    // Pinned now, before the question: whatever happens while it waits, a signal can only
    // reach the processes listed in it.
    let terminator = Terminator(control: control)
    let pinned = await terminator.pin(plan.targets.map(\.process))
    let answer = await consent(plan)
    outcome.consent = answer
    guard answer.isGiven else {
      await terminator.release(pinned)
      return await refuse(.noConsent, outcome, events)
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
      pinned, request: request.termination, stillHolding: { _ in holding },
      progress: { progress in
        switch progress {
        case .signalled(let process, let signal): await events(.signalled(process, signal))
        case .exited(let process): await events(.exited(process))
        }
      })
    outcome.results = results
    await events(.terminated(results))
    if results.contains(where: { $0.outcome == .notPermitted }) {
      await watch?.release(control)
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
      await watch?.release(control)
      return verified
    } catch {
      await watch?.release(control)
      throw error
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
    let window = risks.isEmpty ? Duration.zero : verification.respawnWindow
    let verifier = FreeVerifier(source: system.source, probe: system.binder.map { BindProbe(binder: $0) })
    let control = system.control
    let verified = try await verifier.verifyWatching(
      items, ended: ended, respawnWindow: window, drainTimeWait: verification.drainTimeWait, signalledAt: signalledAt,
      respawnersGone: { () async -> Bool in
        guard let watch, let control else { return false }
        return await watch.allExited(risks, control: control)
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
