#if os(Linux)
import Foundation
import Testing

/// `--all` targets the sockets bound to the port as a server and the connections servers
/// accepted on it, never a client that connected elsewhere from that local port.
@Suite(.serialized) struct AllConnectionsTests {
  private func targets(_ result: RunResult) throws -> [Int] {
    try (result.json()["targets"] as? [[String: Any]] ?? []).compactMap { $0["pid"] as? Int }
  }

  /// A client bound to 127.0.0.2:P connects to a listener on another port; a server listens
  /// on 127.0.0.1:P and holds a connection it accepted there. `free P --all --yes` ends the
  /// server and leaves the client alone.
  @Test func clientConnectedElsewhereFromThePortIsNotATarget() throws {
    let elsewhere = try Holder("tcp:127.0.0.1:0")
    defer { elsewhere.stop() }
    let client = try Holder("--connect-to", "\(elsewhere.port)", "tcp:127.0.0.2:0")
    defer { client.stop() }
    let port = client.port
    let server = try Holder("--self-connect", "tcp:127.0.0.1:\(port)")
    defer { server.stop() }

    let dryRun = try portctl("kill", "127.0.0.1:\(port)", "127.0.0.2:\(port)", "--all", "--dry-run", "--json")
    #expect(dryRun.status == 0, "\(dryRun.stdout) \(dryRun.stderr)")
    #expect(try targets(dryRun) == [Int(server.pid)])
    let clients = try #require(try dryRun.json()["clients"] as? [[String: Any]])
    #expect(clients.compactMap { $0["localAddress"] as? String } == ["127.0.0.2"])
    #expect(dryRun.stderr.contains("not a target: tcp 127.0.0.2:\(port) to 127.0.0.1:\(elsewhere.port)"))

    let free = try portctl(
      "free", "127.0.0.1:\(port)", "127.0.0.2:\(port)", "--all", "--yes", "--respawn-window", "0", "--json")
    #expect(try targets(free) == [Int(server.pid)], "\(free.stdout)")
    server.process.waitUntilExit()
    #expect(!isAlive(server.pid))
    #expect(isAlive(client.pid), "the client connected elsewhere was signalled")
    #expect(isAlive(elsewhere.pid))
  }

  /// A connection a server accepted on the port is a target on its own: socat `fork` hands
  /// each connection to a child; with the listening parent gone, `--all` still finds the
  /// child that holds the accepted connection.
  @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/socat"), "needs socat"))
  func acceptedConnectionIsATargetEvenWithoutItsListener() throws {
    let port = try unusedPort()
    let socat = try #require(
      spawnQuietly("/usr/bin/socat", ["TCP-LISTEN:\(port),bind=127.0.0.1,fork,reuseaddr", "EXEC:/bin/cat"]))
    defer {
      kill(socat, SIGKILL)
      var status: Int32 = 0
      waitpid(socat, &status, 0)
    }
    try #require(eventually { !canBind(port) }, "socat did not listen on \(port)")
    let client = try Holder("--connect-to", "\(port)", "tcp:127.0.0.3:0")
    defer { client.stop() }
    // The child socat forked for the connection.
    var child: Int32?
    for _ in 0..<200 {
      let listed = try portctl("who", "127.0.0.1:\(port)", "--all", "--json")
      child = listed.sockets(listening: false).pids.first { $0 != Int(socat) }.map(Int32.init)
      if child != nil { break }
      usleep(10_000)
    }
    let accepted = try #require(child, "socat did not fork a child for the connection")
    defer { kill(accepted, SIGKILL) }

    let withListener = try portctl("kill", "127.0.0.1:\(port)", "127.0.0.2:\(port)", "--all", "--dry-run", "--json")
    #expect(Set(try targets(withListener)).isSuperset(of: [Int(socat), Int(accepted)]), "\(withListener.stdout)")
    #expect(!(try targets(withListener)).contains(Int(client.pid)))

    kill(socat, SIGKILL)
    var status: Int32 = 0
    waitpid(socat, &status, 0)
    let withoutListener = try portctl("kill", "127.0.0.1:\(port)", "127.0.0.2:\(port)", "--all", "--dry-run", "--json")
    #expect(try targets(withoutListener).contains(Int(accepted)), "\(withoutListener.stdout)")
    #expect(!(try targets(withoutListener)).contains(Int(client.pid)))
  }
}

extension RunResult {
  /// The sockets of a report document that are (or are not) listeners.
  func sockets(listening: Bool) -> [[String: Any]] {
    ((try? json())?.sockets ?? []).filter { $0["listening"] as? Bool == listening }
  }
}
#endif
