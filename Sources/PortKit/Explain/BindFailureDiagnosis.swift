/// What `explain` does with a recognised failure: which ports to check and how the failing
/// program binds, or advice when no port check can answer (an outgoing connection, or an
/// unavailable address the message does not name).
public enum BindFailureDiagnosis {
  /// The checks that judge `failure`, or the advice that replaces them.
  public enum Plan: Hashable, Sendable {
    case check([PortSpec], ServerBind)
    case advise(String)
  }

  /// `port` is the failure's port or the one given with `--port`.
  public static func plan(for failure: BindFailure, port: UInt16?) -> Plan? {
    if failure.operation == .connect {
      let peer =
        failure.address.map { $0.isWildcard ? "" : " to \(Endpoint(address: $0, port: failure.port ?? 0))" } ?? ""
      let reason =
        failure.kind == .addressNotAvailable || failure.kind == .addressInUse
        ? "an outgoing connection\(peer) found no free local port: the ephemeral ports toward that peer are used up (many connections opened and closed fast leave TIME_WAIT sockets holding them), or the client asked for a fixed local port (a source port, Node's localPort) that is taken"
        : "an outgoing connection\(peer) failed"
      // A Windows error (WSAENOBUFS 10055, WSAEADDRINUSE 10048) is fixed with Windows's tools,
      // wherever the message is read.
      let windows = failure.errorName.hasPrefix("WSA")
      let remedy =
        windows
        ? "widen the dynamic port range (netsh int ipv4 show dynamicport tcp; netsh int ipv4 set dynamicport tcp start=10000 num=55000) or shorten TIME_WAIT (the TcpTimedWaitDelay registry value); netstat -ano | findstr TIME_WAIT shows them, netstat -ano -p tcp counts the connections per process"
        : "widen net.ipv4.ip_local_port_range, or let new connections reuse TIME_WAIT ports (sysctl net.ipv4.tcp_tw_reuse=1); ss -tan state time-wait counts them, ss -tanp shows which process holds the connections"
      return .advise(
        "\(reason). This is not a server failing to bind, and the peer's port is not the problem: reuse connections (keep-alive, a connection pool), close them from the client side less often, \(remedy)"
      )
    }
    if failure.operation == .remoteBind {
      let port = failure.port.map { " \($0)" } ?? ""
      return .advise(
        "The port\(port) is on the ssh server, not here: run portctl who\(port) (or ss -ltnp) on that machine, or pick another remote port. If nothing holds it there, the server refuses the forward: sshd_config's AllowTcpForwarding, PermitListen, or GatewayPorts for a non-loopback address; a port below 1024 needs root there"
      )
    }
    if failure.kind == .addressNotAvailable {
      if failure.address != nil {
        // Judged by the address: is it assigned to an interface here?
      } else if let host = failure.host {
        return .advise(
          "\(failure.runtime) tried to bind \(host), which resolves to no address of this machine (EADDRNOTAVAIL): bind 0.0.0.0, [::] or an address ip addr shows; the port is not the problem"
        )
      } else {
        return .advise(
          "\(failure.runtime) tried to bind an address that no interface of this machine has (EADDRNOTAVAIL), and the message does not say which: check the host or address it is configured to bind (ip addr lists this machine's addresses; 0.0.0.0 or [::] binds them all). The port is not the problem, so checking it proves nothing"
        )
      }
    }
    guard let port else { return nil }
    // A dual-stack [::] bind (Node's default) collides with both families: check both.
    let address = failure.address == .anyV6 ? nil : failure.address
    let protocols = failure.proto.map { [$0] } ?? [.tcp, .udp]
    let specs = protocols.map { PortSpec(ports: port...port, proto: $0, address: address, text: "\(port)") }
    let server = ServerBind(
      reuseAddress: failure.reuseAddress ?? true, unprivileged: failure.kind == .permissionDenied)
    return .check(specs, server)
  }

  /// The checks, judged against the failure: EACCES on a port that needs no privilege,
  /// where portctl's own bind works, is a policy refusing that program, not a free port.
  public static func judged(_ checks: [BindCheck], for failure: BindFailure) -> [BindCheck] {
    guard failure.kind == .permissionDenied else { return checks }
    return checks.map { check in
      guard check.bindable else { return check }
      var judged = check
      judged.bindable = false
      judged.reasons.append(
        BindReason(
          .permissionDenied,
          "portctl can bind \(check.port), which needs no privilege, yet \(failure.runtime) was refused (EACCES): a security policy denies that program (SELinux, AppArmor, a seccomp or container sandbox); look in the audit log (ausearch -m avc, journalctl -k) rather than restarting it"
        ))
      return judged
    }
  }

  /// The check that answers for the failure: the first that fails, else the first.
  public static func deciding(_ checks: [BindCheck]) -> BindCheck? {
    checks.first { !$0.bindable } ?? checks.first
  }
}
