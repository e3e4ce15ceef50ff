@testable import CommandDocuments
@testable import PortKit

/// Reports and documents covering every shape the `--json` documents of `who`, `why`, `list`,
/// `kill`, `free` and `wait` take: each owner kind, timers, hidden owners with and without
/// candidates, unseen holders, provenance, projects, query specs, excluded ranges, and strings
/// that need escaping.
enum DocumentFixtures {
  static let takenAt = 1_700_000_100.5

  /// Strings a process can put in its name, command line or working directory.
  static let hostile: [String] = [
    #"quote " and backslash \ and slash /"#,
    "controls \u{0}\u{1}\u{7}\u{8}\t\n\u{B}\u{C}\r\u{1B}[31mred\u{1B}[0m\u{1F}",
    "del \u{7F} c1 \u{80}\u{85}\u{9B}\u{9F} nbsp \u{A0}",
    "rtl \u{202E}gnp.exe\u{202C} zwj \u{200D} bom \u{FEFF} lsep \u{2028} psep \u{2029} soft hyphen \u{AD}",
    "non-BMP 😀 \u{1D11E} tag \u{E0041} private \u{10FFFD} accents é ü 漢字",
    String(decoding: [0x62, 0x61, 0x64, 0x20, 0xFF, 0xFE, 0x20, 0xC3, 0x28, 0x20, 0xED, 0xA0, 0x80], as: UTF8.self),
    #"json-looking {"a":[1,2]} \u202e"#,
    "",
  ]

  static let nginx = ProcessRecord(
    pid: 100, ppid: 1, uid: 0, user: "root", name: "nginx",
    commandLine: ["nginx: master process /usr/sbin/nginx", "-g", "daemon off;"], executable: "/usr/sbin/nginx",
    workingDirectory: "/", startTime: 1_700_000_000.25, startTicks: 12345, controlGroup: "/system.slice/nginx.service")
  static let worker = ProcessRecord(
    pid: 101, ppid: 100, uid: 33, user: "www-data", name: "nginx", commandLine: ["nginx: worker process"],
    executable: "/usr/sbin/nginx", workingDirectory: "/var/www", startTime: takenAt - 0.1)
  static let hostileProcess = ProcessRecord(
    pid: 4242, ppid: 4000, uid: 1000, user: hostile[2], name: hostile[1], commandLine: hostile,
    executable: hostile[3], workingDirectory: hostile[4], startTime: takenAt - 1e-7)
  static let bare = ProcessRecord(pid: 7, ppid: 2, name: "kworker/0:1", isKernelThread: true)
  static let future = ProcessRecord(
    pid: 300, ppid: 1, uid: 1000, user: "dev", name: "node", commandLine: ["node", "server.js"],
    startTime: takenAt + 5)
  static let ancient = ProcessRecord(
    pid: 1, ppid: 0, uid: 0, user: "root", name: "systemd", commandLine: ["/sbin/init"], startTime: 0)
  static let windowsService = ProcessRecord(
    pid: 888, ppid: 600, uid: nil, user: #"NT AUTHORITY\SYSTEM"#, name: "svchost.exe",
    commandLine: [#"C:\Windows\system32\svchost.exe"#, "-k", "netsvcs"], startTime: 1_234_567_890.123_456,
    services: ["Dnscache", "W32Time"])
  static let candidateA = ProcessRecord(pid: 500, ppid: 1, uid: 101, user: "systemd-resolve", name: "resolved")
  static let candidateB = ProcessRecord(
    pid: 501, ppid: 500, uid: 101, user: "systemd-resolve", name: hostile[3], commandLine: [hostile[0]])

  static func address(_ text: String) -> IPAddress {
    IPAddress(text) ?? .anyV4
  }

  static func socket(
    _ proto: TransportProtocol, _ local: String, _ port: UInt16, remote: (String, UInt16)? = nil,
    state: SocketState, uid: UInt32? = nil, id: UInt64, v6Only: Bool? = nil, timer: SocketTimer? = nil
  ) -> SocketEntry {
    SocketEntry(
      proto: proto, local: Endpoint(address: address(local), port: port),
      remote: remote.map { Endpoint(address: address($0.0), port: $0.1) }, state: state, uid: uid, id: id,
      v6Only: v6Only, timer: timer)
  }

  static let nginxListener = socket(.tcp, "0.0.0.0", 80, state: .listen, uid: 0, id: 1001, timer: nil)
  static let dualStack = socket(.tcp, "::", 8080, state: .listen, uid: 0, id: 1002, v6Only: false)
  static let v6Only = socket(.tcp, "::1", 8443, state: .listen, uid: 1000, id: 1003, v6Only: true)
  static let linkLocal = socket(.udp, "fe80::1", 5353, state: .unconnected, uid: 1000, id: 1004)
  static let resolver = socket(.udp, "127.0.0.53", 53, state: .unconnected, uid: 101, id: 1005)
  static let established = socket(
    .tcp, "10.0.0.1", 443, remote: ("10.0.0.2", 51234), state: .established, uid: 0, id: 1006,
    timer: SocketTimer(kind: .keepalive, remainingSeconds: 7.5))
  static let timeWait = socket(
    .tcp, "127.0.0.1", 3000, remote: ("127.0.0.1", 40000), state: .timeWait, id: 0,
    timer: SocketTimer(kind: .timeWait, remainingSeconds: 59.999))
  static let retransmit = socket(
    .tcp, "2001:db8::5", 22, remote: ("2001:db8::9", 60000), state: .finWait1, uid: 0, id: 1007,
    timer: SocketTimer(kind: .retransmit, remainingSeconds: 1))
  static let probe = socket(
    .tcp, "192.168.1.2", 8081, remote: ("192.168.1.3", 80), state: .established, uid: 1000, id: 1008,
    timer: SocketTimer(kind: .zeroWindowProbe, remainingSeconds: 0))
  static let nfs = socket(.tcp, "0.0.0.0", 2049, state: .listen, uid: 0, id: 1009)
  static let container = socket(.tcp, "0.0.0.0", 5432, state: .listen, id: 1010)

  static let unseen = HiddenOwner(uid: 0, user: "root", reason: .notInspectable, candidates: [candidateA])

  static let sockets: [SocketReport] = [
    SocketReport(
      socket: resolver,
      owner: .hidden(
        HiddenOwner(
          uid: 101, user: "systemd-resolve",
          reason: .notInspectable, candidates: [candidateA, candidateB]))),
    SocketReport(socket: retransmit, owner: .processes([HolderProcess(process: ancient, fds: [3])])),
    SocketReport(
      socket: nginxListener,
      owner: .processes([
        HolderProcess(process: nginx, fds: [6, 7], descendantHolders: 1),
        HolderProcess(process: worker, fds: [6], sharesWith: 100),
      ]), unseenHolders: unseen),
    SocketReport(socket: established, owner: .processes([HolderProcess(process: nginx, fds: [12])])),
    SocketReport(socket: nfs, owner: .kernel),
    SocketReport(socket: timeWait, owner: .none),
    SocketReport(socket: container, owner: .hidden(HiddenOwner(uid: nil, user: nil, reason: .notVisible))),
    SocketReport(socket: linkLocal, owner: .processes([HolderProcess(process: hostileProcess, fds: [])])),
    SocketReport(
      socket: dualStack, owner: .hidden(HiddenOwner(uid: 1001, user: nil, reason: .needsPrivilege))),
    SocketReport(socket: probe, owner: .processes([HolderProcess(process: future, fds: [21, 22, 23])])),
    SocketReport(socket: v6Only, owner: .processes([HolderProcess(process: bare, fds: [4])])),
    SocketReport(
      socket: socket(.tcp, "0.0.0.0", 135, state: .listen, id: 1011),
      owner: .processes([HolderProcess(process: windowsService, fds: [])]),
      unseenHolders: HiddenOwner(uid: nil, user: nil, reason: .needsPrivilege)),
  ]

  static let server = RecognizedServer(
    kind: .nginx, name: "nginx", detail: "nginx master 100 with 1 worker", master: nginx, workers: [worker],
    stopSignal: .quit, grace: .milliseconds(10_500), stop: "systemctl stop nginx.service", signalsEveryProcess: false)
  static let hostileServer = RecognizedServer(
    kind: .nodeCluster, name: hostile[3], detail: hostile[1], master: hostileProcess, workers: [],
    grace: .seconds(5), stop: nil, signalsEveryProcess: true)

  static let provenance: [PID: Provenance] = [
    100: Provenance(
      ancestry: [nginx, ancient],
      managers: [
        ProcessManager(
          kind: .systemdUnit, name: "nginx.service", detail: "systemd unit nginx.service",
          stop: "systemctl stop nginx.service", evidence: .controlGroup),
        ProcessManager(
          kind: .pm2, name: hostile[0], detail: hostile[3], stop: "pm2 stop 0", evidence: .environment),
      ], server: server),
    101: Provenance(ancestry: [worker, nginx, ancient], managers: [], server: server),
    4242: Provenance(
      ancestry: [hostileProcess, bare],
      managers: [
        ProcessManager(kind: .tmux, name: hostile[4], detail: hostile[5], stop: hostile[6], evidence: .commandLine)
      ], server: hostileServer),
    // 300 and 1 have no provenance read: empty ancestry and managers, null server.
  ]

  static let projects: [PID: Project] = [
    100: Project(root: "/srv/site", markers: [".git", "package.json"], branch: "main", framework: "Next.js"),
    4242: Project(
      root: hostile[4] + "/", markers: [hostile[0]], branch: nil, detachedCommit: "abc1234", framework: hostile[3]),
    300: Project(root: "/"),
  ]

  static func spec(_ text: String) -> PortSpec {
    (try? PortSpec(parsing: text)) ?? PortSpec(ports: 1...1, proto: nil, address: nil, text: text)
  }

  static let specs: [PortSpec] = [
    spec("80"), spec("tcp:8000-8100"), spec("udp:[::1]:53"), spec("127.0.0.1:3000"),
    PortSpec(ports: 1...65535, proto: nil, address: nil, text: hostile[1]),
  ]

  static let excluded: [ExcludedPortHit] = [
    ExcludedPortHit(proto: .tcp, spec: specs[1], range: PortRange(ports: 8050...8059, administered: true)),
    ExcludedPortHit(proto: .udp, spec: specs[4], range: PortRange(ports: 50000...50059)),
  ]

  static func report(_ sockets: [SocketReport], uninspectable: Int = 0) -> PortReport {
    PortReport(sockets: sockets, takenAt: takenAt, uninspectableCount: uninspectable, effectiveUID: 1000)
  }

  /// Named report documents: `who`, `why` and `list` as the CLI and the MCP server make them.
  static var reportDocuments: [(String, ReportDocument)] {
    [
      (
        "who-full",
        ReportDocument(
          command: "who", exitCode: 0, query: specs, report: report(sockets, uninspectable: 3), excluded: excluded,
          provenance: provenance, projects: projects)
      ),
      (
        "why-host",
        ReportDocument(
          command: "why", exitCode: 0, query: [specs[0]], report: report(Array(sockets[2...3])),
          provenance: provenance, projects: [:], host: "user@example.com")
      ),
      (
        "who-empty",
        ReportDocument(command: "who", exitCode: 1, query: [specs[3]], report: report([]), provenance: [:])
      ),
      (
        "who-unheld",
        ReportDocument(
          command: "who", exitCode: 1, query: [specs[3]], report: report([sockets[5]]), excluded: [excluded[0]],
          projects: projects, host: hostile[0])
      ),
      (
        "list-all",
        ReportDocument(
          command: "list", exitCode: 0, query: nil, report: report(sockets, uninspectable: 12), held: true,
          projects: projects)
      ),
      (
        "list-no-projects",
        ReportDocument(command: "list", exitCode: 0, query: nil, report: report(sockets), held: true)
      ),
      (
        "list-empty",
        ReportDocument(command: "list", exitCode: 1, query: nil, report: report([]), held: false, host: "box")
      ),
    ]
  }

  static var plan: TerminationPlan {
    var plan = TerminationPlan(
      targets: [
        .init(process: nginx, sockets: [nginxListener, established], sharesWith: nil),
        .init(process: worker, sockets: [nginxListener], sharesWith: 100),
        .init(process: hostileProcess, sockets: [linkLocal, resolver], sharesWith: nil),
      ],
      protected: [.init(process: ancient, reason: "init (pid 1) is never signalled")],
      hidden: [sockets[0], sockets[6]], kernelHeld: [sockets[4]])
    plan.clients = [sockets[3]]
    plan.partlyHidden = [sockets[2]]
    plan.groups = [
      .init(
        server: server,
        manager: ProcessManager(
          kind: .systemdUnit, name: "nginx.service", detail: "unit", stop: "systemctl stop nginx.service",
          evidence: .controlGroup),
        stop: TerminationStop(
          master: nginx, signalled: [nginx], followers: [worker], signal: .quit, grace: .milliseconds(10_500))),
      .init(
        server: nil, manager: nil,
        stop: TerminationStop(
          master: hostileProcess, signalled: [hostileProcess], signal: .terminate, grace: .seconds(5))
      ),
    ]
    return plan
  }

  static var portResults: [FreeVerifier.PortResult] {
    var held = FreeVerifier.PortResult(
      item: .init(proto: .tcp, port: 80), verdict: .held,
      probe: BindProbe.Result(
        port: 80, proto: .tcp, outcomes: [.anyV4: .inUse, .anyV6: .failed(errno: 98)], plainBindable: false),
      respawn: FreeVerifier.Respawn(
        holders: [HolderProcess(process: hostileProcess, fds: [3])], supervisor: future, alreadyRunning: true,
        hiddenOwner: HiddenOwner(uid: 0, user: hostile[0], reason: .needsPrivilege)),
      stillHeld: [sockets[2]], lingering: [timeWait, established])
    held.connections = [sockets[3], sockets[9]]
    let free = FreeVerifier.PortResult(
      item: .init(proto: .udp, port: 53), verdict: .freeExceptTimeWait,
      probe: BindProbe.Result(port: 53, proto: .udp, outcomes: [address("::1"): .bindable], plainBindable: true),
      respawn: FreeVerifier.Respawn(holders: [], supervisor: nil), stillHeld: [], lingering: [])
    let unprobed = FreeVerifier.PortResult(
      item: .init(proto: .tcp, port: 3000), verdict: .freeUnprobed, probe: nil, respawn: nil, stillHeld: [],
      lingering: [])
    return [held, free, unprobed]
  }

  /// Named `kill`/`free` documents.
  static var terminationDocuments: [(String, TerminationDocument)] {
    var dryRun = TerminationDocument(command: "kill", dryRun: true)
    dryRun.plan = plan
    dryRun.consent = nil
    dryRun.planId = "0123456789abcdef"
    var freed = TerminationDocument(command: "free", dryRun: false)
    freed.plan = plan
    freed.consent = "yes-flag"
    freed.exitCode = 1
    freed.results = [
      TerminationResult(
        process: nginx, outcome: .exited(after: .quit, seconds: 0.25), signalsSent: [.quit],
        grace: .milliseconds(10_500)),
      TerminationResult(process: worker, outcome: .stoppedWithMaster(seconds: 0.3), signalsSent: []),
      TerminationResult(
        process: hostileProcess, outcome: .killed(seconds: 5.000_001), signalsSent: [.terminate, .kill]),
    ]
    freed.respawnRisks = [hostile[3], "nginx.service restarts it"]
    freed.ports = portResults
    freed.respawnWatch = FreeVerifier.Watch(
      window: .seconds(2), watched: .milliseconds(1234), ending: .respawned)
    freed.managerStops = [
      PortFreeing.ManagerStop(command: "systemctl stop nginx.service", exitCode: 5, message: hostile[1]),
      PortFreeing.ManagerStop(command: "pm2 stop 0", exitCode: nil, message: "could not run pm2"),
    ]
    freed.host = "user@host"
    freed.failure = ("plan-changed", hostile[0])
    let empty = TerminationDocument(command: "free", dryRun: true)
    return [("kill-dry-run", dryRun), ("free-verified", freed), ("free-empty", empty)]
  }

  static let check = BindCheck(
    proto: .tcp, port: 80, address: nil, bindable: false, binds: [.anyV4: .inUse, .anyV6: .permissionDenied],
    plainBindable: nil,
    reasons: [BindReason(.init(rawValue: "in-use"), hostile[0], pids: [100, 101], remedy: .endConnections(port: 80))],
    notes: [BindReason(.init(rawValue: "time-wait"), "sockets in TIME_WAIT", pids: [])])

  /// Named `check` documents.
  static var checkDocuments: [(String, CheckDocument)] {
    let bindable = BindCheck(
      proto: .udp, port: 5353, address: address("::1"), bindable: true, binds: [address("::1"): .bindable],
      plainBindable: true, reasons: [],
      notes: [
        BindReason(
          .init(rawValue: "note"), hostile[3], pids: [4242], remedy: .stopHolders(port: 5353))
      ])
    return [
      ("check-mixed", CheckDocument(exitCode: 1, checks: [check, bindable], host: hostile[0])),
      ("check-empty", CheckDocument(exitCode: 0, checks: [])),
    ]
  }

  /// Named `explain` documents.
  static var explainDocuments: [(String, ExplainDocument)] {
    let failure = BindFailure(
      kind: .addressInUse, runtime: "node", errorName: "EADDRINUSE", port: 80, address: .anyV6, host: hostile[0],
      proto: .tcp, operation: .bind, reuseAddress: true)
    let bare = BindFailure(
      kind: .unspecified, runtime: hostile[3], errorName: hostile[1], port: nil, address: nil, host: nil, proto: nil)
    return [
      (
        "explain-recognized",
        ExplainDocument(exitCode: 1, failure: failure, check: check, checks: [check], problem: hostile[4])
      ),
      (
        "explain-bare",
        ExplainDocument(exitCode: 5, failure: bare, check: nil, checks: [], problem: nil, advice: hostile[0])
      ),
      ("explain-unrecognized", ExplainDocument(exitCode: 5, failure: nil, check: nil, problem: nil)),
    ]
  }

  /// Named `wait` documents.
  static var waitDocuments: [(String, WaitDocument)] {
    [
      (
        "wait-timeout",
        WaitDocument(
          exitCode: 1, condition: .free, met: false, seconds: 30.000_1, report: report(Array(sockets[0...3])),
          checks: [check])
      ),
      ("wait-met", WaitDocument(exitCode: 0, condition: .listening, met: true, seconds: 0, report: report([]))),
    ]
  }
}
