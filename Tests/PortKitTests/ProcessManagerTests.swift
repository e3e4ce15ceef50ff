import Testing

@testable import PortKit

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
    #expect(tmux[0].stop == "tmux send-keys -t %4 C-c")
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
