#if os(Linux)
import Foundation
import Testing

/// What is left on a port once its listener is gone, made by real programs: connections that
/// forked children keep (socat `fork`), FIN_WAIT2 and TIME_WAIT sockets from a real close. `free`
/// and `wait` must name each as it is.
@Suite(.serialized, .enabled(if: Programs.installed(Programs.python, Programs.socat), "needs python3 and socat"))
struct LeftoverSocketTests {
  private func proof(_ result: RunResult, _ proto: String = "tcp") throws -> [String: Any] {
    try #require((try result.json()["ports"] as? [[String: Any]])?.first { $0["protocol"] as? String == proto })
  }

  /// Every process below `pid`.
  private func descendants(of pid: pid_t) -> [pid_t] {
    var all: [pid_t] = []
    var queue = [pid]
    while let next = queue.popLast() {
      let children = childPIDs(of: next)
      all += children
      queue += children
    }
    return all.sorted()
  }

  @Test(arguments: [true, false])
  func forkedChildrenHoldingConnectionsAreNamedNotCalledTimeWait(reuseAddress: Bool) throws {
    let port = try portFreeEverywhere()
    let options = "TCP-LISTEN:\(port),bind=127.0.0.1,fork" + (reuseAddress ? ",reuseaddr" : "")
    let listener = try Spawned(Programs.socat, [options, "SYSTEM:sleep 100"])
    try #require(eventually { loopbackTaken(port) })
    let client = try Spawned(Programs.socat, ["-u", "TCP:127.0.0.1:\(port)", "-"])
    defer { client.stop() }
    // The connection's process tree is complete once `sleep` (the SYSTEM command) runs.
    try #require(
      eventually(10) {
        descendants(of: listener.pid).contains {
          (try? String(contentsOfFile: "/proc/\($0)/comm", encoding: .utf8)) == "sleep\n"
        }
      }, "socat did not start the connection's command")
    let children = descendants(of: listener.pid)
    defer { for pid in children { kill(pid, SIGKILL) } }
    let holders = try portctl("who", "tcp:\(port)", "--all", "--json").json().sockets
      .filter { $0["state"] as? String == "ESTABLISHED" }.pids
    try #require(!holders.isEmpty)
    // "socat (pid 1) holds 1 connection", "socat (pid 1) and socat (pid 2) hold 1 connection".
    let owners = holders.map { "socat (pid \($0))" }
    let named =
      owners.count == 1 ? owners[0] : owners.dropLast().joined(separator: ", ") + " and " + (owners.last ?? "")
    let holdsOne = "\(named) \(owners.count == 1 ? "holds" : "hold") 1 connection on the port (ESTABLISHED)"
    #expect(Set(holders).isSubset(of: Set(children.map(Int.init))))

    // Free the listener only (no --all): the children keep their connection.
    let freed = try portctl("free", "tcp:\(port)", "--yes", "--respawn-window", "0", "--json")
    #expect((try freed.json()["targets"] as? [[String: Any]])?.compactMap { $0["pid"] as? Int } == [Int(listener.pid)])
    #expect(listener.exitStatus() != nil)
    let port1 = try proof(freed)
    #expect(port1["verdict"] as? String == (reuseAddress ? "free-except-connections" : "held"))
    #expect(Set(port1["connectionsHeldBy"] as? [Int] ?? []) == Set(holders))
    #expect(port1["timeWait"] as? Int == 0)
    #expect(freed.status == (reuseAddress ? 0 : 1))

    // check names them too: held by connections, not by a listener.
    if !reuseAddress {
      let check = try portctl("check", "tcp:\(port)")
      #expect(check.status == 1)
      #expect(check.stdout.contains("held: a tcp connection on 127.0.0.1:\(port) (ESTABLISHED with 127.0.0.1:"))
      #expect(check.stdout.contains("end those processes too (portctl free \(port) --all)"))
    }
    let text = try portctl("free", "tcp:\(port)", "--yes", "--respawn-window", "0")
    #expect(!text.stdout.contains("TIME_WAIT"), "\(text.stdout)")
    #expect(text.stdout.contains(holdsOne), "\(text.stdout)")
    #expect(text.stdout.contains("portctl free \(port) --all"))
    if reuseAddress {
      #expect(
        text.stdout.hasPrefix(
          "\(port)/tcp is free for servers that set SO_REUSEADDR (most do); a plain bind fails while "))
    } else {
      #expect(text.stdout.hasPrefix("\(port)/tcp is NOT free: no listener is left, but "))
      #expect(text.stdout.contains("it blocks every bind until it closes: end it too with portctl free \(port) --all"))
    }

    // --wait does not wait for what cannot drain: it says so at once. Its timeout is longer
    // than the children live (`sleep 100`), so had it waited, it would have come back only
    // once they had gone.
    let waited = try portctl("free", "tcp:\(port)", "--yes", "--wait", "--wait-timeout", "1h")
    #expect(holders.allSatisfy { isAlive(pid_t($0)) }, "free --wait returned only after the children had gone")
    #expect(waited.status == 1)
    #expect(waited.stdout.contains(holdsOne))
    if reuseAddress {
      #expect(waited.stdout.contains("it blocks a plain bind and --wait does not wait for it"))
    } else {
      #expect(waited.stdout.contains("it blocks every bind until it closes"))
    }

    // As suggested: --all ends the children too.
    let all = try portctl("free", "tcp:\(port)", "--all", "--yes", "--respawn-window", "0", "--json")
    let ended = (try all.json()["targets"] as? [[String: Any]])?.compactMap { $0["pid"] as? Int } ?? []
    #expect(Set(ended) == Set(holders))
    #expect(try proof(all)["connectionsHeldBy"] as? [Int] == [])
  }

  @Test func finWait2IsNamedWithTheKernelsTimeLeft() throws {
    // A server (bare socket.bind) closes first; the client keeps its end open, so the
    // server's socket stays in FIN_WAIT2 after the server exits.
    let port = try portFreeEverywhere()
    let server = try Spawned(
      Programs.python,
      [
        "-c",
        "import socket; s = socket.socket(); s.bind(('127.0.0.1', \(port))); s.listen(); c, _ = s.accept(); c.sendall(b'x'); c.close(); s.close()",
      ])
    try #require(eventually { loopbackTaken(port) })
    let client = try Spawned(
      Programs.python,
      ["-c", "import socket, time; c = socket.create_connection(('127.0.0.1', \(port))); c.recv(1); time.sleep(30)"])
    defer { client.stop() }
    #expect(server.exitStatus() == 0)
    // FIN_WAIT1 until the client's kernel acknowledges the FIN (named as such meanwhile).
    var result = try portctl("free", "tcp:\(port)", "--yes", "--json")
    _ = eventually {
      result = (try? portctl("free", "tcp:\(port)", "--yes", "--json")) ?? result
      return ((try? proof(result))?["closing"] as? [String: Int]) == ["FIN_WAIT2": 1]
    }
    #expect(result.status == 1)
    let port1 = try proof(result)
    #expect(port1["verdict"] as? String == "time-wait")
    #expect(port1["closing"] as? [String: Int] == ["FIN_WAIT2": 1])
    let seconds = try #require(port1["closingSeconds"] as? Double)
    #expect(seconds > 1 && seconds <= 60)
    let text = try portctl("free", "tcp:\(port)", "--yes")
    #expect(text.stdout.contains("\(port)/tcp is NOT free: 1 FIN_WAIT2 socket, owned by no process, blocks any bind"))
    #expect(text.stdout.contains("; it closes within "))
    #expect(!text.stdout.contains("TIME_WAIT"))
  }

  @Test func theVerdictAfterWaitIsReadAfterTheWait() throws {
    let port = try realTimeWait(reuseAddress: false)
    let before = try proof(try portctl("free", "tcp:\(port)", "--yes", "--json"))
    let first = try #require(before["closingSeconds"] as? Double)
    let waited = try portctl("free", "tcp:\(port)", "--yes", "--wait", "--wait-timeout", "1500ms", "--json")
    #expect(waited.status == 1)
    let after = try proof(waited)
    #expect(after["verdict"] as? String == "time-wait")
    #expect(after["closing"] as? [String: Int] == ["TIME_WAIT": 1])
    let second = try #require(after["closingSeconds"] as? Double)
    #expect(second <= first - 1.2, "before the wait \(first) s, after it \(second) s")
  }

  @Test func waitOnATimeWaitOnlyPortSaysWhatBlocksIt() throws {
    let port = try realTimeWait(reuseAddress: false)
    let result = try portctl("wait", "\(port)", "--free", "--timeout", "300ms")
    #expect(result.status == 1)
    #expect(result.stdout.hasPrefix("timed out after 300ms: still cannot bind\n"), "\(result.stdout)")
    #expect(result.stdout.contains("127.0.0.1:\(port)"))
    #expect(result.stdout.contains("TIME_WAIT") && result.stdout.contains("(no process; "))
    #expect(
      result.stdout.contains(
        "tcp \(port): cannot bind (0.0.0.0 and [::])\n  time-wait: only 1 TIME_WAIT socket remains on the port, owned by no process: the server that left it did not set SO_REUSEADDR, so every bind fails until it closes"
      ))
    #expect(result.stdout.contains("; it closes within "))
    let json = try portctl("wait", "tcp:\(port)", "--free", "--timeout", "100ms", "--json")
    #expect(json.status == 1)
    let document = try json.json()
    #expect(document.sockets.compactMap { $0["state"] as? String } == ["TIME_WAIT"])
    let check = try #require((document["checks"] as? [[String: Any]])?.first)
    #expect((check["reasons"] as? [[String: Any]])?.compactMap { $0["code"] as? String } == ["time-wait"])
  }
}
#endif
