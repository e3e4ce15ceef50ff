#if os(Linux)
import Foundation
import Testing

/// Processes that come and go while portctl reads the system: a hot restart handing its
/// socket to a successor, a crowd of short-lived holders, and sockets held where a
/// process's own descriptor table does not show them.
@Suite(.serialized) struct ScanRaceTests {
  /// A holder that forks its successor (which keeps the socket) and exits, every 3 ms: the
  /// port is held throughout, by a process portctl can see, so every run names one.
  @Test func handOffIsNeverFreeNorHidden() throws {
    let holder = try Holder("--handoff", "3", "tcp:127.0.0.1:0")
    defer { holder.stop() }
    var hidden = 0
    for _ in 0..<40 {
      let result = try portctl("who", "127.0.0.1:\(holder.port)", "--json")
      #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
      let document = try result.json()
      #expect(document["held"] as? Bool == true)
      let socket = try #require(document.sockets.first)
      if socket["owner"] as? String == "hidden" { hidden += 1 }
      let processes = socket["processes"] as? [[String: Any]] ?? []
      #expect(!processes.isEmpty || socket["owner"] as? String == "hidden", "\(socket)")
      #expect(processes.allSatisfy { $0["name"] as? String == "port-holder" }, "\(processes)")
    }
    #expect(hidden == 0, "the successor holding the socket was not found in \(hidden) of 40 runs")
  }

  /// Forty children at a time open the port (SO_REUSEPORT) and exit within milliseconds:
  /// sockets close between the table read and the descriptor walk. They are ours, so a
  /// socket with a hidden owner would be one that no longer exists.
  @Test func churnShowsNoPhantomHiddenOwners() throws {
    let holder = try Holder("--churn", "40", "tcp:127.0.0.1:0")
    defer { holder.stop() }
    var phantoms = 0
    for _ in 0..<10 {
      let who = try portctl("who", "127.0.0.1:\(holder.port)", "--json")
      #expect(who.status == 0, "\(who.stderr)")
      phantoms += try who.json().sockets.filter { $0["owner"] as? String == "hidden" }.count
      #expect(try who.json().sockets.pids.contains(Int(holder.pid)))
      let list = try portctl("list", "--tcp", "--json")
      #expect(list.status == 0, "\(list.stderr)")
      phantoms += try list.json().sockets.filter {
        $0["localPort"] as? Int == Int(holder.port) && $0["localAddress"] as? String == "127.0.0.1"
          && $0["owner"] as? String == "hidden"
      }.count
      let kill = try portctl("kill", "127.0.0.1:\(holder.port)", "--dry-run", "--json")
      #expect(kill.status == 0, "\(kill.stdout) \(kill.stderr)")
      #expect((try kill.json()["hidden"] as? [Any])?.isEmpty == true)
    }
    #expect(phantoms == 0)
    // Freeing it ends the crowd (ours): never "not permitted" over a socket that closed.
    let free = try portctl("free", "127.0.0.1:\(holder.port)", "--yes", "--respawn-window", "0", "--json")
    #expect(free.status != 3, "\(free.stdout) \(free.stderr)")
    #expect((try free.json()["hidden"] as? [Any])?.isEmpty == true)
  }

  /// A thread that unshared its descriptor table holds the only copy of the socket.
  @Test func socketInAThreadsOwnTableIsFound() throws {
    let holder = try Holder("--thread-table", "tcp:127.0.0.1:0")
    defer { holder.stop() }
    let who = try portctl("who", "127.0.0.1:\(holder.port)", "--json")
    #expect(who.status == 0)
    let socket = try #require(try who.json().sockets.first)
    #expect(socket["owner"] as? String == "processes")
    #expect(try who.json().sockets.pids == [Int(holder.pid)])
    let free = try portctl("free", "127.0.0.1:\(holder.port)", "--yes", "--respawn-window", "0", "--json")
    #expect(targetOutcomes(free) == ["exited"], "\(free.stdout) \(free.stderr)")
    holder.process.waitUntilExit()
    #expect(!isAlive(holder.pid))
  }

  /// The main thread has exited (`PID/fd` is empty); another thread holds the socket.
  @Test func socketOfAProcessWhoseMainThreadExitedIsFound() throws {
    let holder = try Holder("--main-exits", "tcp:127.0.0.1:0")
    defer { holder.stop() }
    let who = try portctl("who", "127.0.0.1:\(holder.port)", "--json")
    #expect(who.status == 0)
    let socket = try #require(try who.json().sockets.first)
    #expect(socket["owner"] as? String == "processes")
    #expect(try who.json().sockets.pids == [Int(holder.pid)])
    let free = try portctl("free", "127.0.0.1:\(holder.port)", "--yes", "--respawn-window", "0", "--json")
    #expect(targetOutcomes(free) == ["exited"], "\(free.stdout) \(free.stderr)")
    holder.process.waitUntilExit()
    #expect(!isAlive(holder.pid))
  }

  /// The outcome of each target of a kill/free document.
  private func targetOutcomes(_ result: RunResult) -> [String] {
    ((try? result.json())?["targets"] as? [[String: Any]] ?? []).compactMap { $0["outcome"] as? String }
  }
}
#endif
