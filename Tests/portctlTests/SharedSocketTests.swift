#if os(Linux)
import Foundation
import Testing

/// Real servers whose processes share one listening socket.
@Suite(.serialized) struct SharedSocketTests {
  /// node's cluster module with NODE_CLUSTER_SCHED_POLICY=none: the workers are forked
  /// before the listener exists and get it from the primary over IPC. portctl must not say
  /// they inherited it when forked; it says they share it.
  @Test(.enabled(if: Programs.installed(Programs.node), "needs node"))
  func nodeClusterWorkersShareTheListenerTheyWereNotForkedWith() throws {
    let server = try RealServers.nodeCluster(environment: ["NODE_CLUSTER_SCHED_POLICY": "none"])
    defer { server.cleanUp() }

    let json = try portctl("who", "127.0.0.1:\(server.port)", "--json")
    #expect(json.status == 0)
    let processes = try #require(try json.json().sockets.first?["processes"] as? [[String: Any]])
    #expect(processes.map { $0["pid"] as? Int } == [Int(server.master)] + server.workers.map(Int.init))
    #expect(processes.map { $0["role"] as? String } == ["parent", "child", "child"])
    #expect(processes.dropFirst().allSatisfy { $0["sharesWith"] as? Int == Int(server.master) })

    let text = try portctl("who", "127.0.0.1:\(server.port)")
    let workers = server.workers.map(String.init).joined(separator: ", ")
    #expect(text.stdout.contains("\(workers) share the socket with their parent \(server.master)"), "\(text.stdout)")
    #expect(!text.stdout.contains("inherited"))
    #expect(!text.stdout.contains("forked after"))
    let why = try portctl("why", "127.0.0.1:\(server.port)")
    // why names the cluster once: the primary, then its workers on one line.
    #expect(why.stdout.contains("  workers \(workers): "), "\(why.stdout)")
    #expect(why.stdout.contains(", share the socket)"), "\(why.stdout)")
    #expect(!why.stdout.contains("inherited"))
  }
}

#endif
