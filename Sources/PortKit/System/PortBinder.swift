/// The platform seam for bind probes.
public protocol PortBinder: Sendable {
  /// Opens a socket, binds it to `endpoint` and closes it at once. `reuseAddress` sets
  /// SO_REUSEADDR first, as most servers do (it lets TCP bind past TIME_WAIT sockets). An
  /// IPv6 address is bound IPv6-only (each family alone).
  func tryBind(_ endpoint: Endpoint, proto: TransportProtocol, reuseAddress: Bool) -> BindOutcome
  /// The same, with IPV6_V6ONLY set (`v6Only`) or cleared (dual-stack) on IPv6 sockets.
  func tryBind(_ endpoint: Endpoint, proto: TransportProtocol, reuseAddress: Bool, v6Only: Bool) -> BindOutcome
  /// Whether this host has IPv6 and how it binds `[::]` by default.
  var ipv6: IPv6Support { get }
}

extension PortBinder {
  /// Binders that know no dual-stack bind answer as for an IPv6-only one.
  public func tryBind(_ endpoint: Endpoint, proto: TransportProtocol, reuseAddress: Bool, v6Only: Bool)
    -> BindOutcome
  {
    tryBind(endpoint, proto: proto, reuseAddress: reuseAddress)
  }

  /// IPv6 present and `[::]` dual-stack, unless the binder says otherwise.
  public var ipv6: IPv6Support { .dualStack }
}
