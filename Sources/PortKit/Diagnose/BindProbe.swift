/// What a real bind attempt said.
public enum BindOutcome: Hashable, Sendable {
  case bindable
  /// EADDRINUSE.
  case inUse
  /// EACCES: a privileged port without the privilege.
  case permissionDenied
  /// EADDRNOTAVAIL: the address is not on this machine.
  case addressUnavailable
  /// The address family does not apply here: the host has no IPv6 (EAFNOSUPPORT, IPv6
  /// disabled, or no IPv6 address at all), so `[::]` is not applicable rather than busy.
  case familyUnsupported
  /// Any other errno.
  case failed(errno: Int32)
}

/// How this host binds IPv6 wildcards: whether IPv6 exists at all, and whether `[::]` is
/// dual-stack by default (Linux `net.ipv6.bindv6only = 0`, the usual setting: a `[::]` bind
/// also takes every IPv4 address, which is what Node, Python and Java servers do).
public struct IPv6Support: Hashable, Sendable {
  /// IPv6 sockets can be made and the host has at least one IPv6 address.
  public var available: Bool
  /// A `[::]` bind is IPv6-only unless the program clears IPV6_V6ONLY (`bindv6only = 1`).
  public var v6OnlyByDefault: Bool

  /// IPv6 `available` or not, `[::]` IPv6-only by default or not.
  public init(available: Bool, v6OnlyByDefault: Bool) {
    self.available = available
    self.v6OnlyByDefault = v6OnlyByDefault
  }

  /// IPv6 present, `[::]` dual-stack: Linux's and macOS's defaults.
  public static let dualStack = IPv6Support(available: true, v6OnlyByDefault: false)
}

/// Proves with real binds whether a server could take a port now.
public struct BindProbe: Sendable {
  /// Where the binds are made.
  public var binder: any PortBinder

  /// A probe binding through `binder`.
  public init(binder: any PortBinder) {
    self.binder = binder
  }

  /// The result of probing one port.
  public struct Result: Hashable, Sendable {
    /// The port probed.
    public var port: UInt16
    /// The protocol probed.
    public var proto: TransportProtocol
    /// Each address probed with the bind a server would do (TCP: SO_REUSEADDR on; `[::]`
    /// dual-stack where that is the host's default).
    public var outcomes: [IPAddress: BindOutcome]
    /// For TCP: whether a plain bind (no SO_REUSEADDR) works on every address too; false
    /// while TIME_WAIT sockets linger.
    public var plainBindable: Bool
    /// `[::]` was bound dual-stack (IPV6_V6ONLY off), as servers do by default here.
    public var dualStack: Bool = false
    /// When the dual-stack `[::]` bind failed as in use: whether an IPv6-only bind (a server
    /// that sets IPV6_V6ONLY) works; `nil` when not tried.
    public var v6OnlyBindable: Bool? = nil

    /// A result as a probe gives it.
    public init(
      port: UInt16, proto: TransportProtocol, outcomes: [IPAddress: BindOutcome], plainBindable: Bool,
      dualStack: Bool = false, v6OnlyBindable: Bool? = nil
    ) {
      self.port = port
      self.proto = proto
      self.outcomes = outcomes
      self.plainBindable = plainBindable
      self.dualStack = dualStack
      self.v6OnlyBindable = v6OnlyBindable
    }

    /// True when every probed address that exists on this machine is bindable.
    public var isBindable: Bool {
      !outcomes.isEmpty
        && outcomes.values.allSatisfy { $0 == .bindable || $0 == .familyUnsupported || $0 == .addressUnavailable }
        && outcomes.values.contains(.bindable)
    }

    /// True when a bind was refused for lack of privilege (so the probe proves nothing).
    public var isPrivilegeDenied: Bool { outcomes.values.contains(.permissionDenied) }
  }

  /// Probes `port` on both wildcard addresses and on `addresses`; or, with `only`, on
  /// exactly those addresses. `[::]` is bound the way servers bind it here (dual-stack
  /// unless `bindv6only` says otherwise), and is "not applicable" (`familyUnsupported`) on
  /// a host without IPv6.
  public func probe(port: UInt16, proto: TransportProtocol, addresses: [IPAddress] = [], only: [IPAddress]? = nil)
    -> Result
  {
    let ipv6 = binder.ipv6
    var outcomes: [IPAddress: BindOutcome] = [:]
    var plain = true
    var v6OnlyBindable: Bool?
    for address in only ?? ([IPAddress.anyV4, .anyV6] + addresses) where outcomes[address] == nil {
      if address.family == .ipv6, address.ipv4Equivalent == nil, !ipv6.available {
        outcomes[address] = .familyUnsupported
        continue
      }
      let endpoint = Endpoint(address: address, port: port)
      let v6Only = address == .anyV6 ? ipv6.v6OnlyByDefault : address.ipv4Equivalent == nil
      let outcome = binder.tryBind(endpoint, proto: proto, reuseAddress: proto == .tcp, v6Only: v6Only)
      outcomes[address] = outcome
      if proto == .tcp, outcome == .bindable,
        binder.tryBind(endpoint, proto: proto, reuseAddress: false, v6Only: v6Only) != .bindable
      {
        plain = false
      }
      if address == .anyV6, !v6Only, outcome == .inUse {
        v6OnlyBindable =
          binder.tryBind(endpoint, proto: proto, reuseAddress: proto == .tcp, v6Only: true) == .bindable
      }
    }
    let dualStack = outcomes[.anyV6] != nil && ipv6.available && !ipv6.v6OnlyByDefault
    return Result(
      port: port, proto: proto, outcomes: outcomes, plainBindable: plain, dualStack: dualStack,
      v6OnlyBindable: v6OnlyBindable)
  }
}
