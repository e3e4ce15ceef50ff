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
}
