/// A process id.
public typealias PID = Int32

/// What portctl knows about one process.
///
/// The fields live in one shared, copy-on-write box: a record is copied into every socket
/// its process holds (thousands of times for a busy server), and a copy is one reference.
public struct ProcessRecord: Hashable, Sendable {
  private final class Storage: @unchecked Sendable {
    var pid: PID
    var ppid: PID
    var uid: UInt32?
    var user: String?
    var name: String
    var commandLine: [String]
    var executable: String?
    var workingDirectory: String?
    var startTime: Double?
    var startTicks: UInt64?
    var isKernelThread: Bool
    var controlGroup: String?
    var services: [String]

    init(
      pid: PID,
      ppid: PID,
      uid: UInt32?,
      user: String?,
      name: String,
      commandLine: [String],
      executable: String?,
      workingDirectory: String?,
      startTime: Double?,
      startTicks: UInt64?,
      isKernelThread: Bool,
      controlGroup: String?,
      services: [String]
    ) {
      self.pid = pid
      self.ppid = ppid
      self.uid = uid
      self.user = user
      self.name = name
      self.commandLine = commandLine
      self.executable = executable
      self.workingDirectory = workingDirectory
      self.startTime = startTime
      self.startTicks = startTicks
      self.isKernelThread = isKernelThread
      self.controlGroup = controlGroup
      self.services = services
    }

    func copy() -> Storage {
      Storage(
        pid: pid, ppid: ppid, uid: uid, user: user, name: name, commandLine: commandLine, executable: executable,
        workingDirectory: workingDirectory, startTime: startTime, startTicks: startTicks,
        isKernelThread: isKernelThread, controlGroup: controlGroup, services: services)
    }
  }

  private var storage: Storage

  private mutating func unique() -> Storage {
    if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    return storage
  }

  /// The process id.
  public var pid: PID {
    get { storage.pid }
    set { unique().pid = newValue }
  }

  /// The parent pid; 0 when unknown or for pid 1.
  public var ppid: PID {
    get { storage.ppid }
    set { unique().ppid = newValue }
  }

  /// The real uid; `nil` when it could not be read.
  public var uid: UInt32? {
    get { storage.uid }
    set { unique().uid = newValue }
  }

  /// The user name for `uid`, when the system knows one.
  public var user: String? {
    get { storage.user }
    set { unique().user = newValue }
  }

  /// The short command name the kernel keeps (`comm`, at most 15 bytes on Linux).
  public var name: String {
    get { storage.name }
    set { unique().name = newValue }
  }

  /// The full command line; empty for kernel threads and zombies, or when unreadable.
  public var commandLine: [String] {
    get { storage.commandLine }
    set { unique().commandLine = newValue }
  }

  /// The executable path, when readable.
  public var executable: String? {
    get { storage.executable }
    set { unique().executable = newValue }
  }

  /// The working directory, when readable.
  public var workingDirectory: String? {
    get { storage.workingDirectory }
    set { unique().workingDirectory = newValue }
  }

  /// Start time in seconds since the Unix epoch; `nil` when unknown.
  public var startTime: Double? {
    get { storage.startTime }
    set { unique().startTime = newValue }
  }

  /// Start time in the platform's own unit (clock ticks since boot on Linux), kept
  /// as read so that a later re-read can prove the pid still names the same process.
  public var startTicks: UInt64? {
    get { storage.startTicks }
    set { unique().startTicks = newValue }
  }

  /// True for kernel threads.
  public var isKernelThread: Bool {
    get { storage.isKernelThread }
    set { unique().isKernelThread = newValue }
  }

  /// The control group path(s) as the kernel reports them (`/proc/PID/cgroup` on Linux):
  /// names the systemd unit or container a process runs in.
  public var controlGroup: String? {
    get { storage.controlGroup }
    set { unique().controlGroup = newValue }
  }

  /// Windows services the process hosts (`tasklist /SVC`).
  public var services: [String] {
    get { storage.services }
    set { unique().services = newValue }
  }

  /// A record of what was read about `pid`; unknown fields stay `nil` or empty.
  public init(
    pid: PID,
    ppid: PID,
    uid: UInt32? = nil,
    user: String? = nil,
    name: String,
    commandLine: [String] = [],
    executable: String? = nil,
    workingDirectory: String? = nil,
    startTime: Double? = nil,
    startTicks: UInt64? = nil,
    isKernelThread: Bool = false,
    controlGroup: String? = nil,
    services: [String] = []
  ) {
    storage = Storage(
      pid: pid, ppid: ppid, uid: uid, user: user, name: name, commandLine: commandLine, executable: executable,
      workingDirectory: workingDirectory, startTime: startTime, startTicks: startTicks, isKernelThread: isKernelThread,
      controlGroup: controlGroup, services: services)
  }

  /// The same fields.
  public static func == (lhs: ProcessRecord, rhs: ProcessRecord) -> Bool {
    if lhs.storage === rhs.storage { return true }
    return lhs.pid == rhs.pid
      && lhs.ppid == rhs.ppid
      && lhs.uid == rhs.uid
      && lhs.user == rhs.user
      && lhs.name == rhs.name
      && lhs.commandLine == rhs.commandLine
      && lhs.executable == rhs.executable
      && lhs.workingDirectory == rhs.workingDirectory
      && lhs.startTime == rhs.startTime
      && lhs.startTicks == rhs.startTicks
      && lhs.isKernelThread == rhs.isKernelThread
      && lhs.controlGroup == rhs.controlGroup
      && lhs.services == rhs.services
  }

  /// Hashes the fields `==` compares.
  public func hash(into hasher: inout Hasher) {
    hasher.combine(pid)
    hasher.combine(ppid)
    hasher.combine(uid)
    hasher.combine(user)
    hasher.combine(name)
    hasher.combine(commandLine)
    hasher.combine(executable)
    hasher.combine(workingDirectory)
    hasher.combine(startTime)
    hasher.combine(startTicks)
    hasher.combine(isKernelThread)
    hasher.combine(controlGroup)
    hasher.combine(services)
  }

  /// The command line joined with spaces, or `[name]` when there is none (as `ps` shows it).
  public var displayCommand: String {
    commandLine.isEmpty ? "[\(name)]" : commandLine.joined(separator: " ")
  }
}

/// One process holding one socket.
public struct HolderProcess: Hashable, Sendable {
  /// The process.
  public var process: ProcessRecord
  /// The descriptors through which it holds the socket.
  public var fds: [Int32]
  /// The nearest ancestor that holds the same socket. The kernel records no creation time
  /// for a socket, so whether this process inherited it when forked or was passed it later
  /// (node's cluster workers get their listener over IPC) is not known: it shares it.
  public var sharesWith: PID?
  /// How many of the socket's other holders descend from this one.
  public var descendantHolders: Int

  /// `process` holding the socket through `fds`.
  public init(process: ProcessRecord, fds: [Int32], sharesWith: PID? = nil, descendantHolders: Int = 0) {
    self.process = process
    self.fds = fds
    self.sharesWith = sharesWith
    self.descendantHolders = descendantHolders
  }

  /// `parent` when descendants of it hold the same socket, `child` when an ancestor of it
  /// does (``sharesWith``), `sole` otherwise.
  public var role: Role {
    if sharesWith != nil { return .child }
    return descendantHolders > 0 ? .parent : .sole
  }

  /// Where the holder stands among the processes sharing the socket.
  public enum Role: String, Sendable, Hashable, Codable {
    case sole, parent, child
  }
}
