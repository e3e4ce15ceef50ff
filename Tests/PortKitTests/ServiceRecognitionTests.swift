import Testing

@testable import PortKit

/// The detectors for databases and system services, on made-up process trees.
@Suite struct ServiceRecognitionTests {
  private func record(
    _ pid: PID, _ ppid: PID, _ name: String, _ commandLine: [String], user: String? = nil, cwd: String? = nil,
    executable: String? = nil, cgroup: String? = nil
  ) -> ProcessRecord {
    ProcessRecord(
      pid: pid, ppid: ppid, user: user, name: name, commandLine: commandLine, executable: executable,
      workingDirectory: cwd, controlGroup: cgroup)
  }

  private func socket(_ port: UInt16, _ address: IPAddress = .anyV4, state: SocketState = .listen) -> SocketEntry {
    SocketEntry(proto: .tcp, local: Endpoint(address: address, port: port), state: state, id: 1)
  }

  private func recognize(
    _ holder: ProcessRecord, ancestors: [ProcessRecord] = [], children: [PID: [ProcessRecord]] = [:],
    socket: SocketEntry? = nil, units: [SystemdSocketUnit] = []
  ) -> RecognizedServer? {
    ServerRecognition.recognize(
      .init(
        holder: holder, ancestors: ancestors, children: children, environment: nil, socket: socket,
        socketUnits: units))
  }

  // MARK: PostgreSQL

  private let pgBin = "/usr/lib/postgresql/15/bin"
  private var postmaster: ProcessRecord {
    record(
      500, 1, "postgres", ["\(pgBin)/postgres", "-D", "/srv/pg data", "-p", "5433"], user: "postgres",
      cwd: "/srv/pg data", executable: "\(pgBin)/postgres")
  }
  private var backends: [ProcessRecord] {
    [
      record(501, 500, "postgres", ["postgres: checkpointer "], user: "postgres"),
      record(502, 500, "postgres", ["postgres: postgres app 127.0.0.1(4242) idle"], user: "postgres"),
    ]
  }

  @Test func postmasterIsTheMasterWithFastShutdown() throws {
    let server = try #require(recognize(postmaster, children: [500: backends], socket: socket(5433)))
    #expect(server.kind == .postgres)
    #expect(server.master.pid == 500)
    #expect(server.workers.map(\.pid) == [501, 502])
    #expect(server.stopSignal == .interrupt)
    #expect(server.grace == .seconds(60))
    #expect(server.stop == "/usr/lib/postgresql/15/bin/pg_ctl stop -D '/srv/pg data' -m fast")
    #expect(server.detail.hasPrefix("PostgreSQL 15 postmaster (pid 500), data directory /srv/pg data"))
  }

  @Test func postgresDataDirectoryFromAttachedFlagOrWorkingDirectory() throws {
    let attached = record(600, 1, "postgres", ["postgres", "-D/var/lib/pg"], cwd: "/elsewhere")
    #expect(recognize(attached)?.stop == "pg_ctl stop -D /var/lib/pg -m fast")
    let bare = record(601, 1, "postmaster", ["/opt/pg/bin/postmaster"], cwd: "/opt/pg/data")
    #expect(recognize(bare)?.stop == "/opt/pg/bin/pg_ctl stop -D /opt/pg/data -m fast")
    let relative = record(603, 1, "postgres", ["postgres", "-D", "data"], cwd: "/home/me/data")
    #expect(recognize(relative)?.stop == "pg_ctl stop -D /home/me/data -m fast")
    let setting = record(
      604, 1, "postgres",
      ["postgres", "-D", "/etc/pg", "-c", "port=5", "-c", "data_directory=/var/lib/pg/a", "--data-directory=/b"])
    #expect(recognize(setting)?.stop == "pg_ctl stop -D /b -m fast")
    let unknown = record(602, 1, "postgres", ["postgres"])
    let server = try #require(recognize(unknown))
    #expect(server.stop == nil)
    #expect(server.stopSignal == .interrupt)
  }

  @Test func backendBelongsToItsPostmaster() throws {
    let backend = backends[1]
    let server = try #require(
      recognize(backend, ancestors: [postmaster], children: [500: backends], socket: socket(5433, state: .established))
    )
    #expect(server.kind == .postgres)
    #expect(server.master.pid == 500)
    #expect(server.workers.map(\.pid) == [501, 502])
    #expect(server.detail.hasPrefix("a backend (postgres: postgres app 127.0.0.1(4242) idle) of the PostgreSQL 15"))
  }

  @Test func postgresLookAlikesAreNotPostgres() {
    // A backend whose parent is not a postmaster, a program merely named like it.
    #expect(recognize(backends[1], ancestors: [record(1, 0, "init", ["/sbin/init"])]) == nil)
    #expect(recognize(record(700, 1, "python3", ["python3", "postgres", "-D", "/x"])) == nil)
    #expect(recognize(record(701, 1, "postgres_export", ["postgres_exporter"])) == nil)
  }

  // MARK: MySQL, redis, memcached

  @Test func mysqldUnderMysqldSafe() throws {
    let safe = record(800, 1, "mysqld_safe", ["/bin/sh", "/usr/bin/mysqld_safe"])
    let mysqld = record(801, 800, "mysqld", ["/usr/sbin/mysqld", "--socket=/run/mysqld/mysqld.sock"])
    let server = try #require(recognize(mysqld, ancestors: [safe], socket: socket(3306)))
    #expect(server.kind == .mysql)
    #expect(server.name == "MySQL")
    #expect(server.master.pid == 801)
    #expect(server.stopSignal == .terminate)
    #expect(server.grace == .seconds(120))
    #expect(server.stop == "mysqladmin --socket=/run/mysqld/mysqld.sock shutdown")
    #expect(server.detail.contains("mysqld_safe (pid 800) restarts it if it dies, not after a clean shutdown"))
    let maria = try #require(recognize(record(802, 1, "mariadbd", ["/usr/sbin/mariadbd"]), socket: socket(3307)))
    #expect(maria.name == "MariaDB")
    #expect(maria.stop == "mysqladmin --protocol=tcp -h 127.0.0.1 -P 3307 shutdown")
    #expect(recognize(record(803, 1, "mysql", ["mysql", "-u", "root"])) == nil)
  }

  @Test func redisStopNamesTheAddressAndPort() throws {
    let redis = record(900, 1, "redis-server", ["redis-server 127.0.0.1:6380"])
    let server = try #require(recognize(redis, socket: socket(6380, .loopbackV4)))
    #expect(server.kind == .redis)
    #expect(server.stop == "redis-cli -h 127.0.0.1 -p 6380 shutdown")
    #expect(server.stopSignal == .terminate)
    #expect(server.grace == .seconds(30))
    #expect(recognize(redis, socket: socket(6379))?.stop == "redis-cli -p 6379 shutdown")
    #expect(recognize(redis, socket: socket(6379, .loopbackV6))?.stop == "redis-cli -h ::1 -p 6379 shutdown")
    let unix = record(901, 1, "redis-server", ["redis-server", "--unixsocket", "/run/my redis.sock"])
    #expect(recognize(unix)?.stop == "redis-cli -s '/run/my redis.sock' shutdown")
    #expect(recognize(record(902, 1, "redis-cli", ["redis-cli", "monitor"])) == nil)
  }

  @Test func memcachedStopsOnSigterm() throws {
    let server = try #require(recognize(record(950, 1, "memcached", ["memcached", "-p", "11211"])))
    #expect(server.kind == .memcached)
    #expect(server.stopSignal == .terminate)
    #expect(server.grace == .seconds(5))
    #expect(server.stop == nil)
  }

  // MARK: sshd

  @Test func sshdListenerIsTheMasterAndSessionsAreNotWorkers() throws {
    let listener = record(
      1000, 1, "sshd", ["sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"],
      cgroup: "0::/system.slice/ssh.service")
    let session = record(1001, 1000, "sshd", ["sshd: alice@pts/0"])
    let server = try #require(recognize(listener, children: [1000: [session]], socket: socket(22)))
    #expect(server.kind == .sshd)
    #expect(server.master.pid == 1000)
    #expect(server.workers.isEmpty)
    #expect(server.stopSignal == .terminate)
    #expect(server.stop == nil)
    #expect(
      server.detail.contains("its 1 session process (pid 1001) is not the listener and keeps running when it stops"))
    // An older sshd that keeps its command line.
    #expect(recognize(record(1002, 1, "sshd", ["/usr/sbin/sshd", "-D"]))?.master.pid == 1002)
    #expect(recognize(record(1003, 1, "sshd", ["sshd: /usr/sbin/sshd -D"]))?.name == "sshd")
  }

  @Test func sshSessionHoldingARemoteForwardIsItsOwnServer() throws {
    let listener = record(1100, 1, "sshd", ["sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"])
    let privileged = record(1101, 1100, "sshd", ["sshd: alice [priv]"])
    let session = record(1102, 1101, "sshd", ["sshd: alice@notty"])
    let server = try #require(recognize(session, ancestors: [privileged, listener], socket: socket(9000)))
    #expect(server.kind == .sshd)
    #expect(server.master.pid == 1101)
    #expect(
      server.detail.contains("of the OpenSSH server (listener pid 1100); stopping the listener leaves it running"))
    // OpenSSH 9.8's session program.
    let newer = record(1103, 1100, "sshd-session", ["sshd-session: alice@pts/1"])
    #expect(recognize(newer, ancestors: [listener])?.master.pid == 1103)
    #expect(recognize(record(1104, 1, "sshd-keygen", ["sshd-keygen"])) == nil)
  }

  // MARK: ssh forwards

  /// Every spelling of a forward on port 8080 to h:80.
  @Test(arguments: [
    ["-L", "8080:h:80", "u@host"],
    ["-L8080:h:80", "host"],
    ["-NL", "8080:h:80", "host"],
    ["-fNL8080:h:80", "host"],
    ["-NfL", "8080:h:80", "host"],
    ["-o", "ExitOnForwardFailure=yes", "-L", "8080:h:80", "host"],
    ["-4", "-N", "-L", "127.0.0.1:8080:h:80", "host"],
    ["-L", "[::1]:8080:h:80", "host"],
    ["host", "-L", "8080:h:80"],
    ["-p", "2222", "-i", "/k", "-L", "*:8080:h:80", "host"],
    ["-oLocalForward=8080 h:80", "host"],
    ["-o", "LocalForward 8080 h:80", "host"],
  ])
  func localForwardSpellings(_ arguments: [String]) throws {
    let holder = record(1200, 1, "ssh", ["ssh"] + arguments)
    let server = try #require(recognize(holder, socket: socket(8080)), "\(arguments)")
    #expect(server.kind == .sshForward)
    #expect(server.master.pid == 1200)
    #expect(server.detail.contains(":8080 to h:80") || server.detail.contains("local 8080 to h:80"), "\(server.detail)")
    let managers = ProcessManagers.detect(holder: holder, ancestors: [], environment: nil, socket: socket(8080))
    #expect(managers.first?.kind == .sshForward, "\(arguments)")
  }

  @Test func forwardThatCoversThePortIsNamed() throws {
    let holder = record(
      1300, 1, "ssh",
      ["ssh", "-NfL", "8080:web:80", "-L", "[::1]:8443:web:443", "-D", "1080", "-R", "9000:localhost:3000", "u@h"])
    let parsed = SSHCommandLine(arguments: Array(holder.commandLine.dropFirst()))
    #expect(
      parsed.forwards.map(\.flag) == ["-L 8080:web:80", "-L [::1]:8443:web:443", "-D 1080", "-R 9000:localhost:3000"])
    #expect(parsed.destination == "u@h")
    let tls = try #require(recognize(holder, socket: socket(8443, .loopbackV6)))
    #expect(tls.name == "-L [::1]:8443:web:443")
    #expect(tls.detail == "an ssh port forward (-L [::1]:8443:web:443: local [::1]:8443 to web:443) through u@h")
    let socks = try #require(recognize(holder, socket: socket(1080)))
    #expect(socks.detail == "an ssh port forward (-D 1080: SOCKS proxy on 1080) through u@h")
    // -R listens on the remote side: the local port 9000 is not covered.
    let other = try #require(recognize(holder, socket: socket(9000)))
    #expect(other.name == "ssh")
    #expect(other.detail.hasSuffix("; none of them listens on 9000"))
    let managers = ProcessManagers.detect(holder: holder, ancestors: [], environment: nil, socket: socket(1080))
    #expect(managers.first?.name == "-D 1080")
  }

  @Test func forwardSpecForms() {
    let cases: [(SSHForward.Direction, String, String?, UInt16?, String?, String?)] = [
      (.local, "8080:h:80", nil, 8080, nil, "h:80"),
      (.local, "127.0.0.1:8080:h:80", "127.0.0.1", 8080, nil, "h:80"),
      (.local, "[::1]:8080:[fe80::1]:80", "::1", 8080, nil, "[fe80::1]:80"),
      (.local, "8080:/run/app.sock", nil, 8080, nil, "/run/app.sock"),
      (.local, "/tmp/l.sock:h:80", nil, nil, "/tmp/l.sock", "h:80"),
      (.dynamic, "1080", nil, 1080, nil, nil),
      (.dynamic, "localhost:1080", "localhost", 1080, nil, nil),
      (.remote, "0", nil, 0, nil, nil),
      (.remote, "9000:localhost:3000", nil, 9000, nil, "localhost:3000"),
    ]
    for (direction, spec, bind, port, path, target) in cases {
      let forward = SSHForward(direction, spec: spec)
      #expect(forward?.bindAddress == bind, "\(spec)")
      #expect(forward?.listenPort == port, "\(spec)")
      #expect(forward?.listenPath == path, "\(spec)")
      #expect(forward?.target == target, "\(spec)")
    }
    for (direction, spec) in [
      (SSHForward.Direction.local, "8080"), (.local, "x:h:80"), (.local, "8080:h:http"), (.local, "[::1:8080:h:80"),
      (.local, "[::1]x:8080:h:80"), (.dynamic, "a:b:c"), (.local, "1:2:3:4:5"), (.local, ""), (.local, "99999:h:80"),
    ] {
      #expect(SSHForward(direction, spec: spec) == nil, "\(spec)")
    }
  }

  /// Words that look like forwards but are not: values of other flags, the remote command,
  /// other programs.
  @Test(arguments: [
    ["ssh", "host"],
    ["ssh", "host", "ls", "-L", "8080:h:80"],
    ["ssh", "-E", "-L8080:h:80", "host"],
    ["ssh", "-l", "-Luser", "host"],
    ["ssh", "host", "--", "-L", "8080:h:80"],
    ["ssh", "--", "host", "-L", "8080:h:80"],
    ["ssh", "-o", "ProxyJump=-L8080:h:80", "host"],
    ["ssh", "-L"],
    ["ssh", "-Lnonsense", "host"],
    ["sshd", "-D"],
    ["ssh-agent", "-D"],
    ["autossh", "-M", "0", "-L", "8080:h:80", "host"],
  ])
  func forwardLookAlikes(_ commandLine: [String]) {
    let name = commandLine[0]
    let holder = record(1400, 1, name, commandLine)
    let server = recognize(holder, socket: socket(8080))
    #expect(server?.kind != .sshForward, "\(commandLine)")
    let managers = ProcessManagers.detect(holder: holder, ancestors: [], environment: nil, socket: socket(8080))
    #expect(!managers.contains { $0.kind == .sshForward }, "\(commandLine)")
  }

  // MARK: Java

  @Test func javaServers() throws {
    let boot = try #require(recognize(record(1500, 1, "java", ["/usr/bin/java", "-Xmx1g", "-jar", "app.jar"])))
    #expect(boot.kind == .java)
    #expect(boot.stopSignal == .terminate)
    #expect(boot.grace == .seconds(30))
    #expect(boot.detail.contains("(app.jar)"))
    let loader = try #require(
      recognize(record(1501, 1, "java", ["java", "-cp", "app", "org.springframework.boot.loader.launch.JarLauncher"])))
    #expect(loader.name == "Spring Boot")
    let tomcat = try #require(
      recognize(
        record(
          1502, 1, "java",
          [
            "/usr/bin/java", "-Dcatalina.base=/srv/my tomcat", "-Dcatalina.home=/usr/share/tomcat9", "-classpath",
            "/usr/share/tomcat9/bin/bootstrap.jar", "org.apache.catalina.startup.Bootstrap", "start",
          ])))
    #expect(tomcat.name == "Tomcat")
    #expect(tomcat.stop == "CATALINA_BASE='/srv/my tomcat' /usr/share/tomcat9/bin/catalina.sh stop")
    #expect(tomcat.grace == .seconds(30))
    let sameBase = recognize(
      record(1503, 1, "java", ["java", "-Dcatalina.base=/opt/t", "org.apache.catalina.startup.Bootstrap"]))
    #expect(sameBase?.stop == "/opt/t/bin/catalina.sh stop")
    #expect(recognize(record(1504, 1, "java", ["java", "-version"])) == nil)
    #expect(recognize(record(1505, 1, "python3", ["python3", "-jar", "x.jar"])) == nil)
    #expect(recognize(record(1506, 1, "javac", ["javac", "-jar", "x.jar"])) == nil)
  }

  // MARK: systemd socket activation

  private let listing = """
    [::]:22                     ssh.socket                   ssh.service
    0.0.0.0:631                 cups.socket                  cups.service
    127.0.0.1:8080              app.socket
    /run/dbus/system_bus_socket dbus.socket                  dbus.service
    route 1361                  systemd-networkd.socket      systemd-networkd.service
    kobject-uevent 1            systemd-udevd-kernel.socket  systemd-udevd.service

    """

  @Test func listSocketsParses() {
    let units = SystemdSocketUnit.parse(listing + "garbage without a unit\n\u{0}\n   \n")
    #expect(
      units.map(\.unit) == [
        "ssh.socket", "cups.socket", "app.socket", "dbus.socket", "systemd-networkd.socket",
        "systemd-udevd-kernel.socket",
      ])
    #expect(units[0].port == 22)
    #expect(units[0].activates == ["ssh.service"])
    #expect(units[2].activates.isEmpty)
    #expect(units[3].port == nil)
    #expect(units[4].listen == "route 1361")
    #expect(units[4].port == nil)
    #expect(SystemdSocketUnit.parse("").isEmpty)
  }

  @Test func systemdHoldingAListenerNamesTheSocketAndService() throws {
    let units = SystemdSocketUnit.parse(listing)
    let systemd = record(1, 0, "systemd", ["/sbin/init"])
    let server = try #require(recognize(systemd, socket: socket(22, .anyV6), units: units))
    #expect(server.kind == .systemdSocket)
    #expect(server.name == "ssh.socket")
    #expect(server.stop == "systemctl stop ssh.socket ssh.service")
    // IPv4 on a dual-stack [::] listener, and the default service of a unit that names none.
    #expect(recognize(systemd, socket: socket(22), units: units)?.name == "ssh.socket")
    #expect(
      recognize(systemd, socket: socket(8080, .loopbackV4), units: units)?.stop
        == "systemctl stop app.socket app.service")
    // A service the socket unit started.
    let cups = record(2000, 1, "cupsd", ["/usr/sbin/cupsd", "-l"], cgroup: "0::/system.slice/cups.service")
    let started = try #require(recognize(cups, socket: socket(631), units: units))
    #expect(started.kind == .systemdSocket)
    #expect(started.master.pid == 2000)
    #expect(started.stop == "systemctl stop cups.socket cups.service")
    // Not covered: another port, another service, no listing, not pid 1.
    #expect(recognize(systemd, socket: socket(9999), units: units) == nil)
    let other = record(2001, 1, "x", ["x"], cgroup: "0::/system.slice/other.service")
    #expect(recognize(other, socket: socket(631), units: units) == nil)
    #expect(recognize(cups, socket: socket(631)) == nil)
    #expect(recognize(record(1, 0, "init", ["/sbin/init"]), socket: socket(22), units: units) == nil)
  }

  @Test func socketUnitsAreReadOnlyUnderSystemd() {
    let systemd = record(1, 0, "systemd", ["/sbin/init"])
    let service = record(10, 1, "cupsd", ["cupsd"], cgroup: "0::/system.slice/cups.service")
    #expect(ProvenanceReader.mayBeSocketActivated(systemd, ancestry: []))
    #expect(ProvenanceReader.mayBeSocketActivated(service, ancestry: [systemd]))
    #expect(!ProvenanceReader.mayBeSocketActivated(service, ancestry: [record(1, 0, "tini", ["tini"])]))
    let plain = record(11, 1, "node", ["node"], cgroup: "0::/user.slice/user-0.slice/session-1.scope")
    #expect(!ProvenanceReader.mayBeSocketActivated(plain, ancestry: [systemd]))
    let user = record(
      12, 1, "node", ["node"], cgroup: "0::/user.slice/user-1000.slice/user@1000.service/app.slice/api.service")
    #expect(!ProvenanceReader.mayBeSocketActivated(user, ancestry: [systemd]))
  }

  /// Odd input never traps: empty command lines, lone flags, stray brackets and colons.
  @Test func oddInputDoesNotCrash() {
    let odd: [[String]] = [
      [], [""], ["-"], ["--"], ["ssh", "-"], ["ssh", "-L", ""], ["ssh", "-L:::"], ["ssh", "-L[", "h"], ["ssh", "-o"],
      ["ssh", "-o", "LocalForward"], ["ssh", "-o", "LocalForward="], ["postgres", "-D"], ["java", "-jar"],
      ["java", "-Dcatalina.base=", "org.apache.catalina.startup.Bootstrap"], ["redis-server", "--unixsocket"],
    ]
    for name in ["ssh", "postgres", "java", "redis-server", "sshd", "mysqld", "memcached", "systemd"] {
      for commandLine in odd {
        let holder = record(name == "systemd" ? 1 : 3000, 0, name, commandLine)
        _ = recognize(
          holder, ancestors: [holder], children: [3000: [holder]], socket: socket(0),
          units: [
            SystemdSocketUnit(listen: "", unit: ".socket", activates: []),
            SystemdSocketUnit(listen: "[:0", unit: "x.socket", activates: [""]),
          ])
      }
    }
    _ = SystemdSocketUnit.parse(":\n.socket\n: .socket :\n[]:x a.socket")
    _ = SSHForward.fields("[")
    _ = SSHForward.fields("]:[")
  }
}

/// ProvenanceReader asks systemctl for its socket units only under systemd, once per report.
@Suite struct SocketActivationReaderTests {
  struct TreeSource: SystemSource {
    var initName: String
    func snapshot(for query: SocketQuery) async throws(PortKitError) -> SystemSnapshot {
      throw PortKitError(.toolFailed, "No snapshot in this test.")
    }
    func ancestry(of pid: PID) async -> [ProcessRecord] {
      pid == 1 ? [] : [ProcessRecord(pid: 1, ppid: 0, name: initName, commandLine: ["/sbin/init"])]
    }
  }

  final class ListingRunner: CommandRunner, @unchecked Sendable {
    var calls: [[String]] = []
    func run(_ executable: String, _ arguments: [String]) async throws(PortKitError) -> CommandOutput {
      calls.append([executable] + arguments)
      return CommandOutput(exitCode: 0, standardOutput: Array("[::]:631  cups.socket  cups.service\n".utf8))
    }
  }

  private func servers(initName: String) async -> ([PID: RecognizedServer], [[String]]) {
    let runner = ListingRunner()
    let reader = ProvenanceReader(
      source: TreeSource(initName: initName), runner: runner, effectiveUID: 0, socketOwner: { _ in nil },
      securePath: { _, _ in nil })
    let systemd = ProcessRecord(pid: 1, ppid: 0, name: initName, commandLine: ["/sbin/init"])
    let cups = ProcessRecord(
      pid: 40, ppid: 1, name: "cupsd", commandLine: ["/usr/sbin/cupsd", "-l"],
      controlGroup: "0::/system.slice/cups.service")
    let entry = SocketEntry(proto: .tcp, local: Endpoint(address: .anyV6, port: 631), state: .listen, id: 1)
    let report = PortReport(
      sockets: [
        SocketReport(
          socket: entry,
          owner: .processes([HolderProcess(process: systemd, fds: [40]), HolderProcess(process: cups, fds: [3])]))
      ], takenAt: 0, effectiveUID: 0)
    let result = await reader.provenance(for: report)
    return (result.compactMapValues(\.server), runner.calls)
  }

  @Test func underSystemdTheListingIsReadOnceAndNamesTheUnits() async {
    let (servers, calls) = await servers(initName: "systemd")
    #expect(calls == [["systemctl", "list-sockets", "--all", "--full", "--no-legend", "--no-pager"]])
    #expect(servers[1]?.kind == .systemdSocket)
    #expect(servers[1]?.stop == "systemctl stop cups.socket cups.service")
    #expect(servers[40]?.kind == .systemdSocket)
    #expect(servers[40]?.master.pid == 40)
  }

  @Test func withoutSystemdNothingIsRun() async {
    let (servers, calls) = await servers(initName: "tini")
    #expect(calls.isEmpty)
    #expect(servers.isEmpty)
  }
}
