import Testing

@testable import PortKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct ProcessManagerTests {
  private func process(
    _ pid: PID, _ name: String, _ commandLine: [String], cgroup: String? = nil, services: [String] = []
  ) -> ProcessRecord {
    ProcessRecord(pid: pid, ppid: 1, name: name, commandLine: commandLine, controlGroup: cgroup, services: services)
  }
  private let socket = SocketEntry(proto: .tcp, local: Endpoint(address: .anyV4, port: 8080), state: .listen, id: 1)
  private func kinds(_ holder: ProcessRecord, ancestors: [ProcessRecord] = [], environment: [String: String]? = nil)
    -> [ProcessManager]
  {
    ProcessManagers.detect(holder: holder, ancestors: ancestors, environment: environment, socket: socket)
  }

  @Test func systemdSystemAndUserUnitsFromTheCgroup() {
    let nginx = kinds(process(10, "nginx", ["nginx: master process"], cgroup: "0::/system.slice/nginx.service\n"))
    #expect(nginx.map(\.kind) == [.systemdUnit])
    #expect(nginx[0].stop == "systemctl stop nginx.service")
    let user = kinds(
      process(
        11, "node", ["node", "api.js"], cgroup: "0::/user.slice/user-1000.slice/user@1000.service/app.slice/api.service"
      ))
    #expect(user.map(\.kind) == [.systemdUserUnit])
    #expect(user[0].stop == "systemctl --user stop api.service")
    #expect(kinds(process(12, "bash", ["bash"], cgroup: "0::/user.slice/user-1000.slice/session-2.scope")).isEmpty)
  }

  @Test func containersFromTheCgroupInBothLayouts() {
    let id = String(repeating: "ab12", count: 16)
    let v2 = kinds(process(20, "node", ["node"], cgroup: "0::/system.slice/docker-\(id).scope"))
    #expect(v2.map(\.kind) == [.docker])
    #expect(v2[0].name == "ab12ab12ab12")
    #expect(v2[0].stop == "docker stop ab12ab12ab12")
    let v1 = kinds(process(21, "node", ["node"], cgroup: "12:pids:/docker/\(id)\n1:name=systemd:/docker/\(id)"))
    #expect(v1.map(\.kind) == [.docker])
    let podman = kinds(process(22, "node", ["node"], cgroup: "0::/machine.slice/libpod-\(id).scope/container"))
    #expect(podman.map(\.kind) == [.podman])
    #expect(podman[0].stop == "podman stop ab12ab12ab12")
    #expect(ProcessManagers.container("0::/system.slice/docker-short.scope") == nil)
  }

  @Test func dockerProxyNamesTheContainerAddress() {
    let proxy = kinds(
      process(
        30, "docker-proxy",
        [
          "/usr/bin/docker-proxy", "-proto", "tcp", "-host-ip", "0.0.0.0", "-host-port", "8080", "-container-ip",
          "172.17.0.2",
          "-container-port", "80",
        ], cgroup: "0::/system.slice/docker.service"))
    #expect(proxy.first?.kind == .dockerProxy)
    #expect(proxy.first?.name == "172.17.0.2:80")
    #expect(proxy.first?.stop == "docker ps --filter publish=8080, then docker stop NAME")
  }

  @Test func forwardsSshKubectl() {
    #expect(kinds(process(40, "ssh", ["ssh", "-N", "-L", "8080:localhost:80", "host"])).first?.kind == .sshForward)
    #expect(kinds(process(41, "ssh", ["ssh", "-D1080", "host"])).first?.kind == .sshForward)
    #expect(kinds(process(42, "ssh", ["ssh", "host"])).isEmpty)
    let kubectl = kinds(process(43, "kubectl", ["kubectl", "port-forward", "svc/web", "8080:80"]))
    #expect(kubectl.first?.kind == .kubectlPortForward)
    #expect(kubectl.first?.name == "port-forward svc/web 8080:80")
  }

  /// nginx rewrites its environment when it sets its title, so supervisord's variables are
  /// gone: the supervisord ancestor still names the manager, with a stop that needs the name.
  @Test func supervisordAncestorWithoutItsEnvironment() {
    let supervisord = process(
      50, "supervisord", ["/usr/bin/python3", "/usr/local/bin/supervisord", "-c", "/etc/sv.conf"])
    let nginx = kinds(process(51, "nginx", ["nginx: master process nginx -c /srv/n.conf"]), ancestors: [supervisord])
    #expect(nginx.map(\.kind) == [.supervisord])
    #expect(nginx[0].evidence == .ancestor)
    #expect(nginx[0].stop == "supervisorctl -c /etc/sv.conf status, then supervisorctl -c /etc/sv.conf stop NAME")
    // The program named in the environment is not listed twice.
    let named = kinds(
      process(52, "gunicorn", ["gunicorn"]), ancestors: [supervisord], environment: ["SUPERVISOR_PROCESS_NAME": "web"])
    #expect(named.map(\.kind) == [.supervisord])
    #expect(named[0].name == "web")
  }

  @Test func supervisordPm2TmuxScreenFromTheEnvironment() {
    let supervisord = process(
      50, "supervisord", ["/usr/bin/python3", "/usr/local/bin/supervisord", "-c", "/etc/sv.conf"])
    let program = kinds(
      process(51, "gunicorn", ["gunicorn"]), ancestors: [supervisord],
      environment: ["SUPERVISOR_PROCESS_NAME": "web", "SUPERVISOR_GROUP_NAME": "apps"])
    #expect(program.map(\.kind) == [.supervisord])
    #expect(program[0].name == "apps:web")
    #expect(program[0].stop == "supervisorctl -c /etc/sv.conf stop apps:web")
    let pm2 = kinds(
      process(52, "node", ["node", "/srv/app.js"]),
      ancestors: [process(40, "PM2 v5.3.0: God", ["PM2 v5.3.0: God Daemon"])],
      environment: ["pm_id": "3", "name": "api"])
    #expect(pm2.map(\.kind) == [.pm2])
    #expect(pm2[0].stop == "pm2 stop api")
    let tmux = kinds(
      process(53, "vite", ["node", "vite"]), environment: ["TMUX": "/tmp/tmux-0/default,99,0", "TMUX_PANE": "%4"])
    #expect(tmux.map(\.kind) == [.tmux])
    #expect(tmux[0].stop == "tmux -S /tmp/tmux-0/default send-keys -t %4 C-c")
    let screen = kinds(process(54, "rails", ["ruby", "bin/rails", "s"]), environment: ["STY": "1234.pts-0.box"])
    #expect(screen.map(\.kind) == [.screen])
  }

  @Test func supervisingAncestors() {
    let holder = process(60, "node", ["node", "server.js"])
    #expect(
      kinds(holder, ancestors: [process(59, "node", ["node", "/usr/bin/nodemon", "server.js"])]).map(\.kind) == [
        .nodemon
      ])
    #expect(
      kinds(holder, ancestors: [process(59, "ruby", ["ruby", "/usr/bin/foreman", "start"])]).map(\.kind) == [
        .procfileRunner
      ])
    let runit = kinds(holder, ancestors: [process(59, "runsv", ["runsv", "web"])])
    #expect(runit.map(\.kind) == [.runit])
    #expect(runit[0].stop == "sv down web")
    let s6 = kinds(holder, ancestors: [process(59, "s6-supervise", ["s6-supervise", "web"])])
    #expect(s6.first?.stop == "s6-svc -d web")
    let vscode = kinds(
      holder, ancestors: [process(59, "node", ["/home/a/.vscode-server/bin/x/node", "server-main.js"])])
    #expect(vscode.map(\.kind) == [.ideForward])
    let launchd = kinds(
      holder, ancestors: [ProcessRecord(pid: 1, ppid: 0, name: "launchd", commandLine: ["/sbin/launchd"])])
    #expect(launchd.map(\.kind) == [.launchd])
    #expect(kinds(holder, ancestors: [process(59, "bash", ["-bash"])]).isEmpty)
  }

  @Test func windowsServices() {
    let managers = kinds(process(70, "svchost.exe", [], services: ["W3SVC", "WAS"]))
    #expect(managers.map(\.stop) == ["sc stop W3SVC", "sc stop WAS"])
  }

  @Test func environParser() {
    let bytes = Array("PATH=/bin\u{0}TMUX=/tmp/t,1,0\u{0}EMPTY=\u{0}=bad\u{0}noequals\u{0}A=b=c\u{0}".utf8)
    let environment = ProcfsParsers.environment(bytes)
    #expect(environment == ["PATH": "/bin", "TMUX": "/tmp/t,1,0", "EMPTY": "", "A": "b=c"])
  }
}

/// Stop commands built from hostile values, and what each claim rests on.
@Suite struct HostileManagerTests {
  private let socket = SocketEntry(proto: .tcp, local: Endpoint(address: .anyV4, port: 8080), state: .listen, id: 1)
  private let hostile = "api && rm -rf ~ #"
  private let quoted = "'api && rm -rf ~ #'"

  private func detect(
    _ holder: ProcessRecord, ancestors: [ProcessRecord] = [], environment: [String: String]? = nil
  ) -> [ProcessManager] {
    ProcessManagers.detect(holder: holder, ancestors: ancestors, environment: environment, socket: socket)
  }
  private let node = ProcessRecord(pid: 50, ppid: 49, name: "node", commandLine: ["node", "app.js"])

  @Test func supervisordNameGroupAndConfigAreQuoted() {
    let alone = detect(node, environment: ["SUPERVISOR_PROCESS_NAME": hostile])
    #expect(alone.first?.stop == "supervisorctl stop \(quoted)")
    #expect(alone.first?.evidence == .environment)
    #expect(alone.first?.evidence.isSelfReported == true)
    #expect(alone.first?.summary.contains("(self-reported: only the process's own environment says so") == true)
    let daemon = ProcessRecord(
      pid: 49, ppid: 1, name: "supervisord", commandLine: ["supervisord", "-c", "/tmp/my conf;$(id).ini"])
    let grouped = detect(
      node, ancestors: [daemon], environment: ["SUPERVISOR_PROCESS_NAME": "web", "SUPERVISOR_GROUP_NAME": "g`id`"])
    #expect(grouped.first?.stop == "supervisorctl -c '/tmp/my conf;$(id).ini' stop 'g`id`:web'")
    #expect(grouped.first?.evidence == .ancestor)
    #expect(grouped.first?.evidenceWarning == nil)
  }

  @Test func pm2NameTmuxPaneAndScreenSessionAreQuoted() {
    let pm2 = detect(node, environment: ["pm_id": "$(id)", "name": hostile])
    #expect(pm2.first?.stop == "pm2 stop \(quoted)")
    #expect(pm2.first?.evidence == .environment)
    let pm2ByID = detect(node, environment: ["pm_id": "1; reboot"])
    #expect(pm2ByID.first?.stop == "pm2 stop '1; reboot'")
    let tmux = detect(node, environment: ["TMUX": "/tmp/t,1,0", "TMUX_PANE": "%1; rm -rf /"])
    #expect(tmux.first?.stop == "tmux -S /tmp/t send-keys -t '%1; rm -rf /' C-c")
    #expect(tmux.first?.evidence == .environment)
    let underTmux = detect(
      node, ancestors: [ProcessRecord(pid: 40, ppid: 1, name: "tmux: server", commandLine: ["tmux"])],
      environment: ["TMUX": "/tmp/t,1,0", "TMUX_PANE": "%1"])
    #expect(underTmux.first?.evidence == .ancestor)
    let screen = detect(node, environment: ["STY": "1.x`reboot`"])
    #expect(screen.first?.stop == "screen -r '1.x`reboot`', then Ctrl-C (or screen -S '1.x`reboot`' -X quit)")
    #expect(screen.first?.evidence == .environment)
  }

  @Test func runitS6DockerProxyAndLaunchdValuesAreQuoted() {
    let runit = detect(
      node, ancestors: [ProcessRecord(pid: 9, ppid: 1, name: "runsv", commandLine: ["runsv", "w;id"])])
    #expect(runit.first?.stop == "sv down 'w;id'")
    #expect(runit.first?.evidence == .ancestor)
    let s6 = detect(
      node, ancestors: [ProcessRecord(pid: 9, ppid: 1, name: "s6-supervise", commandLine: ["s6-supervise", "$(id)"])])
    #expect(s6.first?.stop == "s6-svc -d '$(id)'")
    let proxy = detect(
      ProcessRecord(
        pid: 30, ppid: 1, name: "docker-proxy",
        commandLine: ["/usr/bin/docker-proxy", "-host-port", "80;id", "-container-ip", "1.2.3.4"]))
    #expect(proxy.first?.stop == "docker ps --filter 'publish=80;id', then docker stop NAME")
    #expect(proxy.first?.evidence == .commandLine)
    #expect(proxy.first?.evidenceWarning == "self-reported: only the process's own command line says so")
    let launchd = detect(
      ProcessRecord(pid: 31, ppid: 1, name: "x|sh"),
      ancestors: [ProcessRecord(pid: 1, ppid: 0, name: "launchd", commandLine: ["/sbin/launchd"])])
    #expect(
      launchd.first?.stop
        == "launchctl list | grep -i -- 'x|sh', then launchctl bootout gui/$(id -u)/LABEL (or system/LABEL)")
    let unit = detect(
      ProcessRecord(pid: 32, ppid: 1, name: "x", controlGroup: "0::/system.slice/a\\x2db.service"))
    #expect(unit.first?.stop == "systemctl stop 'a\\x2db.service'")
    #expect(unit.first?.evidence == .controlGroup)
    let service = detect(ProcessRecord(pid: 33, ppid: 1, name: "svchost.exe", services: ["My Svc&calc"]))
    #expect(service.first?.stop == "sc stop \"My Svc&calc\"")
    #expect(service.first?.evidence == .serviceTable)
  }
}

/// When a tmux server named in a holder's environment may be asked for a pane's names.
@Suite struct TmuxProvenanceTests {
  struct EnvironmentSource: SystemSource {
    var environment: [String: String]
    func snapshot(for query: SocketQuery) async throws(PortKitError) -> SystemSnapshot {
      throw PortKitError(.toolFailed, "No snapshot in this test.")
    }
    func environment(of pid: PID) async -> [String: String]? { environment }
  }

  final class RecordingRunner: CommandRunner, @unchecked Sendable {
    var calls: [[String]] = []
    let output: String
    init(output: String) { self.output = output }
    func run(_ executable: String, _ arguments: [String]) async throws(PortKitError) -> CommandOutput {
      calls.append([executable] + arguments)
      return CommandOutput(exitCode: 0, standardOutput: Array(output.utf8))
    }
  }

  private func provenance(
    holderUID: UInt32?, socketOwner: UInt32?, effectiveUID: UInt32? = 1000, socket: String = "/tmp/tmux-1000/default",
    secure: Bool = true
  ) async -> (ProcessManager?, [[String]]) {
    let runner = RecordingRunner(output: "dev;x\t0\t1\tweb\n")
    let reader = ProvenanceReader(
      source: EnvironmentSource(environment: ["TMUX": "\(socket),5,0", "TMUX_PANE": "%3"]), runner: runner,
      effectiveUID: effectiveUID, socketOwner: { _ in socketOwner }, securePath: { path, _ in secure ? path : nil })
    let holder = ProcessRecord(pid: 70, ppid: 1, uid: holderUID, name: "vite")
    let entry = SocketEntry(proto: .tcp, local: Endpoint(address: .anyV4, port: 5173), state: .listen, id: 3)
    let report = PortReport(
      sockets: [SocketReport(socket: entry, owner: .processes([HolderProcess(process: holder, fds: [3])]))], takenAt: 0,
      effectiveUID: effectiveUID ?? 0)
    let result = await reader.provenance(for: report)
    return (result[70]?.managers.first, runner.calls)
  }

  @Test func ownServerIsAskedAndItsNamesAreQuoted() async {
    let (manager, calls) = await provenance(holderUID: 1000, socketOwner: 1000)
    #expect(calls.count == 1)
    #expect(calls.first?.prefix(3) == ["tmux", "-S", "/tmp/tmux-1000/default"])
    #expect(manager?.name == "dev;x")
    #expect(manager?.stop == "tmux -S /tmp/tmux-1000/default kill-session -t 'dev;x'")
    #expect(
      manager?.detail.hasSuffix("to stop only the program: tmux -S /tmp/tmux-1000/default send-keys -t 'dev;x:0.1' C-c")
        == true)
  }

  @Test func anotherUsersHolderOrSocketIsNeverAsked() async {
    let cases: [(UInt32?, UInt32?, UInt32?, String, String)] = [
      (65534, 65534, 0, "/tmp/x/default", "the holder runs as another user (uid 65534)"),
      (0, 65534, 0, "/tmp/x/default", "its server socket belongs to another user (uid 65534)"),
      (0, nil, 0, "/tmp/x/default", "its server socket is not a socket"),
      (0, 0, 0, "relative/default", "its server socket is not an absolute path"),
      (nil, 0, 0, "/tmp/x/default", "the holder's user is unknown"),
      (0, 0, nil, "/tmp/x/default", "portctl's own user is unknown"),
      (0, 0, 0, "/tmp/x/default", "another user can change a directory on the way to its server socket"),
    ]
    for (holderUID, owner, effective, socket, reason) in cases {
      let (manager, calls) = await provenance(
        holderUID: holderUID, socketOwner: owner, effectiveUID: effective, socket: socket,
        secure: !reason.hasPrefix("another user can change"))
      #expect(calls.isEmpty, "\(reason)")
      #expect(manager?.name == "%3")
      #expect(manager?.stop == "tmux -S \(socket) send-keys -t %3 C-c")
      #expect(manager?.detail.hasSuffix("its session was not asked for: \(reason)") == true, "\(manager?.detail ?? "")")
    }
  }

  @Test func securePathRefusesDirectoriesOthersCanChange() throws {
    let uid = try #require(Privileges.effectiveUID)
    let base = "/tmp/portkit-secure-\(uid)-\(Int.random(in: 0..<1_000_000))"
    #expect(mkdir(base, 0o700) == 0)
    defer {
      unlink(base + "/link")
      rmdir(base + "/open")
      rmdir(base + "/sticky")
      rmdir(base)
    }
    #expect(Privileges.securePath(base + "/default", uid: uid) == base + "/default")
    #expect(mkdir(base + "/open", 0o700) == 0 && chmod(base + "/open", 0o777) == 0)
    #expect(Privileges.securePath(base + "/open/default", uid: uid) == nil)
    #expect(mkdir(base + "/sticky", 0o700) == 0 && chmod(base + "/sticky", 0o1777) == 0)
    #expect(Privileges.securePath(base + "/sticky/default", uid: uid) == base + "/sticky/default")
    // A link on the way is resolved, and the directory it leads to is what is checked.
    #expect(symlink(base + "/open", base + "/link") == 0)
    #expect(Privileges.securePath(base + "/link/default", uid: uid) == nil)
    #expect(Privileges.securePath(base + "/missing/default", uid: uid) == nil)
    #expect(Privileges.securePath("relative", uid: uid) == nil)
    #expect(Privileges.securePath(base + "/", uid: uid) == nil)
  }

  @Test func rootLooksToolsUpOnlyInSystemDirectories() {
    let present: Set<String> = ["/usr/bin/tmux", "/usr/local/bin/lsof", "/usr/bin/lsof"]
    #expect(ToolLocation.systemPath(of: "tmux", isExecutable: present.contains) == "/usr/bin/tmux")
    #expect(ToolLocation.systemPath(of: "lsof", isExecutable: present.contains) == "/usr/local/bin/lsof")
    #expect(ToolLocation.systemPath(of: "ps", isExecutable: present.contains) == nil)
    #expect(ToolLocation.systemPath(of: "../bin/tmux", isExecutable: { _ in true }) == nil)
    #expect(ToolLocation.systemPath(of: "", isExecutable: { _ in true }) == nil)
    #expect(
      ToolLocation.systemDirectories == ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"])
  }

  @Test func toolsRunInTheCLocalesFormatsWithTheUsersCharacters() {
    let german = ToolEnvironment.overrides(for: ["LC_ALL": "de_DE.UTF-8", "LANG": "de_DE.UTF-8"])
    #expect(german["LC_ALL"] == .some(nil))
    #expect(german["LC_CTYPE"] == "de_DE.UTF-8")
    #expect(german["LC_TIME"] == "C")
    #expect(german["LC_NUMERIC"] == "C")
    #expect(german["LC_MESSAGES"] == "C")
    #expect(german["LANG"] == nil)
    // Without LC_ALL the character set comes from LANG or LC_CTYPE as before.
    let plain = ToolEnvironment.overrides(for: ["LANG": "de_DE.UTF-8", "LC_CTYPE": "C.UTF-8"])
    #expect(plain["LC_CTYPE"] == nil)
    #expect(plain["LC_TIME"] == "C")
  }

  #if os(Linux) || os(macOS)
  @Test func theRunnerGivesToolsThatEnvironment() async throws {
    let output = try await SubprocessRunner().run(
      "sh", ["-c", "printf '%s|%s|%s|%s' \"${LC_ALL-unset}\" \"$LC_TIME\" \"$LC_NUMERIC\" \"$LC_MESSAGES\""])
    #expect(String(decoding: output.standardOutput, as: UTF8.self) == "unset|C|C|C")
  }
  #endif
}
