/// How a host's kernel judges a bind beside the sockets already bound on its port, which
/// decides whether a real bind alone can say a port is free.
public enum BindSemantics: String, Hashable, Sendable, CaseIterable {
  /// Linux: a wildcard bind collides with every bind of the same port on an address it
  /// covers, SO_REUSEADDR or not (SO_REUSEADDR only passes closing sockets). A probe decides.
  case linux
  /// BSD and macOS: with SO_REUSEADDR, a wildcard bind succeeds beside a same-user bind of
  /// the port on a specific address, and that socket keeps the traffic to its address. A
  /// probe that binds is confirmed against the socket table.
  case bsd
  /// Windows, probed with SO_EXCLUSIVEADDRUSE: the probe collides with any bind of the
  /// port on an address it covers. A probe decides.
  case windows

  /// A probe that binds does not prove the port free: a listener in the socket table on an
  /// address the bind covers still takes that address's traffic.
  public var probeNeedsTable: Bool { self == .bsd }
}

extension HostPlatform {
  /// The bind rules of the platform's kernel; BSD's for a platform not known otherwise.
  public var bindSemantics: BindSemantics {
    switch self {
    case .linux: .linux
    case .windows: .windows
    case .macOS, .other: .bsd
    }
  }
}
