/// An error from PortKit: a stable code and a full-sentence message.
public struct PortKitError: Error, Hashable, Sendable, CustomStringConvertible {
  /// What kind of failure this is; stable, and used as the JSON error code.
  public struct Code: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
    /// The stable name, as in the JSON error document.
    public var rawValue: String
    /// The code named `rawValue`.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// The stable name.
    public var description: String { rawValue }

    /// The kernel's socket tables could not be read.
    public static let socketTablesUnreadable = Code(rawValue: "socket-tables-unreadable")
    /// The platform has no backend.
    public static let unsupportedPlatform = Code(rawValue: "unsupported-platform")
    /// A tool the backend runs is not installed.
    public static let toolMissing = Code(rawValue: "tool-missing")
    /// A tool the backend runs failed or printed something unreadable.
    public static let toolFailed = Code(rawValue: "tool-failed")
    /// Permission was denied.
    public static let permissionDenied = Code(rawValue: "permission-denied")
    /// The process's limits (descriptors, address space) leave too little to run.
    public static let resourcesExhausted = Code(rawValue: "resources-exhausted")
    /// The calling task was cancelled before the answer was known (library callers only:
    /// portctl itself is never cancelled).
    public static let cancelled = Code(rawValue: "cancelled")
  }

  /// What kind of failure this is.
  public var code: Code
  /// A full sentence saying what went wrong and what to do.
  public var message: String
  /// The errno behind it, when there is one.
  public var errno: Int32?

  /// An error of kind `code`, saying `message` (a full sentence).
  public init(_ code: Code, _ message: String, errno: Int32? = nil) {
    self.code = code
    self.message = message
    self.errno = errno
  }

  /// The message.
  public var description: String { message }
}
