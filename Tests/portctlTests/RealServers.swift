#if os(Linux)
import Foundation
import Testing

/// A real server a test started on a free port of 127.0.0.1 in a temporary directory: its
/// master, its workers and other processes, and how to stop whatever is left of it
/// (`cleanUp()`, also run when it is let go of).
final class RealServer: @unchecked Sendable {
  /// The port it listens on.
  let port: UInt16
  /// The process that is signalled to stop it.
  let master: pid_t
  /// Its workers, as it forked them (pid order).
  let workers: [pid_t]
  /// Its other processes that are no workers (uvicorn's resource tracker).
  let helpers: [pid_t]
  /// The master, when the test spawned it itself.
  let process: Spawned?
  /// Where its files are.
  let directory: URL
  private var cleanups: [() -> Void]

  init(
    port: UInt16, master: pid_t, workers: [pid_t], helpers: [pid_t] = [], process: Spawned?, directory: URL,
    cleanup: @escaping () -> Void
  ) {
    self.port = port
    self.master = master
    self.workers = workers
    self.helpers = helpers
    self.process = process
    self.directory = directory
    cleanups = [cleanup, { try? FileManager.default.removeItem(at: directory) }]
  }

  /// Every process of it.
  var all: [pid_t] { [master] + workers + helpers }

  /// Stops whatever is left of it and removes its directory; once.
  func cleanUp() {
    let pending = cleanups
    cleanups = []
    for cleanup in pending { cleanup() }
  }

  deinit { cleanUp() }
}

/// A PostgreSQL 15 cluster made with initdb as the `postgres` user in a temporary directory,
/// its postmaster listening on 127.0.0.1 at a free port, and one idle `psql` client connected.
/// Needs root (see ``available``).
final class PostgresCluster: @unchecked Sendable {
  static let bin = "/usr/lib/postgresql/15/bin"
  /// Root, the `postgres` user and the binaries: what the cluster needs.
  static let available =
    isRoot && Programs.installed("\(bin)/initdb", "\(bin)/postgres", "/usr/bin/psql", "/usr/bin/setpriv")
    && getpwnam("postgres") != nil
  /// The title of the idle client's backend, up to its port.
  static let backendTitle = "postgres: postgres postgres 127.0.0.1("

  let directory: URL
  let data: String
  let port: UInt16
  let postmaster: Spawned
  /// The idle client's backend (a child of the postmaster).
  private(set) var backend: pid_t = 0
  private let client = Process()
  /// The client's standard input, made after the postmaster started so that the postmaster
  /// does not inherit it (a pipe's descriptors are inherited), or psql would never see it close.
  private let input: Pipe

  /// Starts it; `settings` are more `-c name=value` for the postmaster.
  init(settings: [String] = []) throws {
    directory = try RealServers.directory("pg")
    guard let user = getpwnam("postgres")?.pointee, chown(directory.path, user.pw_uid, user.pw_gid) == 0 else {
      throw CocoaError(.fileWriteNoPermission)
    }
    data = directory.appendingPathComponent("data").path
    let asPostgres = ["--reuid=postgres", "--regid=postgres", "--init-groups"]
    let initdb = try run(
      URL(fileURLWithPath: "/usr/bin/setpriv"),
      asPostgres + ["\(Self.bin)/initdb", "-D", data, "-A", "trust", "-U", "postgres"])
    guard initdb.status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: ["initdb": initdb.stderr]) }
    port = try portFreeEverywhere()
    postmaster = try Spawned(
      "/usr/bin/setpriv",
      asPostgres + [
        "\(Self.bin)/postgres", "-D", data, "-k", directory.path, "-c", "listen_addresses=127.0.0.1", "-p", "\(port)",
      ] + settings.flatMap { ["-c", $0] })
    input = Pipe()
    guard eventually(20, { loopbackTaken(self.port) }) else { throw CocoaError(.fileReadUnknown) }
    // One idle client: psql reading from a pipe that stays open.
    client.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
    client.arguments = ["-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", "-q"]
    client.standardInput = input
    client.standardOutput = FileHandle.nullDevice
    client.standardError = FileHandle.nullDevice
    try client.run()
    var found: pid_t?
    _ = eventually(20) {
      found = childPIDs(of: self.postmaster.pid).first { pid in
        ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "").hasPrefix(Self.backendTitle)
      }
      return found != nil
    }
    guard let found else { throw CocoaError(.fileReadUnknown) }
    backend = found
  }

  /// Ends the client and (with a fast shutdown, if it still runs) the postmaster, and
  /// removes the directory.
  func cleanUp() {
    try? input.fileHandleForWriting.close()
    if client.isRunning { client.waitUntilExit() }
    if postmaster.exitStatus(within: 0) == nil {
      kill(postmaster.pid, SIGINT)
      _ = postmaster.exitStatus(within: 30)
    }
    postmaster.stop()
    try? FileManager.default.removeItem(at: directory)
  }

  deinit { cleanUp() }
}

/// Starting the real servers the end-to-end tests use (`why` and `free` on them), each on a
/// free port of 127.0.0.1 in its own temporary directory.
enum RealServers {
  /// `name` on PATH, where installed.
  static func tool(_ name: String) -> String? {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
      let path = "\(directory)/\(name)"
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
  }

  /// The Python interpreter (first `python3` on PATH) that can import `modules`; `nil` when
  /// there is none.
  static func python(importing modules: String) -> String? {
    guard
      let result = try? shell("python3 -c 'import sys, \(modules); print(sys.executable)' 2>/dev/null"),
      result.status == 0
    else { return nil }
    let path = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    return FileManager.default.isExecutableFile(atPath: path) ? path : nil
  }

  /// Writes a supervisord configuration into `directory` (its socket, log and pid file there
  /// too, supervisorctl pointed at the socket) running `program` with `command`, restarted
  /// when it exits; returns its path.
  static func supervisordConfig(in directory: URL, program: String, command: String) throws -> String {
    let config = directory.appendingPathComponent("supervisord.conf").path
    try """
    [unix_http_server]
    file=\(directory.path)/supervisor.sock
    [supervisord]
    logfile=\(directory.path)/supervisord.log
    pidfile=\(directory.path)/supervisord.pid
    nodaemon=true
    [rpcinterface:supervisor]
    supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
    [supervisorctl]
    serverurl=unix://\(directory.path)/supervisor.sock
    [program:\(program)]
    command=\(command)
    autorestart=true
    startsecs=0
    """.write(toFile: config, atomically: true, encoding: .utf8)
    return config
  }

  /// A fresh temporary directory named after `label`.
  static func directory(_ label: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("portctl-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  /// The parent pid of `pid`, from /proc.
  static func parentPID(of pid: pid_t) -> pid_t? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")")
    else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    return fields.count > 1 ? pid_t(fields[1]) : nil
  }

  /// True when a TCP connection to 127.0.0.1:`port` is accepted (bound is not enough: a
  /// socket may be bound long before something listens on it).
  static func accepting(_ port: UInt16) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    } == 0
  }

  /// The children of `pid` whose command line contains `marker`.
  static func children(of pid: pid_t, containing marker: String) -> [pid_t] {
    childPIDs(of: pid).filter {
      let line = (try? String(contentsOfFile: "/proc/\($0)/cmdline", encoding: .utf8)) ?? ""
      return line.contains(marker)
    }
  }

  /// Stops a server the test started: `signal` to it while it is still the test's own
  /// (alive, not reaped, its pid not reused), then SIGKILL to any of `children` (pids it
  /// forked, recorded by the test) still alive.
  static func stop(_ server: Spawned, children: [pid_t], signal: Int32 = SIGTERM) {
    if isAlive(server.pid), parentPID(of: server.pid) == getpid(), server.exitStatus(within: 0) == nil {
      kill(server.pid, signal)
      if server.exitStatus(within: 10) == nil { server.stop() }
    }
    for child in children where isAlive(child) { kill(child, SIGKILL) }
  }

  // MARK: Python ASGI servers with workers

  private static let asgiApp = """
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
    """

  /// uvicorn `--workers 2` run by `python`: master the supervising parent, workers its two
  /// multiprocessing children, helpers its resource tracker.
  static func uvicorn(_ python: String) throws -> RealServer {
    let dir = try directory("uvicorn")
    try asgiApp.write(to: dir.appendingPathComponent("app.py"), atomically: true, encoding: .utf8)
    let port = try portFreeEverywhere()
    let server = try Spawned(
      python,
      ["-m", "uvicorn", "--workers", "2", "--host", "127.0.0.1", "--port", "\(port)", "--app-dir", dir.path, "app:app"])
    return try multiprocessingServer(server, port: port, directory: dir, name: "uvicorn")
  }

  /// hypercorn `--workers 2 --graceful-timeout 2` run by `python`.
  static func hypercorn(_ python: String) throws -> RealServer {
    let dir = try directory("hypercorn")
    let app = dir.appendingPathComponent("app.py")
    try asgiApp.write(to: app, atomically: true, encoding: .utf8)
    let port = try portFreeEverywhere()
    let server = try Spawned(
      python,
      [
        "-m", "hypercorn", "--workers", "2", "--graceful-timeout", "2", "--bind", "127.0.0.1:\(port)",
        "\(app.path):app",
      ])
    return try multiprocessingServer(server, port: port, directory: dir, name: "hypercorn")
  }

  /// Waits for `server` to accept on `port` with two multiprocessing workers.
  private static func multiprocessingServer(_ server: Spawned, port: UInt16, directory: URL, name: String) throws
    -> RealServer
  {
    let marker = "--multiprocessing-fork"
    var spawned: [pid_t] = []
    let ready = eventually(20) {
      spawned = childPIDs(of: server.pid)
      return accepting(port) && children(of: server.pid, containing: marker).count == 2
    }
    let workers = children(of: server.pid, containing: marker)
    spawned = Array(Set(spawned + childPIDs(of: server.pid))).sorted()
    let started = RealServer(
      port: port, master: server.pid, workers: workers, helpers: spawned.filter { !workers.contains($0) },
      process: server, directory: directory
    ) { stop(server, children: spawned) }
    try #require(ready, "\(name) did not start its workers")
    return started
  }

  // MARK: reloaders

  /// Django's runserver (with its autoreloader) run by `python`: master the autoreloader,
  /// its one worker the child that holds the socket.
  static func django(_ python: String) throws -> RealServer {
    let dir = try directory("django")
    let manage = dir.appendingPathComponent("manage.py")
    try """
    import sys
    from django.conf import settings
    from django.http import HttpResponse
    from django.urls import path

    settings.configure(DEBUG=True, ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"], SECRET_KEY="test")
    urlpatterns = [path("", lambda request: HttpResponse("ok"))]

    if __name__ == "__main__":
        from django.core.management import execute_from_command_line
        execute_from_command_line(sys.argv)
    """.write(to: manage, atomically: true, encoding: .utf8)
    let port = try portFreeEverywhere()
    let server = try Spawned(python, [manage.path, "runserver", "127.0.0.1:\(port)"])
    var child: pid_t = 0
    let ready = eventually(30) {
      guard accepting(port), let first = childPIDs(of: server.pid).first else { return false }
      child = first
      return true
    }
    let started = RealServer(
      port: port, master: server.pid, workers: [child].filter { $0 > 0 }, process: server, directory: dir
    ) { [child] in stop(server, children: [child].filter { $0 > 0 }) }
    try #require(ready, "django did not start its server")
    return started
  }

  /// A Flask app run with the Werkzeug reloader by `python`: master the reloader, its one
  /// worker the child (`WERKZEUG_RUN_MAIN=true`).
  static func flask(_ python: String) throws -> RealServer {
    let dir = try directory("flask")
    let app = dir.appendingPathComponent("app.py")
    try """
    import sys
    from flask import Flask
    app = Flask(__name__)

    @app.route("/")
    def index():
        return "ok"

    app.run(host="127.0.0.1", port=int(sys.argv[1]), use_reloader=True)
    """.write(to: app, atomically: true, encoding: .utf8)
    let port = try portFreeEverywhere()
    let server = try Spawned(python, [app.path, "\(port)"])
    var child: pid_t = 0
    // Ready once the child runs with the reloader's marker (before its exec it is a copy of
    // the reloader).
    let ready = eventually(20) {
      guard loopbackTaken(port), let first = childPIDs(of: server.pid).first else { return false }
      child = first
      let environment = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(first)/environ"))) ?? Data()
      return String(decoding: environment, as: UTF8.self).contains("WERKZEUG_RUN_MAIN=true")
    }
    let started = RealServer(
      port: port, master: server.pid, workers: [child].filter { $0 > 0 }, process: server, directory: dir
    ) { [child] in stop(server, children: [child].filter { $0 > 0 }) }
    try #require(ready, "flask did not start its reloader child")
    return started
  }

  // MARK: node cluster

  /// A node cluster primary with two HTTP workers (round-robin scheduling, Linux's default:
  /// only the primary holds the listener; `NODE_CLUSTER_SCHED_POLICY=none` in `environment`
  /// hands it to the workers too). The script's path is `directory/cluster.js`.
  static func nodeCluster(environment: [String: String] = [:]) throws -> RealServer {
    let dir = try directory("node-cluster")
    let script = dir.appendingPathComponent("cluster.js")
    try """
    const cluster = require('cluster');
    const http = require('http');
    if (cluster.isPrimary) {
      for (let i = 0; i < 2; i++) cluster.fork();
      let ready = 0;
      cluster.on('listening', (worker, address) => {
        if (++ready === 2) {
          const pids = Object.values(cluster.workers).map((w) => w.process.pid).join(',');
          console.log(`ready pid=${process.pid} ports=${address.port} children=${pids}`);
        }
      });
      process.stdin.on('end', () => {
        for (const w of Object.values(cluster.workers)) w.process.kill();
        process.exit(0);
      });
      process.stdin.resume();
    } else {
      http.createServer((req, res) => res.end('ok')).listen(0, '127.0.0.1');
    }
    """.write(to: script, atomically: true, encoding: .utf8)
    let holder: Holder
    do {
      holder = try Holder([], launcher: [Programs.node, script.path], environment: environment)
    } catch {
      try? FileManager.default.removeItem(at: dir)
      throw error
    }
    let workers = holder.children
    let started = RealServer(
      port: holder.port, master: holder.pid, workers: workers.sorted(), process: nil, directory: dir
    ) {
      holder.stop()
      for worker in workers where isAlive(worker) { kill(worker, SIGKILL) }
    }
    try #require(workers.count == 2, "the node cluster did not start two workers")
    return started
  }

  // MARK: databases

  /// redis-server on 127.0.0.1, saving nothing.
  static func redis() throws -> RealServer {
    let dir = try directory("redis")
    let port = try portFreeEverywhere()
    let redis = try Spawned(
      "/usr/bin/redis-server",
      ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.path])
    let started = RealServer(port: port, master: redis.pid, workers: [], process: redis, directory: dir) {
      redis.stop()
    }
    try #require(eventually(10) { loopbackTaken(port) }, "redis did not listen on \(port)")
    return started
  }

  /// memcached on 127.0.0.1 (TCP only), as nobody when run as root.
  static func memcached() throws -> RealServer {
    let dir = try directory("memcached")
    let port = try portFreeEverywhere()
    // memcached refuses to run as root without -u.
    let memcached = try Spawned(
      "/usr/bin/memcached", ["-l", "127.0.0.1", "-p", "\(port)", "-U", "0"] + (isRoot ? ["-u", "nobody"] : []))
    let started = RealServer(port: port, master: memcached.pid, workers: [], process: memcached, directory: dir) {
      memcached.stop()
    }
    try #require(eventually(10) { loopbackTaken(port) }, "memcached did not listen on \(port)")
    return started
  }

  // MARK: Java

  /// A `java -jar` server compiled and packed in its directory (`app.jar`).
  static func javaJar() throws -> RealServer {
    let dir = try directory("java")
    let path = dir.path
    do {
      try """
      import java.net.*;
      public class Server {
        public static void main(String[] args) throws Exception {
          ServerSocket socket = new ServerSocket(Integer.parseInt(args[0]), 50, InetAddress.getByName("127.0.0.1"));
          while (true) { socket.accept().close(); }
        }
      }
      """.write(toFile: "\(path)/Server.java", atomically: true, encoding: .utf8)
      let compiled = try run(URL(fileURLWithPath: "/usr/bin/javac"), ["-d", "\(path)/classes", "\(path)/Server.java"])
      try #require(compiled.status == 0, "javac: \(compiled.stderr)")
      let packed = try run(
        URL(fileURLWithPath: "/usr/bin/jar"),
        ["--create", "--file", "\(path)/app.jar", "--main-class", "Server", "-C", "\(path)/classes", "."])
      try #require(packed.status == 0, "jar: \(packed.stderr)")
    } catch {
      try? FileManager.default.removeItem(at: dir)
      throw error
    }
    let port = try portFreeEverywhere()
    let java = try Spawned("/usr/bin/java", ["-Xmx64m", "-jar", "\(path)/app.jar", "\(port)"])
    let started = RealServer(port: port, master: java.pid, workers: [], process: java, directory: dir) {
      java.stop()
    }
    try #require(eventually(20) { loopbackTaken(port) }, "the jar did not listen on \(port)")
    return started
  }

  // MARK: sshd and an ssh -NL forward

  /// A local sshd (root logins with a key made for it) and an `ssh -NL` forward through it.
  final class SSHForward: @unchecked Sendable {
    let directory: URL
    let sshd: Spawned
    let sshdPort: UInt16
    let ssh: Spawned
    let forwardPort: UInt16
    /// The forward as written after `-L`.
    let forward: String

    fileprivate init(
      directory: URL, sshd: Spawned, sshdPort: UInt16, ssh: Spawned, forwardPort: UInt16, forward: String
    ) {
      self.directory = directory
      self.sshd = sshd
      self.sshdPort = sshdPort
      self.ssh = ssh
      self.forwardPort = forwardPort
      self.forward = forward
    }

    /// Stops both (the forward first) and removes the directory.
    func cleanUp() {
      ssh.stop(SIGTERM)
      sshd.stop(SIGTERM)
      try? FileManager.default.removeItem(at: directory)
    }

    deinit { cleanUp() }
  }

  /// Starts sshd in `dir` on a free port of 127.0.0.1, letting root in with the key `id`
  /// (made there, with `extraKeys` beside it), and returns once it listens (needs root).
  static func loopbackSSHD(in dir: URL, extraKeys: [String] = []) throws -> (sshd: Spawned, port: UInt16) {
    let path = dir.path
    for key in ["host_key", "id"] + extraKeys {
      let made = try run(
        URL(fileURLWithPath: "/usr/bin/ssh-keygen"), ["-q", "-t", "ed25519", "-N", "", "-f", "\(path)/\(key)"])
      try #require(made.status == 0, "ssh-keygen: \(made.stderr)")
    }
    try FileManager.default.copyItem(atPath: "\(path)/id.pub", toPath: "\(path)/authorized_keys")
    let port = try portFreeEverywhere()
    try """
    Port \(port)
    ListenAddress 127.0.0.1
    HostKey \(path)/host_key
    AuthorizedKeysFile \(path)/authorized_keys
    PidFile \(path)/sshd.pid
    StrictModes no
    UsePAM no
    PasswordAuthentication no
    KbdInteractiveAuthentication no
    PermitRootLogin prohibit-password
    """.write(toFile: "\(path)/sshd_config", atomically: true, encoding: .utf8)
    // sshd's privilege separation directory, as the Debian package creates it at boot.
    if !FileManager.default.fileExists(atPath: "/run/sshd") {
      try FileManager.default.createDirectory(
        atPath: "/run/sshd", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
    }
    let sshd = try Spawned("/usr/sbin/sshd", ["-D", "-f", "\(path)/sshd_config", "-E", "\(path)/sshd.log"])
    guard eventually(10, { loopbackTaken(port) }) else {
      sshd.stop(SIGTERM)
      throw HolderError(message: "sshd did not listen on \(port)")
    }
    return (sshd, port)
  }

  /// Starts sshd on a free port of 127.0.0.1 and `ssh -NL FORWARD:127.0.0.1:SSHD` through
  /// it (needs root). Ready once the forward listens.
  static func sshForward() throws -> SSHForward {
    let dir = try directory("sshd")
    let path = dir.path
    let sshd: Spawned
    let sshdPort: UInt16
    do {
      (sshd, sshdPort) = try loopbackSSHD(in: dir)
    } catch {
      try? FileManager.default.removeItem(at: dir)
      throw error
    }
    let forwardPort = try portFreeEverywhere()
    let forward = "\(forwardPort):127.0.0.1:\(sshdPort)"
    let ssh = try Spawned(
      "/usr/bin/ssh",
      [
        "-F", "/dev/null", "-NL", forward, "-p", "\(sshdPort)", "-i", "\(path)/id", "-o", "BatchMode=yes", "-o",
        "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ExitOnForwardFailure=yes",
        "root@127.0.0.1",
      ])
    let started = SSHForward(
      directory: dir, sshd: sshd, sshdPort: sshdPort, ssh: ssh, forwardPort: forwardPort, forward: forward)
    try #require(
      eventually(15) { loopbackTaken(forwardPort) },
      "ssh did not forward \(forwardPort): \((try? String(contentsOfFile: "\(path)/sshd.log", encoding: .utf8)) ?? "")")
    return started
  }

  // MARK: tmux on a -L socket

  /// A tmux server on its own `-L` socket with one session: a window that keeps the session
  /// (and the server) alive, and a window `api` running port-holder on a kernel-chosen port.
  final class TmuxHolder: @unchecked Sendable {
    let tmux: String
    let socketName: String
    let session: String
    /// The holder's port and pid, from its ready line.
    let port: UInt16
    let holder: pid_t
    private let directory: URL

    fileprivate init(tmux: String, socketName: String, session: String, port: UInt16, holder: pid_t, directory: URL) {
      self.tmux = tmux
      self.socketName = socketName
      self.session = session
      self.port = port
      self.holder = holder
      self.directory = directory
    }

    /// The tmux server's pid, asked of the server itself; nil when none answers.
    var serverPID: pid_t? {
      let asked = try? run(URL(fileURLWithPath: tmux), ["-L", socketName, "display-message", "-p", "#{pid}"])
      guard let asked, asked.status == 0 else { return nil }
      return pid_t(asked.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The socket's path, as a server started with `-L` has it.
    var socketPath: String {
      let tmpdir = ProcessInfo.processInfo.environment["TMUX_TMPDIR"] ?? "/tmp"
      return URL(fileURLWithPath: "\(tmpdir)/tmux-\(geteuid())/\(socketName)").resolvingSymlinksInPath().path
    }

    /// Ends the tmux server (and the holder with it) and removes the directory.
    func cleanUp() {
      _ = detached(tmux, ["-L", socketName, "kill-server"])
      try? FileManager.default.removeItem(at: directory)
    }

    deinit { cleanUp() }
  }

  /// Starts tmux on a `-L` socket of its own with port-holder in a window (needs tmux).
  static func tmuxHolder() throws -> TmuxHolder {
    let tmux = try #require(tool("tmux"), "tmux is not installed")
    let socketName = "portctl-L-\(getpid())-\(Int.random(in: 0..<1_000_000))"
    let session = "svc-\(getpid())"
    let dir = try directory("tmux")
    let ready = dir.appendingPathComponent("ready")
    let kept = detached(tmux, ["-L", socketName, "new-session", "-d", "-s", session, "-n", "keep", "sleep 3600"])
    let opened = detached(
      tmux,
      [
        "-L", socketName, "new-window", "-d", "-t", "\(session):", "-n", "api",
        "\(Products.holder.path) tcp:127.0.0.1:0 > \(ready.path)",
      ])
    var line = ""
    _ = eventually(5) {
      line = (try? String(contentsOf: ready, encoding: .utf8)) ?? ""
      return line.contains("ready")
    }
    let fields = line.split(separator: " ")
    let port = fields.first { $0.hasPrefix("ports=") }.flatMap { UInt16($0.dropFirst(6)) }
    let pid = fields.first { $0.hasPrefix("pid=") }.flatMap { pid_t($0.dropFirst(4)) }
    let started = TmuxHolder(
      tmux: tmux, socketName: socketName, session: session, port: port ?? 0, holder: pid ?? 0, directory: dir)
    try #require(kept == 0 && opened == 0, "tmux did not start")
    try #require(port != nil && pid != nil, "port-holder in tmux did not start: '\(line)'")
    return started
  }
}
#endif
