/// A server recognised from its processes: what it is, which process leads it, and how it
/// wants to be stopped.
///
/// One server may be many processes: nginx's master and workers, gunicorn's arbiter and
/// workers, the PostgreSQL postmaster and its backends. ``master`` is the one that is
/// signalled; the ``workers`` follow it.
public struct RecognizedServer: Hashable, Sendable {
  /// What kind of server it is; stable, and used in the JSON output.
  public struct Kind: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
    /// The stable name, as in the JSON output.
    public var rawValue: String
    /// The kind named `rawValue`.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// The stable name.
    public var description: String { rawValue }

    public static let nginx = Kind(rawValue: "nginx")
    public static let apache = Kind(rawValue: "apache")
    public static let gunicorn = Kind(rawValue: "gunicorn")
    public static let uvicorn = Kind(rawValue: "uvicorn")
    public static let hypercorn = Kind(rawValue: "hypercorn")
    public static let werkzeug = Kind(rawValue: "werkzeug")
    public static let django = Kind(rawValue: "django")
    public static let nodeCluster = Kind(rawValue: "node-cluster")
    public static let postgres = Kind(rawValue: "postgres")
    public static let mysql = Kind(rawValue: "mysql")
    public static let redis = Kind(rawValue: "redis")
    public static let memcached = Kind(rawValue: "memcached")
    public static let sshd = Kind(rawValue: "sshd")
    public static let sshForward = Kind(rawValue: "ssh-forward")
    public static let java = Kind(rawValue: "java")
    public static let systemdSocket = Kind(rawValue: "systemd-socket")
  }

  /// What kind of server it is.
  public var kind: Kind
  /// Its name as people know it: `nginx`, `PostgreSQL`, `gunicorn`.
  public var name: String
  /// One phrase on what it is here: `PostgreSQL 15, data directory /srv/pg`.
  public var detail: String
  /// The process that leads it and is signalled to stop it.
  public var master: ProcessRecord
  /// Its other processes that were seen (workers, backends), which stop with the master.
  public var workers: [ProcessRecord]
  /// The signal the server documents for a fast, clean stop.
  public var stopSignal: Signal
  /// How long a clean stop may take after ``stopSignal`` before SIGKILL is fair.
  public var grace: Duration
  /// The server's own stop command, where it has one (`nginx -s quit`, `pg_ctl stop -D DIR -m
  /// fast`, `redis-cli -p 6379 shutdown`); every value taken from a process in it is
  /// shell-quoted (``ShellQuoting/quote(_:)``).
  public var stop: String?
  /// Every process of the server must be signalled, not only the master (a master that does
  /// not pass the signal on).
  public var signalsEveryProcess: Bool

  /// A recognised server.
  public init(
    kind: Kind, name: String, detail: String, master: ProcessRecord, workers: [ProcessRecord] = [],
    stopSignal: Signal = .terminate, grace: Duration = .seconds(5), stop: String? = nil,
    signalsEveryProcess: Bool = false
  ) {
    self.kind = kind
    self.name = name
    self.detail = detail
    self.master = master
    self.workers = workers
    self.stopSignal = stopSignal
    self.grace = grace
    self.stop = stop
    self.signalsEveryProcess = signalsEveryProcess
  }

  /// The pids of the master and its workers.
  public var pids: Set<PID> { Set([master.pid] + workers.map(\.pid)) }
}
