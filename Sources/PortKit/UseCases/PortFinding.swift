/// Free ports a server can bind right now: `find` as one library call.
///
/// ```swift
/// let found = try await PortFinding(system: try System.make()).find(.init(count: 1))
/// if let port = found.ports.first { print("listening on \(port)") }
/// ```
public struct PortFinding: Sendable {
  /// The machine searched.
  public var system: System

  /// A finder on `system`.
  public init(system: System) {
    self.system = system
  }

  /// What to look for. Unset fields take `find`'s defaults.
  public struct Request: Hashable, Sendable {
    /// The first port to try; without `range`, 3000.
    public var from: UInt16?
    /// Search only here (inclusive), ephemeral and well-known ports included; without it,
    /// every port this process may bind, passing over ports a server should not take.
    public var range: ClosedRange<UInt16>?
    /// How many ports to find.
    public var count: Int
    /// TCP or UDP.
    public var proto: TransportProtocol
    /// Only this address; `nil`: 0.0.0.0 and [::] both.
    public var host: IPAddress?
    /// Try candidates in random order.
    public var random: Bool
    /// Start at the port this key maps to (a fixed hash of it), instead of `from`: the
    /// same key gives the same port every time while that port is free, and the next free
    /// one after it otherwise. Takes precedence over `random`.
    public var stableKey: String?

    /// A request; every argument may be left out.
    public init(
      from: UInt16? = nil, range: ClosedRange<UInt16>? = nil, count: Int = 1, proto: TransportProtocol = .tcp,
      host: IPAddress? = nil, random: Bool = false, stableKey: String? = nil
    ) {
      self.stableKey = stableKey
      self.from = from
      self.range = range
      self.count = count
      self.proto = proto
      self.host = host
      self.random = random
    }
  }

  /// The ports found and how the search went.
  public struct Result: Sendable {
    /// The search as it was run, defaults filled in.
    public var request: PortFinder.Request
    /// The free ports, in the order they were found (at most `request.count`).
    public var ports: [UInt16]
    /// How many ports were passed over, for each reason.
    public var skipped: [PortFinder.Skip: Int]
    /// The asked host is an IPv6 address and this host has no IPv6: nothing was searched.
    public var hostNotApplicable: Bool

    /// As many ports were found as asked for.
    public var isComplete: Bool { ports.count == request.count }
  }

  /// Finds up to `request.count` ports that a real bind takes now on every address a
  /// server would use. Throws when this platform cannot probe binds.
  public func find(_ request: Request) async throws(PortKitError) -> Result {
    guard let binder = system.binder else {
      throw PortKitError(.unsupportedPlatform, "This platform cannot probe binds through portctl yet.")
    }
    let privileges = await system.source.bindPrivileges()
    let reservations = await system.source.reservations(for: request.proto)
    let lowest = max(1, privileges.mayBindPrivileged ? 1024 : (privileges.unprivilegedPortStart ?? 1024))
    let resolved = PortFinder.Request(
      range: request.range ?? UInt16(lowest)...65535,
      from: request.range == nil && request.stableKey == nil ? (request.from ?? 3000) : request.from,
      count: request.count, proto: request.proto, host: request.host, random: request.random,
      explicitRange: request.range != nil, stableKey: request.stableKey)
    let finder = PortFinder(probe: BindProbe(binder: binder), reservations: reservations, privileges: privileges)
    let (ports, skipped) = finder.find(resolved)
    return Result(
      request: resolved, ports: ports, skipped: skipped, hostNotApplicable: finder.hostNotApplicable(resolved))
  }
}
