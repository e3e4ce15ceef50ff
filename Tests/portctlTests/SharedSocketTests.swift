#if os(Linux)
import Foundation
import Testing

/// Real servers whose processes share one listening socket.
@Suite(.serialized) struct SharedSocketTests {
  static let node = ["/usr/bin/node", "/usr/local/bin/node"].first { FileManager.default.isExecutableFile(atPath: $0) }

  /// node's cluster module with NODE_CLUSTER_SCHED_POLICY=none: the workers are forked
  /// before the listener exists and get it from the primary over IPC. portctl must not say
  /// they inherited it when forked; it says they share it.
  @Test(.enabled(if: node != nil, "needs node"))
  func nodeClusterWorkersShareTheListenerTheyWereNotForkedWith() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cluster-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let script = directory.appendingPathComponent("cluster.js")
    try Data(
      """
      const cluster = require('cluster');
      const net = require('net');
      if (cluster.isPrimary) {
        for (let i = 0; i < 2; i++) cluster.fork();
        let ready = 0;
        cluster.on('listening', (worker, address) => {
          if (++ready === 2) {
            const pids = Object.values(cluster.workers).map((w) => w.process.pid).join(',');
            console.log(`ready pid=${process.pid} ports=${address.port} children=${pids}`);
          }
        });
        process.stdin.on('end', () => {
          for (const w of Object.values(cluster.workers)) w.process.kill();
          process.exit(0);
        });
        process.stdin.resume();
      } else {
        net.createServer(() => {}).listen(0, '127.0.0.1');
      }
      """.utf8
    ).write(to: script)
    // A server of its own that prints port-holder's ready line and exits when its input closes.
    let server = try Holder(
      [], launcher: [try #require(Self.node), script.path], environment: ["NODE_CLUSTER_SCHED_POLICY": "none"])
    defer { server.stop() }
    try #require(server.children.count == 2)

    let json = try portctl("who", "127.0.0.1:\(server.port)", "--json")
    #expect(json.status == 0)
    let processes = try #require(try json.json().sockets.first?["processes"] as? [[String: Any]])
    #expect(processes.map { $0["pid"] as? Int } == [Int(server.pid)] + server.children.sorted().map(Int.init))
    #expect(processes.map { $0["role"] as? String } == ["parent", "child", "child"])
    #expect(processes.dropFirst().allSatisfy { $0["sharesWith"] as? Int == Int(server.pid) })

    let text = try portctl("who", "127.0.0.1:\(server.port)")
    let workers = server.children.sorted().map(String.init).joined(separator: ", ")
    #expect(text.stdout.contains("\(workers) share the socket with their parent \(server.pid)"), "\(text.stdout)")
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
