/// Finds ports a server can bind right now on every address it would use, skipping the
/// ports that are a bad idea even when free: the ephemeral range (an outgoing connection may
/// take it), reserved and excluded ranges, ports browsers refuse, and well-known service ports.
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
    /// The range was asked for explicitly: honour it, ephemeral, browser-restricted and
    /// well-known ports included.
    public var explicitRange: Bool
    /// Start at the port this key maps to (``PortFinder/stableStart(for:_:)``) instead of
    /// `from`: the same key gives the same port while it is free.
    public var stableKey: String?

    /// A search of `range`.
    public init(
      range: ClosedRange<UInt16>, from: UInt16? = nil, count: Int = 1, proto: TransportProtocol = .tcp,
      host: IPAddress? = nil, random: Bool = false, explicitRange: Bool = false, stableKey: String? = nil
    ) {
      self.stableKey = stableKey
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
    /// Chrome or Firefox refuses to connect to it (``BrowserRestrictedPorts``).
    case browserRestricted = "browser-restricted"
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
    if BrowserRestrictedPorts.contains(port) { return .browserRestricted }
    if let ephemeral = reservations.ephemeral, ephemeral.contains(port) { return .ephemeral }
    if WellKnownPorts.isServicePort(port, proto: request.proto) { return .wellKnown }
    return nil
  }

  /// The candidates in the order they are tried: from `from` (or the stable key's port)
  /// upwards, wrapping within the range; or in random order.
  public func candidates(_ request: Request) -> [UInt16] {
    var ports = Array(request.range)
    let start = request.stableKey.map { stableStart(for: $0, request) } ?? request.from
    if request.random, request.stableKey == nil {
      ports.shuffle()
    } else if let from = start, request.range.contains(from) {
      let index = Int(from - request.range.lowerBound)
      ports = Array(ports[index...] + ports[..<index])
    }
    return ports
  }

  /// The port a stable search for `key` starts at: the FNV-1a hash of the key's UTF-8 bytes
  /// picks one of the range's ports that are candidates before any bind (not skipped for
  /// the ephemeral range, a reservation, a browser or a well-known service), so keys spread
  /// evenly over the ports worth having. The same on every run while the host's ranges are
  /// the same; `nil` when the range has no candidate at all.
  public func stableStart(for key: String, _ request: Request) -> UInt16? {
    let eligible = request.range.filter { skip($0, request) == nil }
    guard !eligible.isEmpty else { return nil }
    let hash = Self.fnv1a(Array(key.utf8))
    return eligible[Int(hash % UInt64(eligible.count))]
  }

  /// 64-bit FNV-1a: a fixed hash (Swift's `Hasher` is seeded anew in every process).
  static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
      hash ^= UInt64(byte)
      hash = hash &* 0x0000_0100_0000_01b3
    }
    return hash
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
