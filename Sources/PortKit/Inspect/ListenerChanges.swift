/// One listening address as `watch` follows it: every listening socket bound on the same
/// protocol, address and port (several with `SO_REUSEPORT`), with the union of their holders.
///
/// The address is the identity: a server that closes its socket and opens a new one on the
/// same address within one poll (a respawn, a hot restart) is the same listener with other
/// holders, not a close and an open. `0.0.0.0:3000` and `[::]:3000` are two listeners.
public struct WatchedListener: Hashable, Sendable {
  /// What identifies a listener: protocol and local endpoint.
  public struct Key: Hashable, Sendable, Comparable {
    /// TCP or UDP.
    public var proto: TransportProtocol
    /// The local address and port.
    public var local: Endpoint

    /// The listener on `local` for `proto`.
    public init(proto: TransportProtocol, local: Endpoint) {
      self.proto = proto
      self.local = local
    }

    /// By port, then protocol, then address (the order `list` prints).
    public static func < (lhs: Self, rhs: Self) -> Bool {
      (lhs.local.port, lhs.proto, lhs.local.address) < (rhs.local.port, rhs.proto, rhs.local.address)
    }
  }

  /// A process holding the listener: who it is, as far as `watch` reads it.
  public struct Holder: Hashable, Sendable {
    /// The process.
    public var pid: PID
    /// When it started, seconds since the Unix epoch; `nil` when unknown.
    public var startTime: Double?
    /// Its command name.
    public var name: String
    /// Its command line.
    public var commandLine: [String]
    /// Its user's name, or `nil` when unknown.
    public var user: String?
    /// Its uid, or `nil` when unknown.
    public var uid: UInt32?

    /// A holder with these details.
    public init(
      pid: PID, startTime: Double? = nil, name: String, commandLine: [String] = [], user: String? = nil,
      uid: UInt32? = nil
    ) {
      self.pid = pid
      self.startTime = startTime
      self.name = name
      self.commandLine = commandLine
      self.user = user
      self.uid = uid
    }

    /// The holder read from `record`.
    public init(_ record: ProcessRecord) {
      self.init(
        pid: record.pid, startTime: record.startTime, name: record.name, commandLine: record.commandLine,
        user: record.user, uid: record.uid)
    }

    /// What tells two holders apart: the pid and the start time (a reused pid is another
    /// process). Name and command line are not compared: a process that renames itself is
    /// the same holder.
    public var identity: Identity { Identity(pid: pid, startTime: startTime) }

    /// A pid and its start time.
    public struct Identity: Hashable, Sendable {
      /// The process.
      public var pid: PID
      /// When it started; `nil` when unknown.
      public var startTime: Double?
    }
  }

  /// The socket's owner when no holder can be seen: its user, as the kernel records it.
  public struct HiddenHolder: Hashable, Sendable {
    /// The socket's uid.
    public var uid: UInt32?
    /// That uid's name.
    public var user: String?

    /// A hidden owner of `uid` (`user`).
    public init(uid: UInt32?, user: String?) {
      self.uid = uid
      self.user = user
    }
  }

  /// Protocol and local endpoint.
  public var key: Key
  /// Every visible process holding one of its sockets, by pid.
  public var holders: [Holder]
  /// Set when a socket's holders cannot be seen (another user's process without root).
  public var hidden: HiddenHolder?
  /// True when a socket is held by no process at all (the kernel keeps it).
  public var kernel: Bool
  /// How many sockets listen on the address (more than one with `SO_REUSEPORT`).
  public var sockets: Int

  /// A listener on `key` held by `holders`.
  public init(key: Key, holders: [Holder], hidden: HiddenHolder? = nil, kernel: Bool = false, sockets: Int = 1) {
    self.key = key
    self.holders = holders
    self.hidden = hidden
    self.kernel = kernel
    self.sockets = sockets
  }

  /// The holders' identities, a hidden owner's uid and a kernel-held socket: what a change
  /// of holders is decided on.
  public var owners: Owners {
    Owners(holders: Set(holders.map(\.identity)), hiddenUID: hidden.map { $0.uid }, kernel: kernel)
  }

  /// What a change of holders is decided on.
  public struct Owners: Hashable, Sendable {
    /// Every visible holder's pid and start time.
    public var holders: Set<Holder.Identity>
    /// A hidden owner's uid (`.some(nil)` when hidden with an unknown uid).
    public var hiddenUID: UInt32??
    /// Held by the kernel.
    public var kernel: Bool
  }
}

/// What `watch` reports: a listener that appeared, changed holders or closed, and the two
/// markers of the starting state.
public struct PortWatchEvent: Hashable, Sendable {
  /// What happened.
  public enum Kind: String, Hashable, Sendable, CaseIterable {
    /// Listening when the watch started (the starting state; `time` is the first poll's).
    case present
    /// The starting state is complete: every later event is a change.
    case ready
    /// A listener appeared since the previous poll.
    case listening
    /// A listener's holders changed since the previous poll: another process, a pid
    /// reused by another process, holders added or gone (a respawn, a hot restart).
    case changed
    /// A listener is gone since the previous poll.
    case closed
  }

  /// What happened.
  public var kind: Kind
  /// When the poll that saw it read the socket table, seconds since the Unix epoch.
  public var time: Double
  /// The listener as it is now; for `closed`, as it was last seen; `nil` for `ready`.
  public var listener: WatchedListener?
  /// For `changed`, the listener as it was at the previous poll.
  public var previous: WatchedListener?

  /// An event of `kind` at `time`.
  public init(kind: Kind, time: Double, listener: WatchedListener? = nil, previous: WatchedListener? = nil) {
    self.kind = kind
    self.time = time
    self.listener = listener
    self.previous = previous
  }
}

/// The pure part of `watch`: listeners from a snapshot, and the changes between two polls.
public enum ListenerChanges {
  /// The listeners in `snapshot` that `query` matches, one per protocol and local endpoint,
  /// by key. Sockets that hold no port (closing states) are left out.
  public static func listeners(in snapshot: SystemSnapshot, query: SocketQuery) -> [WatchedListener] {
    var byKey: [WatchedListener.Key: WatchedListener] = [:]
    for report in SocketListing(snapshot: snapshot, query: query) where report.socket.isListener {
      let key = WatchedListener.Key(proto: report.socket.proto, local: report.socket.local)
      var listener = byKey[key] ?? WatchedListener(key: key, holders: [], sockets: 0)
      listener.sockets += 1
      switch report.owner {
      case .processes(let holders):
        for holder in holders where !listener.holders.contains(where: { $0.pid == holder.process.pid }) {
          listener.holders.append(WatchedListener.Holder(holder.process))
        }
      case .hidden(let hidden):
        if listener.hidden == nil { listener.hidden = WatchedListener.HiddenHolder(uid: hidden.uid, user: hidden.user) }
      case .kernel:
        listener.kernel = true
      case .none:
        listener.sockets -= 1
        continue
      }
      byKey[key] = listener
    }
    return byKey.values.filter { $0.sockets > 0 }.map { listener in
      var sorted = listener
      sorted.holders.sort { $0.pid < $1.pid }
      return sorted
    }.sorted { $0.key < $1.key }
  }

  /// The changes from `old` to `new` (each one listener per key), seen at `time`, in key
  /// order: `listening` for a key only in `new`, `closed` for one only in `old`, `changed`
  /// where the owners differ (``WatchedListener/owners``). Details that change while the
  /// holders stay (a command line rewritten, another socket added with `SO_REUSEPORT` by
  /// the same process) are no change.
  public static func changes(from old: [WatchedListener], to new: [WatchedListener], at time: Double)
    -> [PortWatchEvent]
  {
    var before: [WatchedListener.Key: WatchedListener] = [:]
    for listener in old { before[listener.key] = listener }
    var after: [WatchedListener.Key: WatchedListener] = [:]
    for listener in new { after[listener.key] = listener }
    var events: [PortWatchEvent] = []
    for key in Set(before.keys).union(after.keys).sorted() {
      switch (before[key], after[key]) {
      case (nil, let now?):
        events.append(PortWatchEvent(kind: .listening, time: time, listener: now))
      case (let then?, nil):
        events.append(PortWatchEvent(kind: .closed, time: time, listener: then))
      case (let then?, let now?) where then.owners != now.owners:
        events.append(PortWatchEvent(kind: .changed, time: time, listener: now, previous: then))
      default:
        break
      }
    }
    return events
  }

  /// The starting state: a `present` event for each listener of the first poll, then `ready`.
  public static func start(with listeners: [WatchedListener], at time: Double) -> [PortWatchEvent] {
    listeners.sorted { $0.key < $1.key }.map { PortWatchEvent(kind: .present, time: time, listener: $0) }
      + [PortWatchEvent(kind: .ready, time: time)]
  }
}
