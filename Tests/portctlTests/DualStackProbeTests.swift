#if os(Linux)
import Foundation
import Testing

/// `[::]` is probed the way servers bind it: dual-stack (IPV6_V6ONLY off, Linux's default), so
/// an IPv4 listener that makes Node's or Python's `[::]` bind fail is found; and on a host
/// without IPv6, `[::]` does not apply instead of being busy.
@Suite(
  .serialized, .enabled(if: Programs.installed(Programs.python, Programs.node), "needs python3 and node"))
struct DualStackProbeTests {
  private func reasons(_ check: [String: Any], _ key: String = "reasons") -> [[String: Any]] {
    check[key] as? [[String: Any]] ?? []
  }

  /// Python's http.server on an IPv4 address, listening.
  private func pythonServer(on address: String) throws -> (Spawned, UInt16) {
    let port = try portFreeEverywhere()
    let server = try Spawned(
      Programs.python, ["-m", "http.server", "\(port)", "--bind", address, "--directory", "/nonexistent-dir"])
    try #require(eventually { loopbackTaken(port) }, "http.server did not listen on \(address):\(port)")
    return (server, port)
  }

  @Test(arguments: ["127.0.0.1", "0.0.0.0"])
  func checkOfTheIPv6WildcardNamesTheIPv4Holder(address: String) throws {
    let (server, port) = try pythonServer(on: address)
    defer { server.stop() }
    // The real thing fails: Node's default listen binds [::] dual-stack.
    let node = try run(URL(fileURLWithPath: Programs.node), ["-e", "require('net').createServer().listen(\(port))"])
    #expect(node.status != 0)
    #expect(node.stderr.contains("EADDRINUSE"))

    let result = try portctl("check", "[::]:\(port)", "--json")
    #expect(result.status == 1, "\(result.stdout)")
    let check = try #require((try result.json()["checks"] as? [[String: Any]])?.first)
    #expect(check["bindable"] as? Bool == false)
    #expect(check["binds"] as? [String: String] == ["::": "in-use"])
    #expect(reasons(check).compactMap { $0["code"] as? String } == ["address-overlap"])
    #expect(reasons(check).first?["pids"] as? [Int] == [Int(server.pid)])
    #expect(reasons(check, "notes").compactMap { $0["code"] as? String }.contains("v6-only-bindable"))
    let text = try portctl("check", "[::]:\(port)")
    #expect(
      text.stdout.hasPrefix(
        "tcp [::]:\(port): cannot bind ([::])\n  address-overlap: a bind on [::]:\(port) is dual-stack here"))
    #expect(text.stdout.contains("and tcp \(address):\(port) (IPv4) has it; it is held by python3 (pid \(server.pid))"))
    #expect(text.stdout.contains("note v6-only-bindable: a server that sets IPV6_V6ONLY"))
  }

  @Test func waitForTheIPv6WildcardTimesOutNamingTheIPv4Holder() throws {
    let (server, port) = try pythonServer(on: "127.0.0.1")
    defer { server.stop() }
    let started = Date()
    let result = try portctl("wait", "[::]:\(port)", "--free", "--timeout", "300ms")
    #expect(Date().timeIntervalSince(started) >= 0.3)
    #expect(result.status == 1, "\(result.stdout)")
    #expect(result.stdout.hasPrefix("timed out after 300ms: still held\n"))
    #expect(result.stdout.contains("\(server.pid)"))
    #expect(result.stdout.contains("address-overlap: a bind on [::]:\(port) is dual-stack here"))
    let json = try portctl("wait", "[::]:\(port)", "--free", "--timeout", "100ms", "--json")
    #expect(json.status == 1)
    let check = try #require((try json.json()["checks"] as? [[String: Any]])?.first)
    #expect(reasons(check).first?["pids"] as? [Int] == [Int(server.pid)])
    // Once the holder is gone, the wait ends.
    server.stop()
    #expect(try portctl("wait", "[::]:\(port)", "--free", "--timeout", "5s").status == 0)
  }

  @Test func findWithTheIPv6WildcardSkipsAPortAnIPv4ListenerHolds() throws {
    let (server, port) = try pythonServer(on: "0.0.0.0")
    defer { server.stop() }
    let result = try portctl("find", "--host", "::", "--range", "\(port)-\(port)", "--json")
    #expect(result.status == 1, "\(result.stdout)")
    #expect(try result.json()["ports"] as? [Int] == [])
    #expect((try result.json()["skipped"] as? [String: Int])?["busy"] == 1)
    server.stop()
    let after = try portctl("find", "--host", "::", "--range", "\(port)-\(port)")
    #expect(after.status == 0)
    #expect(after.stdout == "\(port)\n")
  }

  @Test func freesProofBindsTheIPv6WildcardDualStack() throws {
    // An IPv4 TIME_WAIT socket left by a real server that did not set SO_REUSEADDR, then a
    // v6-only holder on [::1] of the same port, which free ends.
    let port = try realTimeWait(reuseAddress: false)
    let v6 = try Holder("tcp:[::1]:\(port)", "--v6only")
    let result = try portctl("free", "tcp:[::1]:\(port)", "--yes", "--respawn-window", "0", "--json")
    let document = try result.json()
    #expect((document["targets"] as? [[String: Any]])?.compactMap { $0["pid"] as? Int } == [Int(v6.pid)])
    let proof = try #require((document["ports"] as? [[String: Any]])?.first)
    // [::] bound dual-stack collides with the IPv4 TIME_WAIT socket, as a server's bind would;
    // an IPv6-only bind would not have.
    #expect((proof["binds"] as? [String: String])?["::"] == "in-use")
    #expect((proof["binds"] as? [String: String])?["::1"] == "bindable")
    #expect(proof["verdict"] as? String == "time-wait")
    #expect(result.status == 1)
  }

  static let canUnshare =
    isRoot && Programs.installed("/usr/bin/unshare", "/usr/sbin/ip", Programs.python)

  @Test(.enabled(if: canUnshare, "needs root, unshare and ip: a network namespace without IPv6"))
  func withoutIPv6TheIPv6WildcardIsNotApplicableNeverBusy() throws {
    let script = """
      set -u
      ip link set lo up
      echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
      echo 1 > /proc/sys/net/ipv6/conf/lo/disable_ipv6
      echo "inet6: $(wc -l < /proc/net/if_inet6)"
      "\(Products.portctl.path)" check 4321 --json; echo "status=$?"
      "\(Products.portctl.path)" check 4321; echo "status=$?"
      "\(Products.portctl.path)" check '[::]:4321'; echo "status=$?"
      "\(Products.portctl.path)" find --host :: --range 4321-4321; echo "status=$?"
      "\(Products.portctl.path)" find --range 4321-4321; echo "status=$?"
      \(Programs.python) -m http.server 4321 --bind 0.0.0.0 --directory /nonexistent-dir >/dev/null 2>&1 &
      server=$!
      trap 'kill -9 $server 2>/dev/null' EXIT
      for _ in $(seq 200); do "\(Products.portctl.path)" who tcp:4321 -q && break; sleep 0.02; done
      "\(Products.portctl.path)" check 4321 --json; echo "status=$?"
      """
    let result = try run(URL(fileURLWithPath: "/usr/bin/unshare"), ["--net", "sh", "-c", script])
    let out = result.stdout
    #expect(out.contains("inet6: 0"), "\(out) \(result.stderr)")
    let statuses = out.split(separator: "\n").filter { $0.hasPrefix("status=") }
    #expect(statuses == ["status=0", "status=0", "status=1", "status=1", "status=0", "status=1"], "\(out)")
    #expect(out.contains("tcp 4321: can bind (0.0.0.0; [::] not applicable: no IPv6)\n"))
    // Free: 0.0.0.0 decides, [::] does not apply.
    #expect(out.contains(#""::" : "family-unsupported""#))
    #expect(out.contains("tcp [::]:4321: cannot bind ([::])\n  address-unavailable: this host has no IPv6"))
    #expect(out.contains("[::]:4321 is not applicable here"))
    #expect(result.stderr.contains("--host :: is not applicable here"))
    #expect(out.contains("4321\nstatus=0"))
    // An IPv4 listener: held, by 0.0.0.0's bind; [::] still only "not applicable".
    let last = try #require(out.components(separatedBy: "status=0\n").last)
    #expect(last.contains(#""0.0.0.0" : "in-use""#))
    #expect(last.contains(#""::" : "family-unsupported""#))
    #expect(last.contains(#""code" : "held""#))
  }
}
#endif
