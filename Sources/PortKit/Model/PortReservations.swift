/// A range of ports set aside by the system.
public struct PortRange: Hashable, Sendable {
  /// The ports, inclusive.
  public var ports: ClosedRange<UInt16>
  /// Windows: an exclusion an administrator added (`netsh … add excludedportrange`), marked
  /// `*` by netsh; the others come from Hyper-V, WinNAT, WSL2 or Docker.
  public var administered: Bool

  /// A range of `ports`; `administered` when an administrator set it aside.
  public init(ports: ClosedRange<UInt16>, administered: Bool = false) {
    self.ports = ports
    self.administered = administered
  }
}

/// Ports the system reserves, for one protocol.
public struct PortReservations: Hashable, Sendable {
  /// The protocol these ranges are for.
  public var proto: TransportProtocol
  /// Ranges no program may bind (Windows excluded port ranges: binding fails with
  /// WSAEACCES 10013 even though nothing shows as listening).
  public var excluded: [PortRange]
  /// Ranges kept for explicit binds only (Linux `ip_local_reserved_ports`): never handed
  /// out as ephemeral ports, but a server may bind them.
  public var reservedForExplicitBinds: [PortRange]
  /// The ephemeral range the system hands out to outgoing connections and port-0 binds.
  public var ephemeral: ClosedRange<UInt16>?

  /// The ranges set aside for `proto`.
  public init(
    proto: TransportProtocol, excluded: [PortRange] = [], reservedForExplicitBinds: [PortRange] = [],
    ephemeral: ClosedRange<UInt16>? = nil
  ) {
    self.proto = proto
    self.excluded = excluded
    self.reservedForExplicitBinds = reservedForExplicitBinds
    self.ephemeral = ephemeral
  }

  /// The excluded range holding `port`, if any.
  public func exclusion(containing port: UInt16) -> PortRange? {
    excluded.first { $0.ports.contains(port) }
  }

  /// What to do when a port is excluded (WSAEACCES 10013).
  public static let exclusionFixes = [
    "choose a port outside the excluded ranges",
    "restart WinNAT to let it pick new ranges: net stop winnat, then net start winnat (elevated)",
    "move the dynamic range away from your ports: netsh int ipv4 set dynamicport tcp start=49152 num=16384",
    "reserve your port before Hyper-V takes it: netsh int ipv4 add excludedportrange protocol=tcp startport=PORT numberofports=1",
  ]
}

/// An asked port spec that overlaps an excluded range: binding there fails even though
/// nothing listens.
public struct ExcludedPortHit: Hashable, Sendable {
  /// The protocol of the excluded range.
  public var proto: TransportProtocol
  /// The asked spec that falls in it.
  public var spec: PortSpec
  /// The excluded range.
  public var range: PortRange

  /// Every spec of `proto` (or of both protocols) overlapping an excluded range.
  public static func hits(_ specs: [PortSpec], in reservations: PortReservations) -> [ExcludedPortHit] {
    var hits: [ExcludedPortHit] = []
    for range in reservations.excluded {
      for spec in specs
      where (spec.proto == nil || spec.proto == reservations.proto) && spec.ports.overlaps(range.ports) {
        hits.append(ExcludedPortHit(proto: reservations.proto, spec: spec, range: range))
      }
    }
    return hits
  }

  /// What it means and the known fixes, in one sentence.
  public var advice: String {
    let bounds =
      range.ports.count == 1 ? "\(range.ports.lowerBound)" : "\(range.ports.lowerBound)-\(range.ports.upperBound)"
    let who = range.administered ? "an administrator excluded" : "Windows excluded (Hyper-V, WinNAT, WSL2 or Docker)"
    return
      "\(proto.rawValue) \(spec.text) is inside the range \(bounds) that \(who): a bind there fails with WSAEACCES 10013 (\"forbidden by its access permissions\") although nothing listens. Fixes: \(PortReservations.exclusionFixes.joined(separator: "; "))"
  }
}
