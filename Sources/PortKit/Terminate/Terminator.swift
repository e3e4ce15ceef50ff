/// How to end a set of processes.
public struct TerminationRequest: Hashable, Sendable {
  /// The first signal (SIGTERM unless asked otherwise).
  public var signal: Signal
  /// How long to wait for the processes to exit before SIGKILL.
  public var timeout: Duration
  /// SIGKILL at once, no graceful signal.
  public var force: Bool
  /// How long to wait for SIGKILL to take effect.
  public var killTimeout: Duration

  public init(
    signal: Signal = .terminate, timeout: Duration = .seconds(5), force: Bool = false,
    killTimeout: Duration = .seconds(2)
  ) {
    self.signal = signal
    self.timeout = timeout
    self.force = force
    self.killTimeout = killTimeout
  }
}

/// What happened to one target.
public enum TerminationOutcome: Hashable, Sendable {
  /// It exited after the first signal, `seconds` after it was sent.
  case exited(after: Signal, seconds: Double)
  /// It had to be killed with SIGKILL (it outlived the timeout, or `force`).
  case killed(seconds: Double)
  /// It had exited before it could be signalled.
  case alreadyGone
  /// Its pid named another process by the time of signalling; nothing was sent.
  case replaced
  /// It no longer held the port when it was about to be signalled (it closed the socket,
  /// or handed it on); nothing was sent.
  case releasedPort
  /// The kernel refused the signal: another user's process.
  case notPermitted
  /// Still alive after SIGKILL (uninterruptible sleep, or a process being traced).
  case survived

  /// True when the process is gone (whoever ended it).
  public var isGone: Bool {
    switch self {
    case .exited, .killed, .alreadyGone, .replaced: true
    case .notPermitted, .survived, .releasedPort: false
    }
  }

  /// True when it no longer holds the port: gone, or it let go before it was signalled.
  public var letGoOfPort: Bool { isGone || self == .releasedPort }

  /// A stable code for JSON.
  public var code: String {
    switch self {
    case .exited: "exited"
    case .killed: "killed"
    case .alreadyGone: "already-gone"
    case .replaced: "pid-reused"
    case .releasedPort: "released-port"
    case .notPermitted: "not-permitted"
    case .survived: "survived"
    }
  }
}

/// One target and what became of it.
public struct TerminationResult: Hashable, Sendable {
  public var process: ProcessRecord
  public var outcome: TerminationOutcome
  /// The signals actually sent, in order.
  public var signalsSent: [Signal]
}

/// Progress while targets are ended, as it happens.
public enum TerminationProgress: Hashable, Sendable {
  /// `signal` was delivered to the process.
  case signalled(ProcessRecord, Signal)
  /// The process exited after a signal.
  case exited(ProcessRecord)
}

/// Graceful first, then force: pins every target, signals each through its handle after
/// checking it is still the process that was found, watches the exits as they happen, and
/// kills the survivors after the timeout.
public struct Terminator: Sendable {
  public var control: any ProcessControl

  public init(control: any ProcessControl) {
    self.control = control
  }

  /// Targets pinned when they were found: the handles of those that could be, and what
  /// became of the others.
  public struct Pinned: Sendable {
    public var targets: [ProcessRecord]
    var handles: [PID: ProcessHandle]
    var outcomes: [PID: TerminationOutcome]

    /// The pids pinned (still the processes that were found when pinned).
    public var pinnedPIDs: Set<PID> { Set(handles.keys) }
  }

  /// Pins every target (a pidfd on Linux) after checking that its pid still names the
  /// process that was found: done when the targets are found, before asking for consent,
  /// so that nothing that happens while the question waits can redirect a signal.
  public func pin(_ targets: [ProcessRecord]) async -> Pinned {
    var pinned = Pinned(targets: targets, handles: [:], outcomes: [:])
    for target in targets where pinned.handles[target.pid] == nil && pinned.outcomes[target.pid] == nil {
      switch await control.acquire(target) {
      case .acquired(let handle): pinned.handles[target.pid] = handle
      case .gone: pinned.outcomes[target.pid] = .alreadyGone
      case .replaced: pinned.outcomes[target.pid] = .replaced
      }
    }
    return pinned
  }

  /// Gives back the handles of targets that will not be signalled (consent refused).
  public func release(_ pinned: Pinned) async {
    for handle in pinned.handles.values { await control.release(handle) }
  }

  /// Pins and ends `targets` at once.
  public func terminate(_ targets: [ProcessRecord], request: TerminationRequest) async -> [TerminationResult] {
    await terminate(await pin(targets), request: request)
  }

  /// Ends pinned targets and releases them. `stillHolding`, when given, is asked right before
  /// the first signal which of the pinned pids still hold the port (`nil`: not known, then
  /// every target is signalled as consented): the others are not signalled and come back as
  /// ``TerminationOutcome/releasedPort``. `progress` hears of every signal delivered and
  /// every exit seen.
  public func terminate(
    _ pinned: Pinned, request: TerminationRequest, stillHolding: (@Sendable (Set<PID>) async -> Set<PID>?)? = nil,
    progress: @Sendable (TerminationProgress) async -> Void = { _ in }
  ) async -> [TerminationResult] {
    let targets = pinned.targets
    var results: [PID: TerminationResult] = [:]
    var handles = pinned.handles
    for target in targets {
      results[target.pid] = TerminationResult(
        process: target, outcome: pinned.outcomes[target.pid] ?? .alreadyGone, signalsSent: [])
    }
    if let stillHolding, !handles.isEmpty, let holding = await stillHolding(Set(handles.keys)) {
      for (pid, handle) in handles where !holding.contains(pid) {
        results[pid]?.outcome = .releasedPort
        handles[pid] = nil
        await control.release(handle)
      }
    }

    let first = request.force ? Signal.kill : request.signal
    var forceNow: [ProcessHandle] = []
    let pending = await send(
      first, to: targets, handles: handles, results: &results, ifGone: .alreadyGone, forceNow: &forceNow,
      progress: progress)
    let exits = await control.waitForExit(pending, timeout: request.force ? request.killTimeout : request.timeout)
    for (pid, seconds) in exits {
      results[pid]?.outcome = request.force ? .killed(seconds: seconds) : .exited(after: first, seconds: seconds)
    }
    for target in targets where exits[target.pid] != nil { await progress(.exited(target)) }
    var survivors = pending.filter { exits[$0.pid] == nil } + forceNow
    if !request.force, !survivors.isEmpty {
      let graceful = forceNow.isEmpty ? request.timeout.seconds : 0
      // One that exits between the timeout and SIGKILL still exited after the first signal.
      var unused: [ProcessHandle] = []
      survivors = await send(
        .kill, to: targets, handles: Dictionary(uniqueKeysWithValues: survivors.map { ($0.pid, $0) }),
        results: &results, ifGone: .exited(after: first, seconds: graceful), forceNow: &unused, progress: progress)
      let killed = await control.waitForExit(survivors, timeout: request.killTimeout)
      for (pid, seconds) in killed { results[pid]?.outcome = .killed(seconds: graceful + seconds) }
      for target in targets where killed[target.pid] != nil { await progress(.exited(target)) }
      survivors = survivors.filter { killed[$0.pid] == nil }
    }
    for handle in survivors { results[handle.pid]?.outcome = .survived }
    for handle in handles.values { await control.release(handle) }
    return targets.compactMap { results[$0.pid] }
  }

  /// Sends `signal` to every pinned target still named by its handle; returns the handles
  /// of those it reached.
  private func send(
    _ signal: Signal, to targets: [ProcessRecord], handles: [PID: ProcessHandle],
    results: inout [PID: TerminationResult], ifGone gone: TerminationOutcome, forceNow: inout [ProcessHandle],
    progress: @Sendable (TerminationProgress) async -> Void
  ) async -> [ProcessHandle] {
    var reached: [ProcessHandle] = []
    for target in targets {
      guard let handle = handles[target.pid] else { continue }
      guard await control.isSameProcess(handle, as: target) else {
        results[target.pid]?.outcome = gone
        continue
      }
      switch await control.signal(handle, signal) {
      case .sent:
        results[target.pid]?.signalsSent.append(signal)
        reached.append(handle)
        await progress(.signalled(target, signal))
      case .gone:
        results[target.pid]?.outcome = gone
      case .notPermitted:
        results[target.pid]?.outcome = .notPermitted
      case .gracefulUnsupported:
        forceNow.append(handle)
      }
    }
    return reached
  }
}

extension Duration {
  /// The duration in seconds, as a floating-point number.
  public var seconds: Double {
    let (whole, fraction) = components
    return Double(whole) + Double(fraction) / 1e18
  }
}
