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
  /// The signal was asked for (`--signal`): it replaces a recognised server's own stop signal.
  public var signalIsGiven: Bool
  /// The timeout was asked for (`--timeout`): it replaces a recognised server's own grace.
  public var timeoutIsGiven: Bool

  /// A request; a `signal` or `timeout` given here replaces a recognised server's own, while
  /// one left out (`nil`) lets a server be stopped its way, and is SIGTERM and 5 s otherwise.
  public init(
    signal: Signal? = nil, timeout: Duration? = nil, force: Bool = false, killTimeout: Duration = .seconds(2)
  ) {
    self.signal = signal ?? .terminate
    self.timeout = timeout ?? .seconds(5)
    self.force = force
    self.killTimeout = killTimeout
    signalIsGiven = signal != nil
    timeoutIsGiven = timeout != nil
  }

  /// The first signal and the grace for a group led by `server` (`nil`: a bare process):
  /// the server's own unless the request names them; SIGKILL and the kill timeout with
  /// `force`.
  public func stop(for server: RecognizedServer?) -> (signal: Signal, grace: Duration) {
    if force { return (.kill, killTimeout) }
    let signal = signalIsGiven ? signal : (server?.stopSignal ?? signal)
    let grace = timeoutIsGiven ? timeout : (server?.grace ?? timeout)
    return (signal, grace)
  }
}

/// What happened to one target.
public enum TerminationOutcome: Hashable, Sendable {
  /// It exited after the first signal, `seconds` after it was sent.
  case exited(after: Signal, seconds: Double)
  /// It had to be killed with SIGKILL (it outlived the grace, or `force`).
  case killed(seconds: Double)
  /// It was not signalled itself: it exited `seconds` after its server's master was (a
  /// worker following its master).
  case stoppedWithMaster(seconds: Double)
  /// Its manager's stop command ended it (`--via-manager`); seen gone `seconds` after the
  /// command was started.
  case stoppedByManager(seconds: Double)
  /// It had exited before it could be signalled.
  case alreadyGone
  /// Its pid named another process by the time of signalling; nothing was sent.
  case replaced
  /// It no longer held the port when it was about to be signalled (it closed the socket,
  /// or handed it on); nothing was sent.
  case releasedPort
  /// The kernel refused the signal: another user's process.
  case notPermitted
  /// Still alive after SIGKILL (uninterruptible sleep, or a process being traced), or after
  /// its manager's stop command.
  case survived

  /// True when the process is gone (whoever ended it).
  public var isGone: Bool {
    switch self {
    case .exited, .killed, .stoppedWithMaster, .stoppedByManager, .alreadyGone, .replaced: true
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
    case .stoppedWithMaster: "stopped-with-master"
    case .stoppedByManager: "stopped-by-manager"
    case .alreadyGone: "already-gone"
    case .replaced: "pid-reused"
    case .releasedPort: "released-port"
    case .notPermitted: "not-permitted"
    case .survived: "survived"
    }
  }

  /// Seconds from the first signal (or the manager's command) to the exit, where known.
  public var seconds: Double? {
    switch self {
    case .exited(_, let seconds), .killed(let seconds), .stoppedWithMaster(let seconds),
      .stoppedByManager(let seconds):
      seconds
    default: nil
    }
  }
}

/// One target and what became of it.
public struct TerminationResult: Hashable, Sendable {
  /// The process.
  public var process: ProcessRecord
  /// What became of it.
  public var outcome: TerminationOutcome
  /// The signals actually sent, in order.
  public var signalsSent: [Signal]
  /// How long it (or its master) was given after the first signal before SIGKILL.
  public var grace: Duration = .zero
}

/// Progress while targets are ended, as it happens.
public enum TerminationProgress: Hashable, Sendable {
  /// `signal` was delivered to the process.
  case signalled(ProcessRecord, Signal)
  /// The process exited after a signal.
  case exited(ProcessRecord)
  /// Still waiting for `master`'s group to exit after `signal`: `elapsed` seconds of `grace`
  /// have passed. Sent about every tenth of a second while it lasts.
  case waiting(master: ProcessRecord, signal: Signal, elapsed: Double, grace: Double)
}

/// How to stop one group of targets: the processes to signal first, the ones expected to
/// follow them, and with which signal and grace.
public struct TerminationStop: Hashable, Sendable {
  /// The process the stop is aimed at (a server's master, or the lone target), for progress.
  public var master: ProcessRecord
  /// Sent ``signal`` first.
  public var signalled: [ProcessRecord]
  /// Not signalled at first: waited on; they stop with the master (workers).
  public var followers: [ProcessRecord]
  /// The first signal.
  public var signal: Signal
  /// How long the group has after ``signal`` before its survivors get SIGKILL.
  public var grace: Duration
  /// The processes of the group that held the port when the plan was made: if none holds it
  /// right before the first signal, nothing in the group is signalled.
  public var holders: Set<PID>

  /// A stop of `signalled` with `signal`, `followers` waited on, SIGKILL after `grace`.
  public init(
    master: ProcessRecord, signalled: [ProcessRecord], followers: [ProcessRecord] = [], signal: Signal,
    grace: Duration, holders: Set<PID>? = nil
  ) {
    self.master = master
    self.signalled = signalled
    self.followers = followers
    self.signal = signal
    self.grace = grace
    self.holders = holders ?? Set((signalled + followers).map(\.pid))
  }
}

/// Graceful first, then force: pins every target, signals each through its handle after
/// checking it is still the process that was found, watches the exits as they happen, and
/// kills the survivors after the grace.
public struct Terminator: Sendable {
  /// Where processes are pinned, signalled and watched.
  public var control: any ProcessControl
  /// How often progress hears that a wait goes on.
  public var tick: Duration

  /// A terminator signalling through `control`.
  public init(control: any ProcessControl, tick: Duration = .milliseconds(100)) {
    self.control = control
    self.tick = tick
  }

  /// Targets pinned when they were found: the handles of those that could be, and what
  /// became of the others.
  public struct Pinned: Sendable {
    /// The processes, in the order given.
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
    var pinned = Pinned(targets: [], handles: [:], outcomes: [:])
    for target in targets where pinned.handles[target.pid] == nil && pinned.outcomes[target.pid] == nil {
      pinned.targets.append(target)
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

  /// Ends pinned targets, each on its own with the request's signal and timeout, and
  /// releases them. `stillHolding`, when given, is asked right before the first signal which
  /// of the pinned pids still hold the port (`nil`: not known, then every target is
  /// signalled as consented): the others are not signalled and come back as
  /// ``TerminationOutcome/releasedPort``. `progress` hears of every signal delivered and
  /// every exit seen.
  public func terminate(
    _ pinned: Pinned, request: TerminationRequest, stillHolding: (@Sendable (Set<PID>) async -> Set<PID>?)? = nil,
    progress: @Sendable (TerminationProgress) async -> Void = { _ in }
  ) async -> [TerminationResult] {
    let (signal, grace) = request.stop(for: nil)
    let stops = pinned.targets.map { TerminationStop(master: $0, signalled: [$0], signal: signal, grace: grace) }
    return await terminate(
      pinned, stops: stops, killTimeout: request.killTimeout, stillHolding: stillHolding, progress: progress)
  }

  /// The state of one pinned process while it is ended.
  private struct Watch {
    var stop: Int
    var handle: ProcessHandle
    var follower: Bool
    /// Sent SIGKILL; the deadline for it to take effect.
    var killDeadline: Double?
  }

  /// Ends pinned processes group by group: every group's ``TerminationStop/signalled`` get
  /// its signal at once; its followers are not signalled and, if they exit within the grace,
  /// come back as ``TerminationOutcome/stoppedWithMaster(seconds:)``; whatever in a group is
  /// still alive when its grace ends gets SIGKILL (and has `killTimeout` to go). Every signal
  /// goes through the pinned handle after checking it still names the process found.
  /// A process pinned but in no stop is not signalled and comes back as
  /// ``TerminationOutcome/releasedPort`` (nothing was sent to it). Releases every handle.
  public func terminate(
    _ pinned: Pinned, stops: [TerminationStop], killTimeout: Duration,
    stillHolding: (@Sendable (Set<PID>) async -> Set<PID>?)? = nil,
    progress: @Sendable (TerminationProgress) async -> Void = { _ in }
  ) async -> [TerminationResult] {
    var results: [PID: TerminationResult] = [:]
    var handles = pinned.handles
    let records = Dictionary(pinned.targets.map { ($0.pid, $0) }, uniquingKeysWith: { first, _ in first })
    for target in pinned.targets {
      results[target.pid] = TerminationResult(
        process: target, outcome: pinned.outcomes[target.pid] ?? .alreadyGone, signalsSent: [])
    }
    var inSomeStop: Set<PID> = []
    for stop in stops {
      for process in stop.signalled + stop.followers {
        results[process.pid]?.grace = stop.grace
        inSomeStop.insert(process.pid)
      }
    }
    for pid in handles.keys where !inSomeStop.contains(pid) { results[pid]?.outcome = .releasedPort }
    var releasedPort: Set<PID> = []
    if let stillHolding, !handles.isEmpty, let holding = await stillHolding(Set(handles.keys)) {
      for stop in stops {
        let members = Set((stop.signalled + stop.followers).map(\.pid))
        // A group none of whose processes holds the port any more is not signalled at all;
        // otherwise only a process that held the port and let go of it is spared.
        let spared =
          stop.holders.isDisjoint(with: holding)
          ? members : members.intersection(stop.holders).subtracting(holding)
        releasedPort.formUnion(spared.filter { handles[$0] != nil })
      }
      for pid in releasedPort {
        results[pid]?.outcome = .releasedPort
        if let handle = handles[pid] { await control.release(handle) }
        handles[pid] = nil
      }
    }

    // The first signals, every group at once.
    var watches: [PID: Watch] = [:]
    var forceNow: [PID] = []
    for (index, stop) in stops.enumerated() {
      for process in stop.signalled {
        guard let handle = handles[process.pid], watches[process.pid] == nil else { continue }
        switch await send(stop.signal, to: process, handle, results: &results, ifGone: .alreadyGone, progress: progress)
        {
        case .sent: watches[process.pid] = Watch(stop: index, handle: handle, follower: false)
        case .gracefulUnsupported: forceNow.append(process.pid)
        default: break
        }
      }
      for process in stop.followers {
        guard let handle = handles[process.pid], watches[process.pid] == nil else { continue }
        watches[process.pid] = Watch(stop: index, handle: handle, follower: true)
      }
    }
    // A process the platform cannot end gracefully is forced at once.
    for pid in forceNow {
      guard let handle = handles[pid], let process = records[pid] else { continue }
      let stop = stops.firstIndex { $0.signalled.contains { $0.pid == pid } } ?? 0
      if await send(.kill, to: process, handle, results: &results, ifGone: .alreadyGone, progress: progress) == .sent {
        watches[pid] = Watch(stop: stop, handle: handle, follower: false, killDeadline: killTimeout.seconds)
      }
    }

    // Watch the exits in slices, so that progress hears how long the wait has lasted and each
    // group's SIGKILL goes out when its own grace ends.
    var elapsed = 0.0
    let tickSeconds = max(tick.seconds, 0.001)
    while !watches.isEmpty {
      // Groups whose grace ended: SIGKILL to what is left of them.
      for (pid, watch) in watches.sorted(by: { $0.key < $1.key }) where watch.killDeadline == nil {
        let stop = stops[watch.stop]
        guard elapsed >= stop.grace.seconds, let process = records[pid] else { continue }
        if stop.signal == .kill, !watch.follower {
          // SIGKILL was the first signal (`force`): nothing stronger to send.
          results[pid]?.outcome = .survived
          watches[pid] = nil
          continue
        }
        let first = stop.signal
        let graceful: TerminationOutcome =
          watch.follower
          ? .stoppedWithMaster(seconds: elapsed) : .exited(after: first, seconds: elapsed)
        switch await send(.kill, to: process, watch.handle, results: &results, ifGone: graceful, progress: progress)
        {
        case .sent: watches[pid]?.killDeadline = elapsed + killTimeout.seconds
        default: watches[pid] = nil
        }
      }
      // SIGKILLs that did not take effect.
      for (pid, watch) in watches {
        if let deadline = watch.killDeadline, elapsed >= deadline {
          results[pid]?.outcome = .survived
          watches[pid] = nil
        }
      }
      if watches.isEmpty { break }
      let nextDeadline =
        watches.values.map { watch in
          watch.killDeadline ?? stops[watch.stop].grace.seconds
        }.min() ?? elapsed
      let slice = max(min(tickSeconds, nextDeadline - elapsed), 0.001)
      let clock = ContinuousClock()
      let started = clock.now
      let pending = watches.values.map(\.handle)
      let exits = await control.waitForExit(pending, timeout: .milliseconds(Int64((slice * 1000).rounded(.up))))
      if exits.isEmpty {
        // A control that returned early (cancelled, or a test's) still lets the slice pass.
        let left = Duration.milliseconds(Int64(slice * 1000)) - (clock.now - started)
        if left > .milliseconds(1) { try? await Task.sleep(for: left) }
      }
      for (pid, seconds) in exits.sorted(by: { $0.key < $1.key }) {
        guard let watch = watches[pid] else { continue }
        let at = elapsed + seconds
        if watch.killDeadline != nil || (!watch.follower && stops[watch.stop].signal == .kill) {
          results[pid]?.outcome = .killed(seconds: at)
        } else if watch.follower {
          results[pid]?.outcome = .stoppedWithMaster(seconds: at)
        } else {
          results[pid]?.outcome = .exited(after: stops[watch.stop].signal, seconds: at)
        }
        watches[pid] = nil
        if let process = records[pid] { await progress(.exited(process)) }
      }
      elapsed += slice
      // Still waiting: say so, once per group in its grace.
      var told: Set<Int> = []
      for watch in watches.values where watch.killDeadline == nil && !told.contains(watch.stop) {
        told.insert(watch.stop)
        let stop = stops[watch.stop]
        await progress(
          .waiting(
            master: stop.master, signal: stop.signal, elapsed: min(elapsed, stop.grace.seconds),
            grace: stop.grace.seconds))
      }
    }
    for handle in handles.values { await control.release(handle) }
    return pinned.targets.compactMap { results[$0.pid] }
  }

  /// Waits, without signalling, for pinned processes that something else is stopping (their
  /// manager's stop command, started `alreadyWaited` seconds ago): each that goes within
  /// `timeout` is ``TerminationOutcome/stoppedByManager(seconds:)``, the others
  /// ``TerminationOutcome/survived``. `progress` hears about every tenth of a second of the
  /// first process still waited on and the seconds since the command started. Releases
  /// every handle.
  public func awaitExits(
    _ pinned: Pinned, timeout: Duration, alreadyWaited: Double = 0,
    progress: @Sendable (ProcessRecord, Double) async -> Void = { _, _ in }
  ) async -> [TerminationResult] {
    var results: [PID: TerminationResult] = [:]
    var waiting: [ProcessRecord] = []
    for target in pinned.targets {
      results[target.pid] = TerminationResult(
        process: target, outcome: pinned.outcomes[target.pid] ?? .alreadyGone, signalsSent: [], grace: timeout)
      guard let handle = pinned.handles[target.pid] else { continue }
      if await control.isSameProcess(handle, as: target) {
        waiting.append(target)
      } else {
        results[target.pid]?.outcome = .stoppedByManager(seconds: alreadyWaited)
      }
    }
    var elapsed = 0.0
    let tickSeconds = max(tick.seconds, 0.001)
    while !waiting.isEmpty, elapsed < timeout.seconds {
      let slice = max(min(tickSeconds, timeout.seconds - elapsed), 0.001)
      let clock = ContinuousClock()
      let started = clock.now
      let exits = await control.waitForExit(
        waiting.compactMap { pinned.handles[$0.pid] }, timeout: .milliseconds(Int64((slice * 1000).rounded(.up))))
      if exits.isEmpty {
        let left = Duration.milliseconds(Int64(slice * 1000)) - (clock.now - started)
        if left > .milliseconds(1) { try? await Task.sleep(for: left) }
      }
      for (pid, seconds) in exits {
        results[pid]?.outcome = .stoppedByManager(seconds: alreadyWaited + elapsed + seconds)
      }
      waiting.removeAll { exits[$0.pid] != nil }
      elapsed += slice
      if let first = waiting.first { await progress(first, alreadyWaited + elapsed) }
    }
    for target in waiting { results[target.pid]?.outcome = .survived }
    await release(pinned)
    return pinned.targets.compactMap { results[$0.pid] }
  }

  /// Sends `signal` to one pinned process if its handle still names it; records what came of
  /// it (`gone` when it had exited or its pid was reused).
  private func send(
    _ signal: Signal, to target: ProcessRecord, _ handle: ProcessHandle, results: inout [PID: TerminationResult],
    ifGone gone: TerminationOutcome, progress: @Sendable (TerminationProgress) async -> Void
  ) async -> SignalResult {
    guard await control.isSameProcess(handle, as: target) else {
      results[target.pid]?.outcome = gone
      return .gone
    }
    let result = await control.signal(handle, signal)
    switch result {
    case .sent:
      results[target.pid]?.signalsSent.append(signal)
      await progress(.signalled(target, signal))
    case .gone:
      results[target.pid]?.outcome = gone
    case .notPermitted:
      results[target.pid]?.outcome = .notPermitted
    case .gracefulUnsupported:
      break
    }
    return result
  }
}

extension Duration {
  /// The duration in seconds, as a floating-point number.
  public var seconds: Double {
    let (whole, fraction) = components
    return Double(whole) + Double(fraction) / 1e18
  }
}
