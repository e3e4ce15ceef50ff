/// The operating system a host runs: advice that only applies to one (HTTP.sys, Hyper-V
/// excluded ranges, the AirPlay Receiver, `netsh`, `sc stop`) is given only there.
public enum HostPlatform: String, CaseIterable, Hashable, Sendable {
  case linux
  case macOS = "macos"
  case windows
  case other

  /// The platform this process runs on.
  public static var current: HostPlatform {
    #if os(Linux)
    .linux
    #elseif os(Windows)
    .windows
    #elseif os(macOS)
    .macOS
    #else
    .other
    #endif
  }
}

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
  /// The operating system.
  public var platform: HostPlatform = .current
  /// The home directory of the user running portctl (`HOME`), where known: project detection
  /// never walks above it.
  public var homeDirectory: String? = nil

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
