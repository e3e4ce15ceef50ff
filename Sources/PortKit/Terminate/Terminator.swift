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
  /// The kernel refused the signal: another user's process.
  case notPermitted
  /// Still alive after SIGKILL (uninterruptible sleep, or a process being traced).
  case survived

  /// True when the process is gone (whoever ended it).
  public var isGone: Bool {
    switch self {
    case .exited, .killed, .alreadyGone, .replaced: true
    case .notPermitted, .survived: false
    }
  }

  /// A stable code for JSON.
  public var code: String {
    switch self {
    case .exited: "exited"
    case .killed: "killed"
    case .alreadyGone: "already-gone"
    case .replaced: "pid-reused"
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

/// Graceful first, then force: pins every target, signals each through its handle after
/// checking it is still the process that was found, watches the exits as they happen, and
/// kills the survivors after the timeout.
public struct Terminator: Sendable {
  public var control: any ProcessControl

  public init(control: any ProcessControl) {
    self.control = control
  }

  public func terminate(_ targets: [ProcessRecord], request: TerminationRequest) async -> [TerminationResult] {
    var results: [PID: TerminationResult] = [:]
    var handles: [PID: ProcessHandle] = [:]
    for target in targets {
      results[target.pid] = TerminationResult(process: target, outcome: .alreadyGone, signalsSent: [])
      switch await control.acquire(target) {
      case .acquired(let handle): handles[target.pid] = handle
      case .gone: results[target.pid]?.outcome = .alreadyGone
      case .replaced: results[target.pid]?.outcome = .replaced
      }
    }

    let first = request.force ? Signal.kill : request.signal
    var forceNow: [ProcessHandle] = []
    let pending = await send(
      first, to: targets, handles: handles, results: &results, ifGone: .alreadyGone, forceNow: &forceNow)
    let exits = await control.waitForExit(pending, timeout: request.force ? request.killTimeout : request.timeout)
    for (pid, seconds) in exits {
      results[pid]?.outcome = request.force ? .killed(seconds: seconds) : .exited(after: first, seconds: seconds)
    }
    var survivors = pending.filter { exits[$0.pid] == nil } + forceNow
    if !request.force, !survivors.isEmpty {
      let graceful = forceNow.isEmpty ? request.timeout.seconds : 0
      // One that exits between the timeout and SIGKILL still exited after the first signal.
      var unused: [ProcessHandle] = []
      survivors = await send(
        .kill, to: targets, handles: Dictionary(uniqueKeysWithValues: survivors.map { ($0.pid, $0) }),
        results: &results, ifGone: .exited(after: first, seconds: graceful), forceNow: &unused)
      let killed = await control.waitForExit(survivors, timeout: request.killTimeout)
      for (pid, seconds) in killed { results[pid]?.outcome = .killed(seconds: graceful + seconds) }
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
    results: inout [PID: TerminationResult], ifGone gone: TerminationOutcome, forceNow: inout [ProcessHandle]
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
