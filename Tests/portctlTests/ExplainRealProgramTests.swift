#if os(Linux)
import Foundation
import Testing

/// `explain` on messages real programs print, with real programs holding the real state:
/// it must not say "Start the server again" when the server would fail again.
@Suite(
  .serialized,
  .enabled(if: Programs.installed(Programs.python, Programs.node, Programs.socat), "needs python3, node and socat"))
struct ExplainRealProgramTests {
  private func explain(_ message: String, _ arguments: String...) throws -> RunResult {
    try run(Products.portctl, ["explain"] + arguments, input: message)
  }
  private func codes(_ check: [String: Any]?) -> [String] {
    (check?["reasons"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
  }

  @Test func nodeDgramErrorIsCheckedAsUDP() throws {
    let port = try portFreeEverywhere()
    let holder = try Spawned(
      Programs.node,
      ["-e", "require('dgram').createSocket('udp4').bind(\(port), '0.0.0.0'); setInterval(() => {}, 1000)"])
    defer { holder.stop() }
    try #require(eventually { !canBindUDP(port) })
    let failed = try run(
      URL(fileURLWithPath: Programs.node), ["-e", "require('dgram').createSocket('udp4').bind(\(port))"])
    #expect(failed.stderr.contains("Error: bind EADDRINUSE 0.0.0.0:\(port)"))
    // TCP on that port is free: checked as TCP, this said "Start the server again".
    #expect(canBind(port))

    let result = try explain(failed.stderr, "--json")
    #expect(result.status == 1, "\(result.stdout)")
    let document = try result.json()
    #expect((document["failure"] as? [String: Any])?["protocol"] as? String == "udp")
    let check = document["check"] as? [String: Any]
    #expect(check?["protocol"] as? String == "udp")
    #expect(codes(check) == ["held"])
    #expect((check?["reasons"] as? [[String: Any]])?.first?["pids"] as? [Int] == [Int(holder.pid)])
    let text = try explain(failed.stderr)
    #expect(text.stdout.contains("Node.js could not bind on 0.0.0.0:\(port) (udp)"))
    #expect(text.stdout.contains("udp 0.0.0.0:\(port): cannot bind"))
    #expect(!text.stdout.contains("Start the server again"))
  }

  @Test func anUnsettledProtocolIsCheckedBothWays() throws {
    let port = try portFreeEverywhere()
    let holder = try Spawned(
      Programs.node,
      ["-e", "require('dgram').createSocket('udp4').bind(\(port), '0.0.0.0'); setInterval(() => {}, 1000)"])
    defer { holder.stop() }
    try #require(eventually { !canBindUDP(port) })
    let result = try explain("OSError: [Errno 98] Address already in use", "--port", "\(port)", "--json")
    #expect(result.status == 1)
    let checks = try #require(try result.json()["checks"] as? [[String: Any]])
    #expect(checks.compactMap { $0["protocol"] as? String } == ["tcp", "udp"])
    #expect(checks.compactMap { $0["bindable"] as? Bool } == [true, false])
    #expect((try result.json()["check"] as? [String: Any])?["protocol"] as? String == "udp")
  }

  @Test func socatBlockedByTimeWaitIsJudgedByAPlainBind() throws {
    // A real TIME_WAIT from Python's http.server (which sets SO_REUSEADDR) closing first.
    let port = try realTimeWait(reuseAddress: true)
    // Servers that set SO_REUSEADDR can bind: check says so.
    #expect(try portctl("check", "tcp:\(port)").status == 0)
    // socat does not set it, and fails.
    // (Bounded: should the bind work, socat would wait for a connection.)
    let socat = try run(
      URL(fileURLWithPath: "/usr/bin/timeout"), ["-s", "KILL", "5", Programs.socat, "TCP-LISTEN:\(port)", "-"])
    #expect(socat.status != 0)
    #expect(socat.stderr.contains("E bind(5, {AF=2 0.0.0.0:\(port)}, 16): Address already in use"))

    let result = try explain(socat.stderr, "--json")
    #expect(result.status == 1, "\(result.stdout)")
    let document = try result.json()
    #expect((document["failure"] as? [String: Any])?["reuseAddress"] as? Bool == false)
    let check = document["check"] as? [String: Any]
    #expect(check?["protocol"] as? String == "tcp")
    #expect(codes(check) == ["time-wait"])
    let text = try explain(socat.stderr)
    #expect(
      text.stdout.contains("the server that failed binds without SO_REUSEADDR, so it cannot bind until it closes"))
    #expect(text.stdout.contains("TCP-LISTEN:PORT,reuseaddr"))
    #expect(!text.stdout.contains("Start the server again"))
  }

  @Test func anAbsentAddressIsJudgedByTheAddressNotThePort() throws {
    let port = try portFreeEverywhere()
    // Python's message does not name the address.
    let python = try run(
      URL(fileURLWithPath: Programs.python),
      ["-c", "import socket; socket.socket().bind(('192.0.2.10', \(port)))"])
    #expect(python.stderr.contains("[Errno 99] Cannot assign requested address"))
    let result = try explain(python.stderr, "--port", "\(port)", "--json")
    #expect(result.status == 1, "\(result.stdout)")
    let document = try result.json()
    #expect(document["check"] is NSNull)
    #expect((document["advice"] as? String)?.contains("no interface of this machine has") == true)
    let text = try explain(python.stderr, "--port", "\(port)")
    #expect(!text.stdout.contains("Start the server again"))
    #expect(text.stdout.contains("The port is not the problem"))

    // Node's does: the address is checked.
    let node = try run(
      URL(fileURLWithPath: Programs.node), ["-e", "require('net').createServer().listen(\(port), '192.0.2.10')"])
    #expect(node.stderr.contains("listen EADDRNOTAVAIL: address not available 192.0.2.10:\(port)"))
    let named = try explain(node.stderr, "--json")
    #expect(named.status == 1)
    let check = try named.json()["check"] as? [String: Any]
    #expect(check?["address"] as? String == "192.0.2.10")
    #expect(codes(check) == ["address-unavailable"])
  }

  @Test func aConnectSideErrorIsNotCheckedAsABind() throws {
    // A client asks for a local port a server already listens on.
    let port = try portFreeEverywhere()
    let server = try Spawned(
      Programs.python, ["-m", "http.server", "\(port)", "--bind", "0.0.0.0", "--directory", "/nonexistent-dir"])
    defer { server.stop() }
    try #require(eventually { loopbackTaken(port) })
    let client = try run(
      URL(fileURLWithPath: Programs.node),
      ["-e", "require('net').connect({port: \(port), host: '127.0.0.1', localPort: \(port)})"])
    #expect(client.stderr.contains("EADDRINUSE"))
    #expect(client.stderr.contains("internalConnect"))
    let result = try explain(client.stderr, "--json")
    #expect(result.status == 1)
    let document = try result.json()
    #expect((document["failure"] as? [String: Any])?["operation"] as? String == "connect")
    #expect(document["check"] is NSNull)
    #expect((document["checks"] as? [Any])?.isEmpty == true)
    #expect((document["advice"] as? String)?.contains("This is not a server failing to bind") == true)
    let text = try explain(client.stderr)
    #expect(text.stdout.hasPrefix("Node.js could not connect"))
    #expect(!text.stdout.contains("held:"))
  }

  static let canUnshare =
    isRoot && Programs.installed("/usr/bin/unshare", "/usr/bin/setpriv", "/usr/sbin/ip")

  @Test(.enabled(if: canUnshare, "needs root, unshare and setpriv: a server run as nobody"))
  func permissionDeniedIsJudgedForTheUnprivilegedServerEvenAsRoot() throws {
    let script = """
      ip link set lo up
      setpriv --reuid=65534 --regid=65534 --clear-groups \(Programs.node) -e "require('net').createServer().listen(829)" 2>/tmp/portctl-eacces-$$.txt
      echo "node=$?"
      "\(Products.portctl.path)" check tcp:829 -q; echo "check=$?"
      "\(Products.portctl.path)" explain --json < /tmp/portctl-eacces-$$.txt; echo "explain=$?"
      "\(Products.portctl.path)" explain < /tmp/portctl-eacces-$$.txt
      rm -f /tmp/portctl-eacces-$$.txt
      """
    let result = try run(URL(fileURLWithPath: "/usr/bin/unshare"), ["--net", "sh", "-c", script])
    let out = result.stdout
    #expect(out.contains("node=1"), "\(out) \(result.stderr)")
    // Root may bind 829 (check says yes), but the server that failed was not root.
    #expect(out.contains("check=0"))
    #expect(out.contains("explain=1"))
    #expect(out.contains(#""code" : "privileged""#))
    #expect(out.contains("Node.js could not bind on 0.0.0.0:829 (tcp): permission was denied (EACCES)."))
    #expect(out.contains("the server that failed has neither root nor CAP_NET_BIND_SERVICE"))
    #expect(!out.contains("Start the server again"))
  }

  @Test(.enabled(if: canUnshare, "needs root and unshare: ephemeral ports used up in a namespace"))
  func usedUpEphemeralPortsAreAConnectSideError() throws {
    let script = """
      ip link set lo up
      echo "40000 40000" > /proc/sys/net/ipv4/ip_local_port_range
      \(Programs.python) -c "import socket, time; s = socket.socket(); s.bind(('127.0.0.1', 5555)); s.listen(); time.sleep(10)" &
      server=$!
      for _ in $(seq 200); do "\(Products.portctl.path)" who tcp:5555 -q && break; sleep 0.02; done
      \(Programs.python) -c "
      import socket
      a = socket.create_connection(('127.0.0.1', 5555))
      b = socket.create_connection(('127.0.0.1', 5555))
      " 2>/tmp/portctl-connect-$$.txt
      "\(Products.portctl.path)" explain --port 5555 --json < /tmp/portctl-connect-$$.txt; echo "explain=$?"
      cat /tmp/portctl-connect-$$.txt
      rm -f /tmp/portctl-connect-$$.txt
      kill $server
      """
    let result = try run(URL(fileURLWithPath: "/usr/bin/unshare"), ["--net", "sh", "-c", script])
    let out = result.stdout
    #expect(out.contains("[Errno 99] Cannot assign requested address"), "\(out) \(result.stderr)")
    #expect(out.contains("explain=1"))
    #expect(out.contains(#""operation" : "connect""#))
    #expect(out.contains("the ephemeral ports toward that peer are used up"))
    #expect(out.contains(#""check" : null"#))
  }
}
#endif
