/// One reason a bind fails, or a note about a port: a stable code and a sentence with the fix.
public struct BindReason: Hashable, Sendable {
  /// What kind of reason or note it is; stable, and used in the JSON output.
  public struct Code: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
    /// The stable name, as in the JSON output.
    public var rawValue: String
    /// The code named `rawValue`.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// The stable name.
    public var description: String { rawValue }

    /// Processes listen on the same address.
    public static let held = Code(rawValue: "held")
    /// A socket on another, overlapping address blocks the bind (wildcard or dual-stack).
    public static let addressOverlap = Code(rawValue: "address-overlap")
    /// A socket whose process cannot be seen holds the port.
    public static let heldHidden = Code(rawValue: "held-hidden")
    /// A listener no process holds (an in-kernel server).
    public static let heldByKernel = Code(rawValue: "held-by-kernel")
    /// Only TIME_WAIT (or other closing) sockets remain.
    public static let timeWait = Code(rawValue: "time-wait")
    /// Below the unprivileged port start, without root or CAP_NET_BIND_SERVICE.
    public static let privileged = Code(rawValue: "privileged")
    /// The asked address is not on this machine.
    public static let addressUnavailable = Code(rawValue: "address-unavailable")
    /// Inside a range the system excludes (Windows, WSAEACCES 10013).
    public static let excludedRange = Code(rawValue: "excluded-range")
    /// Refused for another reason (a security policy).
    public static let permissionDenied = Code(rawValue: "permission-denied")
    /// The bind fails and nothing visible explains it.
    public static let unexplained = Code(rawValue: "unexplained")
    /// Not probed with a real bind on this platform.
    public static let unprobed = Code(rawValue: "unprobed")
    /// Note: in the ephemeral range the kernel hands to outgoing connections.
    public static let ephemeralRange = Code(rawValue: "ephemeral-range")
    /// Note: reserved from ephemeral use (Linux `ip_local_reserved_ports`).
    public static let reservedPort = Code(rawValue: "reserved-port")
    /// Note: a privileged port that this process may bind.
    public static let privilegedAllowed = Code(rawValue: "privileged-allowed")
    /// Note: the usual port of a well-known service.
    public static let wellKnown = Code(rawValue: "well-known-port")
    /// Note: a dual-stack `[::]` bind fails, but a server that sets IPV6_V6ONLY could bind.
    public static let v6OnlyBindable = Code(rawValue: "v6-only-bindable")
  }

  /// What to do about processes that hold the port, for a front end to word its own way
  /// (a command, a button, a log line); ``advice`` says it in words.
  public enum Remedy: Hashable, Sendable {
    /// Stop the holders of `port` the way their manager wants (``PortInspection`` names the
    /// manager and its stop command), or end them (``PortFreeing``).
    case stopHolders(port: UInt16)
    /// End the processes that keep connections on `port` too (``PortFreeing`` with
    /// connections included): binds fail while those stay open.
    case endConnections(port: UInt16)

    /// The remedy in words.
    public var advice: String {
      switch self {
      case .stopHolders:
        "stop it the way its manager wants (its manager and stop command are in its provenance), or end it"
      case .endConnections:
        "binds fail while it stays open; end those processes too"
      }
    }
  }

  /// What kind of reason it is.
  public var code: Code
  /// A full sentence for the user: what blocks the bind (the ``remedy``, where there is
  /// one, says what to do about it).
  public var message: String
  /// The processes the reason is about.
  public var pids: [PID]
  /// What to do about those processes, where something can be done.
  public var remedy: Remedy?

  /// A reason of kind `code`, saying `message`, about `pids`.
  public init(_ code: Code, _ message: String, pids: [PID] = [], remedy: Remedy? = nil) {
    self.code = code
    self.message = message
    self.pids = pids
    self.remedy = remedy
  }

  /// The message with the remedy's advice after it.
  public var fullMessage: String { remedy.map { "\(message): \($0.advice)" } ?? message }
}

/// How the server being judged binds, when that is known to differ from a typical server.
public struct ServerBind: Hashable, Sendable {
  /// It sets SO_REUSEADDR, as most servers do; `false`: it is judged by a plain bind (socat
  /// without `reuseaddr`, a bare Python `socket.bind`), which TIME_WAIT sockets block.
  public var reuseAddress: Bool
  /// It runs without root or CAP_NET_BIND_SERVICE, whatever portctl's own privileges are
  /// (it failed with EACCES, so it had none).
  public var unprivileged: Bool

  /// A server that sets SO_REUSEADDR (or not) and is unprivileged (or not).
  public init(reuseAddress: Bool = true, unprivileged: Bool = false) {
    self.reuseAddress = reuseAddress
    self.unprivileged = unprivileged
  }

  /// A server that sets SO_REUSEADDR and has portctl's privileges.
  public static let typical = ServerBind()
}
