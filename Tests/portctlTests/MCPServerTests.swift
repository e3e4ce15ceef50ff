#if os(Linux)
import Foundation
import Testing

/// A real `portctl mcp` spoken to over its stdin and stdout, one JSON-RPC message a line.
final class MCPSession: @unchecked Sendable {
  let process = Process()
  private let input = Pipe()
  private let output = Pipe()
  private let lock = NSLock()
  private var buffer = Data()
  private var nextID = 1
  /// The raw line of the last response taken.
  private(set) var lastLine = Data()

  /// Starts `executable` with `arguments` (by default `portctl mcp`).
  init(_ executable: URL = Products.portctl, _ arguments: [String] = ["mcp"]) throws {
    process.executableURL = executable
    process.arguments = arguments
    process.standardInput = input
    process.standardOutput = output
    process.standardError = FileHandle.standardError
    try process.run()
    let handle = output.fileHandleForReading
    let thread = Thread { [weak self] in
      while true {
        let chunk = handle.availableData
        if chunk.isEmpty { return }
        guard let self else { return }
        self.lock.withLock { self.buffer.append(chunk) }
      }
    }
    thread.start()
  }

  /// Sends a request and waits (up to `seconds`) for the response with its id.
  func request(_ method: String, _ params: [String: Any] = [:], within seconds: Double = 30) throws -> [String: Any] {
    let id = nextID
    nextID += 1
    try send(["jsonrpc": "2.0", "id": id, "method": method, "params": params])
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if let message = take(id: id) { return message }
      usleep(5_000)
    }
    throw HolderError(message: "no response to \(method) within \(seconds) s")
  }

  func notify(_ method: String) throws {
    try send(["jsonrpc": "2.0", "method": method])
  }

  /// `initialize` and `notifications/initialized`; the initialize result.
  func initialize() throws -> [String: Any] {
    let response = try request(
      "initialize",
      [
        "protocolVersion": "2025-06-18", "capabilities": [String: Any](),
        "clientInfo": ["name": "portctl-tests", "version": "1"],
      ])
    try notify("notifications/initialized")
    return try #require(response["result"] as? [String: Any], "\(response)")
  }

  /// `tools/call`: the result, and its one text content parsed as the JSON document.
  func call(_ name: String, _ arguments: [String: Any]) throws -> (result: [String: Any], document: [String: Any]) {
    let response = try request("tools/call", ["name": name, "arguments": arguments])
    let result = try #require(response["result"] as? [String: Any], "\(response)")
    let content = try #require(result["content"] as? [[String: Any]])
    #expect(content.count == 1)
    #expect(content.first?["type"] as? String == "text")
    let text = try #require(content.first?["text"] as? String)
    let document = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    return (result, document)
  }

  private func send(_ message: [String: Any]) throws {
    var data = try JSONSerialization.data(withJSONObject: message)
    data.append(UInt8(ascii: "\n"))
    try input.fileHandleForWriting.write(contentsOf: data)
  }

  private func take(id: Int) -> [String: Any]? {
    lock.withLock {
      var start = buffer.startIndex
      while let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
        let line = buffer[start..<newline]
        if let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
          object["id"] as? Int == id
        {
          lastLine = Data(line)
          buffer.removeSubrange(start...newline)
          return object
        }
        start = buffer.index(after: newline)
      }
      return nil
    }
  }

  /// Closes stdin and waits for the server to exit; its exit status.
  func finish() -> Int32 {
    try? input.fileHandleForWriting.close()
    let deadline = Date().addingTimeInterval(10)
    while process.isRunning, Date() < deadline { usleep(10_000) }
    if process.isRunning {
      process.terminate()
      process.waitUntilExit()
      return -1
    }
    return process.terminationStatus
  }

  deinit {
    if process.isRunning {
      process.terminate()
      process.waitUntilExit()
    }
  }
}

@Suite(.serialized) struct MCPServerTests {
  static let readOnlyTools: Set<String> = ["who", "list", "why", "check", "find", "wait", "explain"]

  @Test func initializeAndReadOnlyToolList() throws {
    let session = try MCPSession()
    let initialized = try session.initialize()
    #expect((initialized["serverInfo"] as? [String: Any])?["name"] as? String == "portctl")
    #expect(initialized["protocolVersion"] as? String == "2025-06-18")
    #expect((initialized["capabilities"] as? [String: Any])?["tools"] != nil)
    let listed = try #require(try session.request("tools/list")["result"] as? [String: Any])
    let tools = try #require(listed["tools"] as? [[String: Any]])
    #expect(Set(tools.compactMap { $0["name"] as? String }) == Self.readOnlyTools)
    for tool in tools {
      let schema = try #require(tool["inputSchema"] as? [String: Any], "\(tool)")
      #expect(schema["type"] as? String == "object")
      #expect((tool["annotations"] as? [String: Any])?["readOnlyHint"] as? Bool == true)
    }
    // Without --allow-stop, free is not a tool at all.
    let refused = try session.request("tools/call", ["name": "free", "arguments": ["ports": ["1"]]])
    #expect(refused["result"] == nil)
    #expect(((refused["error"] as? [String: Any])?["message"] as? String)?.contains("--allow-stop") == true)
    #expect(session.finish() == 0)
  }

  @Test func whoNamesTheRealHolderAsJSONDoes() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let session = try MCPSession()
    _ = try session.initialize()
    let (result, document) = try session.call("who", ["ports": ["\(holder.port)"]])
    #expect(result["isError"] as? Bool == false)
    #expect(document["command"] as? String == "who")
    #expect(document["exitCode"] as? Int == 0)
    #expect(document["held"] as? Bool == true)
    let sockets = try #require(document["sockets"] as? [[String: Any]])
    #expect(sockets.pids == [Int(holder.pid)])
    // The same document `who --json` prints: the same fields, the same holders.
    let cli = try portctl("who", "\(holder.port)", "--json").json()
    #expect(Set(cli.keys) == Set(document.keys))
    let cliSockets = try #require(cli["sockets"] as? [[String: Any]])
    #expect(cliSockets.pids == sockets.pids)
    let process = try #require((sockets.first?["processes"] as? [[String: Any]])?.first)
    let cliProcess = try #require((cliSockets.first?["processes"] as? [[String: Any]])?.first)
    #expect(Set(process.keys) == Set(cliProcess.keys))
    #expect(process["command"] as? String == cliProcess["command"] as? String)
    // A port nobody holds: the negative answer, not an error.
    let free = try portFreeEverywhere()
    let (missing, empty) = try session.call("who", ["ports": [Int(free)]])
    #expect(missing["isError"] as? Bool == false)
    #expect(empty["exitCode"] as? Int == 1)
    #expect(empty["held"] as? Bool == false)
    // A bad spec: the usage error document.
    let (bad, usage) = try session.call("check", ["ports": ["70000"]])
    #expect(bad["isError"] as? Bool == true)
    #expect(usage["exitCode"] as? Int == 64)
    #expect((usage["error"] as? [String: Any])?["code"] as? String == "usage")
    #expect(session.finish() == 0)
  }

  @Test func everyReadOnlyToolAnswersWithItsDocument() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let port = Int(holder.port)
    let session = try MCPSession()
    _ = try session.initialize()

    let (_, why) = try session.call("why", ["ports": [port]])
    #expect(why["command"] as? String == "why")
    #expect(why.sockets.pids == [Int(holder.pid)])
    let ancestry = (why.sockets.first?["processes"] as? [[String: Any]])?.first?["ancestry"] as? [[String: Any]]
    #expect(ancestry?.first?["pid"] as? Int == Int(getpid()))

    let (_, list) = try session.call("list", ["pid": Int(holder.pid)])
    #expect(list["command"] as? String == "list")
    #expect(list.sockets.pids == [Int(holder.pid)])

    let (checked, check) = try session.call("check", ["ports": "127.0.0.1:\(port)"])
    #expect(checked["isError"] as? Bool == false)
    #expect(check["exitCode"] as? Int == 1)
    #expect(check["bindable"] as? Bool == false)
    let reasons = (check["checks"] as? [[String: Any]])?.first?["reasons"] as? [[String: Any]]
    #expect(reasons?.first?["code"] as? String == "held")
    #expect(reasons?.first?["pids"] as? [Int] == [Int(holder.pid)])

    let (_, found) = try session.call("find", ["count": 2, "range": "\(port)-\(min(port + 50, 65535))"])
    let ports = try #require(found["ports"] as? [Int])
    #expect(ports.count == 2)
    #expect(!ports.contains(port))

    let (_, waited) = try session.call("wait", ["ports": [port], "until": "listening", "timeoutSeconds": 2])
    #expect(waited["command"] as? String == "wait")
    #expect(waited["met"] as? Bool == true)
    let (_, timedOut) = try session.call("wait", ["ports": [port], "until": "free", "timeoutSeconds": 0.2])
    #expect(timedOut["met"] as? Bool == false)
    #expect(timedOut["exitCode"] as? Int == 1)

    let (_, explained) = try session.call(
      "explain", ["text": "Error: listen EADDRINUSE: address already in use 127.0.0.1:\(port)"])
    #expect(explained["recognized"] as? Bool == true)
    #expect(explained["exitCode"] as? Int == 1)
    #expect((explained["failure"] as? [String: Any])?["port"] as? Int == port)

    // An argument the tool does not take is a usage error.
    let (wrong, usage) = try session.call("find", ["ports": [port]])
    #expect(wrong["isError"] as? Bool == true)
    #expect(usage["exitCode"] as? Int == 64)
    #expect(session.finish() == 0)
  }

  @Test(
    .enabled(
      if: Programs.installed(Programs.python) || ProcessInfo.processInfo.environment["CI"] == "true", "needs python3"))
  func textFromTheHolderStaysEscaped() throws {
    let hostile = "evil\nFORGED\u{1B}]0;pwned\u{07}\u{1B}[31mred\u{85}c1\u{7F}del\u{202E}txt\u{2028}ls"
    let script = "import os, sys; os.execv(sys.argv[1], [bytes.fromhex(sys.argv[2])] + sys.argv[3:])"
    let argv0 = Array(hostile.utf8).map { String(format: "%02x", $0) }.joined()
    let holder = try Holder(
      ["tcp:127.0.0.1:0"], launcher: [Programs.python, "-c", script, Products.holder.path, argv0])
    let session = try MCPSession()
    _ = try session.initialize()
    let (_, document) = try session.call("who", ["ports": [Int(holder.port)]])
    let process = try #require((document.sockets.first?["processes"] as? [[String: Any]])?.first)
    #expect(process["pid"] as? Int == Int(holder.pid))
    // The document carries the exact string; the bytes on the wire carry no control or
    // format character, not even inside the text content.
    #expect((process["commandLine"] as? [String])?.first == hostile)
    let wire = String(decoding: session.lastLine, as: UTF8.self)
    let raw = wire.unicodeScalars.filter { scalar in
      switch scalar.properties.generalCategory {
      case .control, .format, .lineSeparator, .paragraphSeparator: return true
      default: return false
      }
    }
    #expect(raw.isEmpty, "\(raw.map { String(format: "U+%04X", $0.value) })")
    #expect(session.finish() == 0)
  }

  @Test func freePlansThenActsOnlyWithThePlansID() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let port = holder.port
    let session = try MCPSession(Products.portctl, ["mcp", "--allow-stop"])
    _ = try session.initialize()
    let listed = try #require(try session.request("tools/list")["result"] as? [String: Any])
    let names = Set(((listed["tools"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String })
    #expect(names == Self.readOnlyTools.union(["free", "kill"]))

    // Without planId: the plan only.
    let (planned, plan) = try session.call("free", ["ports": ["\(port)"]])
    #expect(planned["isError"] as? Bool == false)
    #expect(plan["dryRun"] as? Bool == true)
    let planID = try #require(plan["planId"] as? String)
    #expect(plan["freed"] is NSNull)
    let targets = try #require(plan["targets"] as? [[String: Any]])
    #expect(targets.compactMap { $0["pid"] as? Int } == [Int(holder.pid)])
    #expect(targets.first?["startTime"] as? String != nil)
    #expect(targets.first?["signal"] as? String == "TERM")
    #expect(isAlive(holder.pid))
    #expect(!canBindLoopback(port))

    // A planId that is not this plan's: refused, nothing signalled, the current id given.
    let (refused, changed) = try session.call("free", ["ports": ["\(port)"], "planId": "plan-0000000000000000"])
    #expect(refused["isError"] as? Bool == true)
    #expect(changed["exitCode"] as? Int == 4)
    #expect((changed["error"] as? [String: Any])?["code"] as? String == "plan-changed")
    #expect(changed["planId"] as? String == planID)
    #expect(changed["consent"] as? String == "refused")
    #expect(isAlive(holder.pid))

    // The plan's own id: the holder is ended and the port proved free.
    let (acted, freed) = try session.call("free", ["ports": ["\(port)"], "planId": planID])
    #expect(acted["isError"] as? Bool == false, "\(freed)")
    #expect(freed["exitCode"] as? Int == 0)
    #expect(freed["dryRun"] as? Bool == false)
    #expect(freed["consent"] as? String == "plan-id")
    #expect(freed["freed"] as? Bool == true)
    let ports = try #require(freed["ports"] as? [[String: Any]])
    #expect(ports.compactMap { $0["port"] as? Int } == [Int(port)])
    #expect(ports.first?["free"] as? Bool == true)
    #expect(eventually { !isAlive(holder.pid) })
    #expect(canBindLoopback(port))
    #expect(session.finish() == 0)
  }

  @Test func killRefusesAPlanWhoseHolderWasReplaced() throws {
    let first = try Holder("tcp:127.0.0.1:0")
    let port = first.port
    let session = try MCPSession(Products.portctl, ["mcp", "--allow-stop"])
    _ = try session.initialize()
    let (_, plan) = try session.call("kill", ["ports": Int(port)])
    let planID = try #require(plan["planId"] as? String)
    #expect(plan["freed"] is NSNull)
    #expect((plan["targets"] as? [[String: Any]])?.compactMap { $0["pid"] as? Int } == [Int(first.pid)])

    // Another process takes the port: the old plan's id no longer fits.
    first.stop()
    let second = try Holder("tcp:127.0.0.1:\(port)")
    let (refused, changed) = try session.call("kill", ["ports": Int(port), "planId": planID])
    #expect(refused["isError"] as? Bool == true)
    #expect(changed["exitCode"] as? Int == 4)
    #expect((changed["error"] as? [String: Any])?["code"] as? String == "plan-changed")
    let newID = try #require(changed["planId"] as? String)
    #expect(newID != planID)
    #expect((changed["targets"] as? [[String: Any]])?.compactMap { $0["pid"] as? Int } == [Int(second.pid)])
    #expect(isAlive(second.pid))

    // The new plan's id: kill signals it, and says nothing of freeing.
    let (acted, killed) = try session.call("kill", ["ports": Int(port), "planId": newID])
    #expect(acted["isError"] as? Bool == false, "\(killed)")
    #expect(killed["exitCode"] as? Int == 0)
    #expect(killed["freed"] is NSNull)
    #expect((killed["targets"] as? [[String: Any]])?.first?["signals"] as? [String] == ["TERM"])
    #expect(eventually { !isAlive(second.pid) })
    #expect(session.finish() == 0)
  }

  @Test(
    .enabled(
      if: Programs.installed(Programs.python) || ProcessInfo.processInfo.environment["CI"] == "true", "needs python3"))
  func freeRefusesTheServersOwnAncestor() throws {
    // A python3 that listens, then runs the MCP server as its child: the agent's side.
    let port = try unusedPort()
    let script = """
      import socket, subprocess, sys
      s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
      s.bind(("127.0.0.1", \(port))); s.listen()
      sys.exit(subprocess.call([sys.argv[1], "mcp", "--allow-stop"]))
      """
    let session = try MCPSession(URL(fileURLWithPath: Programs.python), ["-c", script, Products.portctl.path])
    _ = try session.initialize()
    let parent = session.process.processIdentifier
    let (result, plan) = try session.call("free", ["ports": ["\(port)"]])
    #expect(result["isError"] as? Bool == true)
    #expect(plan["exitCode"] as? Int == 4)
    #expect(plan["planId"] == nil)
    let protected = try #require(plan["protected"] as? [[String: Any]])
    #expect(protected.compactMap { $0["pid"] as? Int } == [Int(parent)])
    #expect((protected.first?["reason"] as? String)?.contains("ancestor") == true)
    #expect(isAlive(parent))
    #expect(session.finish() == 0)
  }

  @Test func serverRefusesAnUnknownArgument() throws {
    let result = try run(Products.directory.appendingPathComponent("portctl-mcp"), ["--all"])
    #expect(result.status == 64)
    #expect(result.stdout.isEmpty)
    #expect(result.stderr == "portctl mcp: unknown argument '--all'; the only option is --allow-stop.\n")
  }

  @Test func mcpWithoutTheServerBesideItFails() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portctl-mcp-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let copy = directory.appendingPathComponent("portctl")
    try FileManager.default.copyItem(at: Products.portctl, to: copy)
    let result = try run(copy, ["mcp"])
    #expect(result.status == 2)
    #expect(result.stdout.isEmpty)
    #expect(
      result.stderr
        == "portctl: the MCP server \(directory.path)/portctl-mcp is missing: install portctl-mcp in the same directory as portctl (swift build builds both).\n"
    )
  }
}
#endif
