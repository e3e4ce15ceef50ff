/// Chooses the backend for the platform portctl runs on.
public enum SystemSources {
  /// The backend for this platform.
  public static func platformDefault() throws(PortKitError) -> any SystemSource {
    #if os(Linux)
    return LinuxSystemSource()
    #else
    throw PortKitError(.unsupportedPlatform, "This platform has no portctl backend yet.")
    #endif
  }

  /// The process control (signals, exit watching) for this platform.
  public static func processControl() throws(PortKitError) -> any ProcessControl {
    #if os(Linux)
    return LinuxProcessControl()
    #else
    throw PortKitError(.unsupportedPlatform, "This platform cannot signal processes through portctl yet.")
    #endif
  }

  /// Real bind probes for this platform.
  public static func binder() throws(PortKitError) -> any PortBinder {
    #if canImport(Glibc) || canImport(Darwin)
    return SocketBinder()
    #else
    throw PortKitError(.unsupportedPlatform, "This platform cannot probe binds through portctl yet.")
    #endif
  }
}
