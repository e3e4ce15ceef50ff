/// Facts about the host that tool-driven backends need but cannot print themselves.
public struct HostFacts: Sendable {
  /// The effective uid this process runs with.
  public var effectiveUID: UInt32
  /// This process's pid.
  public var selfPID: PID
  /// The current time, seconds since the epoch.
  public var now: @Sendable () -> Double
  /// The local zone's offset from UTC, in seconds, at a given time.
  public var utcOffset: @Sendable (Double) -> Int
  /// The name of a uid, when the system knows one.
  public var userName: @Sendable (UInt32) -> String?

  /// Facts as given; a test passes fixed ones.
  public init(
    effectiveUID: UInt32, selfPID: PID = 0, now: @escaping @Sendable () -> Double,
    utcOffset: @escaping @Sendable (Double) -> Int = { _ in 0 },
    userName: @escaping @Sendable (UInt32) -> String? = { _ in nil }
  ) {
    self.effectiveUID = effectiveUID
    self.selfPID = selfPID
    self.now = now
    self.utcOffset = utcOffset
    self.userName = userName
  }
}

extension HostFacts {
  /// The machine this process runs on.
  public static var local: HostFacts {
    #if os(Windows)
    .windows
    #else
    .current
    #endif
  }
}
