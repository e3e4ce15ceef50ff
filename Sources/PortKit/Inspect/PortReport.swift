/// Who holds a socket.
public enum SocketOwner: Hashable, Sendable {
  /// The processes that hold it, parents before the children that inherited it.
  case processes([HolderProcess])
  /// The socket is held, but its processes cannot be seen from here.
  case hidden(HiddenOwner)
  /// A listening socket that no process holds: the kernel keeps it (for example nfsd).
  case kernel
  /// No process holds it and none can: TIME_WAIT and other closing states.
  case none

  /// True when the socket keeps its port taken.
  public var holdsPort: Bool {
    switch self {
    case .processes, .hidden, .kernel: true
    case .none: false
    }
  }

  /// The visible holders, if any.
  public var holders: [HolderProcess] {
    if case .processes(let holders) = self { return holders }
    return []
  }
}

/// A held socket whose processes portctl could not see.
public struct HiddenOwner: Hashable, Sendable {
  /// Why the owner is hidden.
  public enum Reason: String, Hashable, Sendable, Codable {
    /// Another user's process, while portctl runs without root: `sudo` shows it.
    case needsPrivilege = "needs-privilege"
    /// Root, but some processes of the socket's user refuse inspection (no CAP_SYS_PTRACE,
    /// a non-dumpable process, an LSM policy): one of them likely holds it.
    case notInspectable = "not-inspectable"
    /// Not visible even with the current privileges: another pid namespace (a container),
    /// or `/proc` mounted with `hidepid`.
    case notVisible = "not-visible"
  }

  /// How many candidate owners are named at most.
  public static let candidateLimit = 8

  /// The uid the kernel records for the socket.
  public var uid: UInt32?
  /// The name of that uid, when known.
  public var user: String?
  /// Why the holder cannot be seen.
  public var reason: Reason
  /// Processes of that user that could not be inspected: one of them likely holds the
  /// socket (at most ``candidateLimit``; details as far as they are readable).
  public var candidates: [ProcessRecord]

  /// A hidden owner of user `uid` (named `user`), unseen for `reason`; `candidates` are that user's processes that could not be inspected.
  public init(uid: UInt32?, user: String?, reason: Reason, candidates: [ProcessRecord] = []) {
    self.uid = uid
    self.user = user
    self.reason = reason
    self.candidates = candidates
  }

  /// `root (uid 0)`, `uid 1234`, or `an unknown user`.
  public var ownerDescription: String {
    switch (user, uid) {
    case (let user?, let uid?): "\(user) (uid \(uid))"
    case (nil, let uid?): "uid \(uid)"
    default: "an unknown user"
    }
  }

  /// A sentence for a socket whose visible holders are not of the socket's user (see
  /// ``SocketReport/unseenHolders``): processes of that user may hold it too.
  public var alsoHeldAdvice: String {
    let named = candidates.map { "\($0.pid) (\($0.name))" }.joined(separator: ", ")
    let how =
      switch reason {
      case .needsPrivilege: "run with sudo to see them"
      case .notInspectable:
        "even as root portctl may not inspect \(candidates.count == 1 ? "process" : "processes") \(named)"
      case .notVisible: "they are not visible here"
      }
    return
      "the socket belongs to \(ownerDescription) but its visible holders do not: processes of \(user ?? uid.map { "uid \($0)" } ?? "that user") that portctl cannot see may hold it too (\(how)); ending only the visible ones would not free the port"
  }

  /// A sentence saying whose the socket is and how to see its process.
  public var advice: String {
    let named = candidates.map { "\($0.pid) (\($0.name))" }.joined(separator: ", ")
    switch reason {
    case .needsPrivilege:
      return "owner hidden: held by \(ownerDescription); run with sudo to see the process"
    case .notInspectable:
      let which = candidates.count == 1 ? "process \(named), which" : "processes \(named); one of them"
      return
        "owner hidden: held by \(ownerDescription); even as root portctl may not inspect \(which) likely holds it (missing CAP_SYS_PTRACE, or a protected process)"
    case .notVisible:
      return
        "owner hidden: held by \(ownerDescription), by a process not visible here (another PID namespace such as a container, or /proc mounted with hidepid)"
    }
  }
}

/// One socket and who holds it.
public struct SocketReport: Hashable, Sendable {
  /// The socket.
  public var socket: SocketEntry
  /// Who holds it.
  public var owner: SocketOwner
  /// Set when the socket's user (the uid the kernel records for it) is none of its visible
  /// holders' and some processes of that user could not be inspected: they may hold the
  /// socket too (a root nginx master behind workers that run as `nobody`, seen without
  /// root), so ending the visible holders would not free the port.
  public var unseenHolders: HiddenOwner?

  /// `socket` held by `owner`.
  public init(socket: SocketEntry, owner: SocketOwner, unseenHolders: HiddenOwner? = nil) {
    self.socket = socket
    self.owner = owner
    self.unseenHolders = unseenHolders
  }
}

/// The answer to `who` or `list`: the sockets matching a query, each with its holders.
public struct PortReport: Hashable, Sendable {
  /// The sockets, in port, protocol and address order.
  public var sockets: [SocketReport]
  /// When the snapshot was taken, seconds since the Unix epoch (for uptimes).
  public var takenAt: Double
  /// How many processes could not be inspected (another user's, while not root).
  public var uninspectableCount: Int
  /// The effective uid the snapshot was read with.
  public var effectiveUID: UInt32
  /// The parents of the holders, where they could be read (pid → record).
  public var parents: [PID: ProcessRecord]

  /// A report of `sockets`.
  public init(
    sockets: [SocketReport], takenAt: Double, uninspectableCount: Int = 0, effectiveUID: UInt32,
    parents: [PID: ProcessRecord] = [:]
  ) {
    self.sockets = sockets
    self.takenAt = takenAt
    self.uninspectableCount = uninspectableCount
    self.effectiveUID = effectiveUID
    self.parents = parents
  }

  /// True when at least one socket keeps its port taken.
  public var isHeld: Bool { sockets.contains { $0.owner.holdsPort } }

  /// True when some socket's owner is hidden, or may be in part (``SocketReport/unseenHolders``).
  public var hasPartlyHiddenOwners: Bool {
    sockets.contains { $0.unseenHolders != nil }
  }

  /// True when some socket's owner is hidden.
  public var hasHiddenOwners: Bool {
    sockets.contains { if case .hidden = $0.owner { true } else { false } }
  }
}
