/// What a real bind attempt said.
public enum BindOutcome: Hashable, Sendable {
  case bindable
  /// EADDRINUSE.
  case inUse
  /// EACCES: a privileged port without the privilege.
  case permissionDenied
  /// EADDRNOTAVAIL: the address is not on this machine.
  case addressUnavailable
  /// The address family is not available (IPv6 disabled).
  case familyUnsupported
  /// Any other errno.
  case failed(errno: Int32)
}

/// The platform seam for bind probes.
public protocol PortBinder: Sendable {
  /// Opens a socket, binds it to `endpoint` and closes it at once. `reuseAddress` sets
  /// SO_REUSEADDR first, as most servers do (it lets TCP bind past TIME_WAIT sockets).
  func tryBind(_ endpoint: Endpoint, proto: TransportProtocol, reuseAddress: Bool) -> BindOutcome
}

/// Proves with real binds whether a server could take a port now.
public struct BindProbe: Sendable {
  public var binder: any PortBinder

  public init(binder: any PortBinder) {
    self.binder = binder
  }

  /// The result of probing one port.
  public struct Result: Hashable, Sendable {
    public var port: UInt16
    public var proto: TransportProtocol
    /// Each address probed with the bind a server would do (TCP: SO_REUSEADDR on).
    public var outcomes: [IPAddress: BindOutcome]
    /// For TCP: whether a plain bind (no SO_REUSEADDR) works on every address too; false
    /// while TIME_WAIT sockets linger.
    public var plainBindable: Bool

    /// True when every probed address that exists on this machine is bindable.
    public var isBindable: Bool {
      !outcomes.isEmpty
        && outcomes.values.allSatisfy { $0 == .bindable || $0 == .familyUnsupported || $0 == .addressUnavailable }
        && outcomes.values.contains(.bindable)
    }

    /// True when a bind was refused for lack of privilege (so the probe proves nothing).
    public var isPrivilegeDenied: Bool { outcomes.values.contains(.permissionDenied) }
  }

  /// Probes `port` on both wildcard addresses (each family alone) and on `addresses`; or,
  /// with `only`, on exactly those addresses.
  public func probe(port: UInt16, proto: TransportProtocol, addresses: [IPAddress] = [], only: [IPAddress]? = nil)
    -> Result
  {
    var outcomes: [IPAddress: BindOutcome] = [:]
    var plain = true
    for address in only ?? ([IPAddress.anyV4, .anyV6] + addresses) where outcomes[address] == nil {
      let endpoint = Endpoint(address: address, port: port)
      let outcome = binder.tryBind(endpoint, proto: proto, reuseAddress: proto == .tcp)
      outcomes[address] = outcome
      if proto == .tcp, outcome == .bindable,
        binder.tryBind(endpoint, proto: proto, reuseAddress: false) != .bindable
      {
        plain = false
      }
    }
    return Result(port: port, proto: proto, outcomes: outcomes, plainBindable: plain)
  }
}
