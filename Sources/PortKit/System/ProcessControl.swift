/// A process pinned for signalling: on Linux a pidfd, elsewhere the pid alone (then the
/// start time is compared again right before every signal).
public struct ProcessHandle: Hashable, Sendable {
  /// The process.
  public var pid: PID
  /// The pidfd, or -1 when the platform has none.
  public var descriptor: Int32

  /// A handle on `pid`, through the pidfd `descriptor` where there is one.
  public init(pid: PID, descriptor: Int32 = -1) {
    self.pid = pid
    self.descriptor = descriptor
  }
}

/// What came of pinning a process found earlier.
public enum AcquireResult: Hashable, Sendable {
  case acquired(ProcessHandle)
  /// It exited since it was found.
  case gone
  /// Its pid now names another process (the start time differs): it must not be touched.
  case replaced
}

/// What came of sending one signal.
public enum SignalResult: Hashable, Sendable {
  case sent
  case gone
  /// The kernel refused (EPERM): another user's process.
  case notPermitted
  /// The platform cannot end this process gracefully (a Windows console program refuses
  /// `taskkill` without /F): go straight to the forced end.
  case gracefulUnsupported
}

/// The platform seam for everything that touches other processes' lives.
public protocol ProcessControl: Sendable {
  /// Pins the process `record` describes, after checking that its pid still names it.
  func acquire(_ record: ProcessRecord) async -> AcquireResult
  /// Re-checks, right before a signal, that the handle's process is still `record`'s and alive.
  func isSameProcess(_ handle: ProcessHandle, as record: ProcessRecord) async -> Bool
  /// Sends `signal` to the pinned process.
  func signal(_ handle: ProcessHandle, _ signal: Signal) async -> SignalResult
  /// Blocks until every handle's process has exited or `timeout` passes, reacting to each
  /// exit as it happens. Returns the pids that exited, with the seconds (from the call)
  /// at which each exit was seen.
  func waitForExit(_ handles: [ProcessHandle], timeout: Duration) async -> [PID: Double]
  /// Gives the handle back.
  func release(_ handle: ProcessHandle) async
  /// This process's pid followed by its ancestors' up to init.
  func selfAndAncestors() async -> [PID]
  /// Now, on the clock process start times are counted in (``ProcessRecord/startTicks``);
  /// `nil` where there is none.
  func clockTicks() async -> UInt64?
}

extension ProcessControl {
  /// Not known.
  public func clockTicks() async -> UInt64? { nil }
}
