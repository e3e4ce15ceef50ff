/// Finds ports a server can bind right now on every address it would use, skipping the
/// ports that are a bad idea even when free: the ephemeral range (an outgoing connection may
/// take it), reserved and excluded ranges, and well-known service ports.
public struct PortFinder: Sendable {
  /// A search, every default already filled in (``PortFinding`` fills them).
  public struct Request: Hashable, Sendable {
    /// Where to look, inclusive.
    public var range: ClosedRange<UInt16>
    /// The first port to try (then upwards, wrapping within the range).
    public var from: UInt16?
    /// How many ports to find.
    public var count: Int
    /// TCP or UDP.
    public var proto: TransportProtocol
    /// Only this address; `nil`: 0.0.0.0 and [::] both.
    public var host: IPAddress?
    /// Try candidates in random order.
    public var random: Bool
    /// The range was asked for explicitly: honour it, ephemeral and well-known ports included.
    public var explicitRange: Bool

    /// A search of `range`.
    public init(
      range: ClosedRange<UInt16>, from: UInt16? = nil, count: Int = 1, proto: TransportProtocol = .tcp,
      host: IPAddress? = nil, random: Bool = false, explicitRange: Bool = false
    ) {
      self.range = range
      self.from = from
      self.count = count
      self.proto = proto
      self.host = host
      self.random = random
      self.explicitRange = explicitRange
    }
  }

  /// Why a port was passed over, for the `--json` report.
  public enum Skip: String, Hashable, Sendable {
    case ephemeral, reserved, excluded, wellKnown = "well-known", privileged, busy
  }

  /// Real binds.
  public var probe: BindProbe
  /// The ranges the system sets aside for the protocol.
  public var reservations: PortReservations
  /// Which ports this process may bind.
  public var privileges: BindPrivileges

  /// A finder binding through `probe`, passing over `reservations` and the ports `privileges` forbid.
  public init(probe: BindProbe, reservations: PortReservations, privileges: BindPrivileges) {
    self.probe = probe
    self.reservations = reservations
    self.privileges = privileges
  }

  /// Why `port` is not a candidate before any bind, or `nil` when it is one.
  public func skip(_ port: UInt16, _ request: Request) -> Skip? {
    if reservations.exclusion(containing: port) != nil { return .excluded }
    if privileges.blocks(port) { return .privileged }
    if request.explicitRange { return nil }
    if reservations.reservedForExplicitBinds.contains(where: { $0.ports.contains(port) }) { return .reserved }
    if let ephemeral = reservations.ephemeral, ephemeral.contains(port) { return .ephemeral }
    if WellKnownPorts.isServicePort(port, proto: request.proto) { return .wellKnown }
    return nil
  }

  /// The candidates in the order they are tried.
  public func candidates(_ request: Request) -> [UInt16] {
    var ports = Array(request.range)
    if request.random {
      ports.shuffle()
    } else if let from = request.from, request.range.contains(from) {
      let index = Int(from - request.range.lowerBound)
      ports = Array(ports[index...] + ports[..<index])
    }
    return ports
  }

  /// True when `request` asks for an IPv6 address on a host without IPv6: no port can be
  /// found there, and no port is busy either; the address does not apply.
  public func hostNotApplicable(_ request: Request) -> Bool {
    guard let host = request.host, host.family == .ipv6, host.ipv4Equivalent == nil else { return false }
    return !probe.binder.ipv6.available
  }

  /// Up to `request.count` ports that bind now on every address (a plain bind: no TIME_WAIT
  /// leftovers either), with the number of ports passed over for each reason.
  public func find(_ request: Request) -> (ports: [UInt16], skipped: [Skip: Int]) {
    if hostNotApplicable(request) { return ([], [:]) }
    var found: [UInt16] = []
    var skipped: [Skip: Int] = [:]
    let addresses = request.host.map { [$0] } ?? [.anyV4, .anyV6]
    for port in candidates(request) where found.count < request.count {
      if let reason = skip(port, request) {
        skipped[reason, default: 0] += 1
        continue
      }
      let result = probe.probe(port: port, proto: request.proto, only: addresses)
      // Without --host, `[::]` counts only where the host has IPv6 ("not applicable" is not busy).
      let usable = result.outcomes.allSatisfy { address, outcome in
        outcome == .bindable
          || (request.host == nil && address.family == .ipv6
            && (outcome == .addressUnavailable || outcome == .familyUnsupported))
      }
      if usable, result.plainBindable, result.outcomes.values.contains(.bindable) {
        found.append(port)
      } else {
        skipped[.busy, default: 0] += 1
      }
    }
    return (found, skipped)
  }
}
