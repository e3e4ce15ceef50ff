extension ProcessManagers {
  /// A holder that forwards a port itself: ssh -L/-R/-D, kubectl port-forward, docker-proxy (its command line).
  static func forwarding(_ clues: Clues, into found: inout [ProcessManager]) {
    let holder = clues.holder
    let port = clues.port
    let arguments = clues.arguments
    let program = clues.program
    // The holder itself forwards the port: ssh with -L/-R/-D in any spelling (-NL, -fNL8080:h:80,
    // -o LocalForward=…); the forward that listens on the socket's port is named.
    if program == "ssh" || holder.name == "ssh" {
      let ssh = SSHCommandLine(arguments: Array(arguments.dropFirst()))
      let covering = UInt16(port).map { ssh.forwards(listeningOn: $0) } ?? []
      if let forward = covering.first ?? ssh.forwards.first {
        found.append(
          ProcessManager(
            kind: .sshForward, name: forward.flag,
            detail: "an SSH port forward (\(arguments.joined(separator: " ")))",
            stop: "close that ssh session (exit it, or kill \(holder.pid))", evidence: .commandLine))
      }
    }
    if program.hasPrefix("kubectl"), arguments.contains("port-forward") {
      found.append(
        ProcessManager(
          kind: .kubectlPortForward, name: arguments.dropFirst().joined(separator: " "),
          detail: "kubectl port-forward, forwarding to a Kubernetes pod or service",
          stop: "press Ctrl-C in its terminal (or kill \(holder.pid))", evidence: .commandLine))
    }
    if program == "docker-proxy" {
      let value = { (flag: String) in
        arguments.firstIndex(of: flag).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
      }
      let target = [value("-container-ip"), value("-container-port")].compactMap { $0 }.joined(separator: ":")
      found.append(
        ProcessManager(
          kind: .dockerProxy, name: target,
          detail: "Docker's proxy publishing a container port\(target.isEmpty ? "" : " (to \(target))")",
          stop: "docker ps --filter \(quote("publish=\(value("-host-port") ?? port)")), then docker stop NAME",
          evidence: .commandLine))
    }

  }
}
