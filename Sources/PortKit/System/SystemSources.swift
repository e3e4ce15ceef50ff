/// Which way portctl reads the system.
public enum Backend: String, CaseIterable, Sendable {
  /// procfs on Linux, lsof on macOS, the native tables on Windows.
  case automatic = "auto"
  /// Linux: `/proc/net` tables and `/proc/*/fd`.
  case procfs
  /// `lsof -F` and `ps`: macOS's backend, available on Linux too.
  case lsof
  /// Windows: `netstat -ano`, `tasklist`, `netsh`.
  case netstat
  /// Windows, natively: the IP Helper socket tables with owning pids, Toolhelp32, the
  /// service manager, process handles and Winsock bind probes. The default there.
  case windows
}

/// Chooses the platform's implementations of the seams. The only place that decides by
/// operating system.
public enum SystemSources {
  /// The backend `automatic` stands for here.
  public static var platformBackend: Backend {
    platformBackend(for: .current)
  }

  /// The backend `automatic` stands for on `platform`.
  public static func platformBackend(for platform: HostPlatform) -> Backend {
    switch platform {
    case .linux: .procfs
    case .windows: .windows
    case .macOS, .other: .lsof
    }
  }

  /// The socket source for `backend`.
  public static func source(_ backend: Backend = .automatic) throws(PortKitError) -> any SystemSource {
    let chosen = backend == .automatic ? platformBackend : backend
    switch chosen {
    case .procfs:
      #if os(Linux)
      return LinuxSystemSource()
      #else
      throw PortKitError(.unsupportedPlatform, "The procfs backend needs Linux's /proc.")
      #endif
    case .lsof:
      #if canImport(Glibc) || canImport(Darwin)
      return LsofSystemSource(runner: SubprocessRunner(), binder: SocketBinder(), host: .current)
      #else
      throw PortKitError(.unsupportedPlatform, "The lsof backend runs on Linux and macOS.")
      #endif
    case .netstat:
      #if os(Windows)
      return NetstatSystemSource(runner: SubprocessRunner(), host: .windows)
      #else
      throw PortKitError(.unsupportedPlatform, "The netstat backend reads Windows tools; it runs on Windows.")
      #endif
    case .windows:
      #if os(Windows)
      return WindowsSystemSource(calls: NativeWindowsCalls(), runner: SubprocessRunner(), host: .windows)
      #else
      throw PortKitError(.unsupportedPlatform, "The windows backend reads Windows' own tables; it runs on Windows.")
      #endif
    case .automatic:
      throw PortKitError(.unsupportedPlatform, "This platform has no portctl backend.")
    }
  }

  /// The socket source for this platform.
  public static func platformDefault() throws(PortKitError) -> any SystemSource {
    try source(.automatic)
  }

  /// The process control (signals, exit watching) that matches `backend`: process records
  /// carry the backend's own start time, which is what the control re-checks.
  public static func processControl(_ backend: Backend = .automatic) throws(PortKitError) -> any ProcessControl {
    let chosen = backend == .automatic ? platformBackend : backend
    switch chosen {
    case .procfs:
      #if os(Linux)
      return LinuxProcessControl()
      #else
      throw PortKitError(.unsupportedPlatform, "The procfs backend needs Linux's /proc.")
      #endif
    case .lsof:
      #if canImport(Glibc) || canImport(Darwin)
      return PosixProcessControl(runner: SubprocessRunner(), host: .current)
      #else
      throw PortKitError(.unsupportedPlatform, "The lsof backend runs on Linux and macOS.")
      #endif
    case .netstat:
      #if os(Windows)
      return TaskkillProcessControl(runner: SubprocessRunner(), host: .windows)
      #else
      throw PortKitError(.unsupportedPlatform, "The netstat backend reads Windows tools; it runs on Windows.")
      #endif
    case .windows:
      #if os(Windows)
      return WindowsProcessControl(calls: NativeWindowsCalls(), runner: SubprocessRunner(), host: .windows)
      #else
      throw PortKitError(.unsupportedPlatform, "The windows backend opens Windows processes; it runs on Windows.")
      #endif
    case .automatic:
      throw PortKitError(.unsupportedPlatform, "This platform cannot signal processes through portctl.")
    }
  }

  /// Real bind probes for this platform.
  public static func binder() throws(PortKitError) -> any PortBinder {
    #if canImport(Glibc) || canImport(Darwin)
    return SocketBinder()
    #elseif os(Windows)
    return WindowsSocketBinder(calls: NativeWindowsCalls())
    #else
    throw PortKitError(.unsupportedPlatform, "This platform cannot probe binds through portctl yet.")
    #endif
  }
}
