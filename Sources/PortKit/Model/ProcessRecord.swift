/// A process id.
public typealias PID = Int32

/// What portctl knows about one process.
public struct ProcessRecord: Hashable, Sendable {
  public var pid: PID
  /// The parent pid; 0 when unknown or for pid 1.
  public var ppid: PID
  /// The real uid; `nil` when it could not be read.
  public var uid: UInt32?
  /// The user name for `uid`, when the system knows one.
  public var user: String?
  /// The short command name the kernel keeps (`comm`, at most 15 bytes on Linux).
  public var name: String
  /// The full command line; empty for kernel threads and zombies, or when unreadable.
  public var commandLine: [String]
  /// The executable path, when readable.
  public var executable: String?
  /// The working directory, when readable.
  public var workingDirectory: String?
  /// Start time in seconds since the Unix epoch; `nil` when unknown.
  public var startTime: Double?
  /// Start time in the platform's own unit (clock ticks since boot on Linux), kept
  /// as read so that a later re-read can prove the pid still names the same process.
  public var startTicks: UInt64?
  /// True for kernel threads.
  public var isKernelThread: Bool
  /// The control group path(s) as the kernel reports them (`/proc/PID/cgroup` on Linux):
  /// names the systemd unit or container a process runs in.
  public var controlGroup: String?
  /// Windows services the process hosts (`tasklist /SVC`).
  public var services: [String]

  public init(
    pid: PID, ppid: PID, uid: UInt32? = nil, user: String? = nil, name: String,
    commandLine: [String] = [], executable: String? = nil, workingDirectory: String? = nil,
    startTime: Double? = nil, startTicks: UInt64? = nil, isKernelThread: Bool = false, controlGroup: String? = nil,
    services: [String] = []
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

  /// The command line joined with spaces, or `[name]` when there is none (as `ps` shows it).
  public var displayCommand: String {
    commandLine.isEmpty ? "[\(name)]" : commandLine.joined(separator: " ")
  }
}

/// One process holding one socket.
public struct HolderProcess: Hashable, Sendable {
  public var process: ProcessRecord
  /// The descriptors through which it holds the socket.
  public var fds: [Int32]
  /// The nearest ancestor that holds the same socket: the process it inherited it from.
  public var inheritedFrom: PID?
  /// How many of the socket's other holders descend from this one.
  public var descendantHolders: Int

  public init(process: ProcessRecord, fds: [Int32], inheritedFrom: PID? = nil, descendantHolders: Int = 0) {
    self.process = process
    self.fds = fds
    self.inheritedFrom = inheritedFrom
    self.descendantHolders = descendantHolders
  }

  /// `parent` when other holders inherited the socket from it, `child` when it inherited
  /// the socket, `sole` otherwise.
  public var role: Role {
    if inheritedFrom != nil { return .child }
    return descendantHolders > 0 ? .parent : .sole
  }

  public enum Role: String, Sendable, Hashable, Codable {
    case sole, parent, child
  }
}
