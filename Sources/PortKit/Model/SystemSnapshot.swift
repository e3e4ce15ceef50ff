/// One process's reference to a socket: which descriptors of `pid` point at it.
public struct SocketReference: Hashable, Sendable {
  /// The process.
  public var pid: PID
  /// Its descriptors that point at the socket.
  public var fds: [Int32]

  /// A reference from `pid` through `fds`.
  public init(pid: PID, fds: [Int32]) {
    self.pid = pid
    self.fds = fds
  }
}

/// Everything a backend saw, in one value: sockets, who references them, and the
/// processes involved. Reports are pure functions of a snapshot.
public struct SystemSnapshot: Sendable {
  /// Sockets, already narrowed to the query where the backend could.
  public var sockets: [SocketEntry]
  /// Socket id → the processes that hold it.
  public var references: SocketHolders
  /// Details of every process in `references`, and of their ancestors where read.
  public var processes: [PID: ProcessRecord]
  /// Processes that exist but whose descriptors could not be read (another user's, while
  /// not root): pid → uid when known. Their sockets show up with a hidden owner.
  public var uninspectable: [PID: UInt32?]
  /// The effective uid portctl ran with.
  public var effectiveUID: UInt32
  /// When the snapshot was taken, seconds since the Unix epoch.
  public var takenAt: Double
  /// Names for uids seen in the sockets, for hidden owners.
  public var userNames: [UInt32: String]

  /// A snapshot of `sockets` and what holds them.
  public init(
    sockets: [SocketEntry], references: SocketHolders = SocketHolders(), processes: [PID: ProcessRecord] = [:],
    uninspectable: [PID: UInt32?] = [:], effectiveUID: UInt32,
    takenAt: Double, userNames: [UInt32: String] = [:]
  ) {
    self.sockets = sockets
    self.references = references
    self.processes = processes
    self.uninspectable = uninspectable
    self.effectiveUID = effectiveUID
    self.takenAt = takenAt
    self.userNames = userNames
  }
}

/// What to look for.
public struct SocketQuery: Hashable, Sendable {
  /// The asked ports; `nil` for every port (`list`).
  public var specs: [PortSpec]?
  /// Protocols to consider.
  public var protocols: Set<TransportProtocol>
  /// Listeners only (TCP LISTEN, bound UDP), or every socket including connections and
  /// TIME_WAIT / CLOSE_WAIT.
  public var listenersOnly: Bool
  /// How much to read about each holder.
  public var detail: Detail

  /// `full`: everything (executable, working directory, control group, parents); `summary`:
  /// what a listing shows (name, command line, user, start time, and the working directory
  /// its PROJECT column is found from), for many holders at once.
  public enum Detail: Hashable, Sendable {
    case full, summary
  }

  /// A query; with no argument, every listener of both protocols.
  public init(
    specs: [PortSpec]? = nil, protocols: Set<TransportProtocol> = [.tcp, .udp], listenersOnly: Bool = true,
    detail: Detail = .full
  ) {
    self.specs = specs
    self.protocols = protocols
    self.listenersOnly = listenersOnly
    self.detail = detail
  }

  /// True when the socket is wanted.
  public func matches(_ socket: SocketEntry) -> Bool {
    guard protocols.contains(socket.proto) else { return false }
    if listenersOnly, !socket.isListener { return false }
    guard let specs else { return true }
    return specs.contains { $0.matches(socket) }
  }

  /// The port ranges some spec of `proto` asks for, merged and sorted; `nil` when every
  /// port is wanted (no specs), for backends that can narrow by port at the source.
  public func portRanges(for proto: TransportProtocol) -> [ClosedRange<UInt16>]? {
    guard let specs else { return nil }
    let ranges = specs.filter { $0.proto == nil || $0.proto == proto }.map(\.ports).sorted {
      $0.lowerBound < $1.lowerBound
    }
    var merged: [ClosedRange<UInt16>] = []
    for range in ranges {
      if let last = merged.last, Int(range.lowerBound) <= Int(last.upperBound) + 1 {
        merged[merged.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
      } else {
        merged.append(range)
      }
    }
    return merged
  }

  /// The protocols that some spec can match, for backends that read one table per protocol.
  public var wantedProtocols: Set<TransportProtocol> {
    guard let specs else { return protocols }
    return protocols.filter { proto in specs.contains { $0.proto == nil || $0.proto == proto } }
  }
}
