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
    let server = try ReadyProcess(
      try #require(Self.node), [script.path], environment: ["NODE_CLUSTER_SCHED_POLICY": "none"])
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
    #expect(why.stdout.contains("shares the socket with its parent \(server.pid)"), "\(why.stdout)")
    #expect(!why.stdout.contains("inherited"))
  }
}

/// A server started with a pipe on its standard input that prints one
/// `ready pid=… ports=… children=…` line once it listens, and exits when its input closes.
final class ReadyProcess: @unchecked Sendable {
  let process = Process()
  private let input = Pipe()
  private let output = Pipe()
  private(set) var pid: Int32 = 0
  private(set) var port: UInt16 = 0
  private(set) var children: [Int32] = []

  init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    process.environment = env
    process.standardInput = input
    process.standardOutput = output
    process.standardError = FileHandle.standardError
    try process.run()
    var line = Data()
    while !line.contains(UInt8(ascii: "\n")) {
      let chunk = output.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      line.append(chunk)
    }
    let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard text.hasPrefix("ready ") else {
      stop()
      throw HolderError(message: "\(executable) \(arguments) did not start: '\(text)'")
    }
    for field in text.split(separator: " ") {
      let parts = field.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      guard parts.count == 2 else { continue }
      switch parts[0] {
      case "pid": pid = Int32(parts[1]) ?? 0
      case "ports": port = parts[1].split(separator: ",").first.flatMap { UInt16($0) } ?? 0
      case "children": children = parts[1].split(separator: ",").compactMap { Int32($0) }
      default: break
      }
    }
  }

  func stop() {
    try? input.fileHandleForWriting.close()
    if process.isRunning {
      process.waitUntilExit()
    }
  }

  deinit { stop() }
}
#endif
