/// The platform seam: every way portctl sees the system goes through this.
public protocol SystemSource: Sendable {
  /// Reads the sockets matching `query`, their holders and those holders' details.
  func snapshot(for query: SocketQuery) async throws(PortKitError) -> SystemSnapshot
  /// The ports the system sets aside for `proto` (excluded, reserved and ephemeral ranges).
  func reservations(for proto: TransportProtocol) async -> PortReservations
  /// Which ports this process may bind, where the platform restricts it.
  func bindPrivileges() async -> BindPrivileges
  /// The ancestors of `pid`, parent first, up to and including pid 1 where visible.
  func ancestry(of pid: PID) async -> [ProcessRecord]
  /// The environment of `pid`, where readable (it names tmux panes, screen sessions,
  /// supervisord programs and pm2 apps).
  func environment(of pid: PID) async -> [String: String]?
  /// The children of `pid` (at most `limit`), where visible: a server's workers.
  func children(of pid: PID, limit: Int) async -> [ProcessRecord]
  /// The contents of a small regular file as process `pid` names it (a relative `path` from
  /// its working directory), at most `limit` bytes: the script a shell runs. `nil` when it
  /// cannot be read, is not a regular file, or is larger than `limit`.
  func smallFile(_ path: String, of pid: PID, limit: Int) async -> [UInt8]?
  /// The working directory of `pid`, where readable: what a listing read without it needs
  /// to find the process's project.
  func workingDirectory(of pid: PID) async -> String?
  /// The working directories of `pids`, where readable, in one go where the backend can.
  func workingDirectories(of pids: [PID]) async -> [PID: String]
  /// The sockets `query` matches, without their holders: the cheap read a watch polls
  /// with. `nil` where the backend has no read cheaper than ``snapshot(for:)``.
  func socketsOnly(for query: SocketQuery) async throws(PortKitError) -> [SocketEntry]?
  /// Checks that the holders in `references` still hold their sockets (a backend may check
  /// one link per process: a process's descriptor to a socket), and reads their children (a fork shares the sockets): the
  /// answer is the same as long as the holders stay the same. `previous`, the last answer
  /// for the same references, lets the backend skip reading children when it can tell that
  /// no process was created since. `nil` when a link is gone or the backend cannot tell
  /// cheaply.
  func holderCheck(_ references: SocketHolders, previous: HolderCheck?) async -> HolderCheck?
}

/// What ``SystemSource/holderCheck(_:previous:)`` saw: the holders' children, by holder.
public struct HolderCheck: Hashable, Sendable {
  /// Each holder's children, sorted.
  public var children: [PID: [PID]]
  /// The last pid the system handed out when the children were read (Linux: the last
  /// field of `/proc/loadavg`), where known: while it stays, no process was created.
  public var lastPID: PID?

  /// A check that found these children.
  public init(children: [PID: [PID]], lastPID: PID? = nil) {
    self.children = children
    self.lastPID = lastPID
  }
}

extension SystemSource {
  /// None known.
  public func reservations(for proto: TransportProtocol) async -> PortReservations {
    PortReservations(proto: proto)
  }

  /// Not known.
  public func ancestry(of pid: PID) async -> [ProcessRecord] { [] }

  /// Not known.
  public func environment(of pid: PID) async -> [String: String]? { nil }

  /// Not known.
  public func children(of pid: PID, limit: Int) async -> [ProcessRecord] { [] }

  /// Not known.
  public func workingDirectory(of pid: PID) async -> String? { nil }

  /// Each one's ``workingDirectory(of:)``.
  public func workingDirectories(of pids: [PID]) async -> [PID: String] {
    var found: [PID: String] = [:]
    for pid in pids {
      if let directory = await workingDirectory(of: pid) { found[pid] = directory }
    }
    return found
  }

  /// No cheaper read than a snapshot.
  public func socketsOnly(for query: SocketQuery) async throws(PortKitError) -> [SocketEntry]? { nil }

  /// Cannot tell cheaply.
  public func holderCheck(_ references: SocketHolders, previous: HolderCheck?) async -> HolderCheck? { nil }

  /// Not read.
  public func smallFile(_ path: String, of pid: PID, limit: Int) async -> [UInt8]? { nil }

  /// No restriction known.
  public func bindPrivileges() async -> BindPrivileges {
    BindPrivileges(unprivilegedPortStart: nil, mayBindPrivileged: true, reason: nil)
  }
}

/// Privileged ports and whether this process may bind them.
public struct BindPrivileges: Hashable, Sendable {
  /// Ports below this need privilege (Linux `net.ipv4.ip_unprivileged_port_start`, 1024 by
  /// default); `nil` where nothing is privileged.
  public var unprivilegedPortStart: UInt16?
  /// Root, or CAP_NET_BIND_SERVICE in the effective capabilities.
  public var mayBindPrivileged: Bool
  /// Why it may (`root`, `CAP_NET_BIND_SERVICE`), when it may.
  public var reason: String?

  /// Privileges as read from the system.
  public init(unprivilegedPortStart: UInt16?, mayBindPrivileged: Bool, reason: String?) {
    self.unprivilegedPortStart = unprivilegedPortStart
    self.mayBindPrivileged = mayBindPrivileged
    self.reason = reason
  }

  /// True when `port` needs privilege this process lacks.
  public func blocks(_ port: UInt16) -> Bool {
    guard let start = unprivilegedPortStart else { return false }
    return port < start && !mayBindPrivileged
  }

  /// True when `port` is privileged at all.
  public func isPrivileged(_ port: UInt16) -> Bool {
    unprivilegedPortStart.map { port < $0 } ?? false
  }
}
