#if os(Linux)
import Foundation
import Testing

/// `portctl run`: the real binary handing ports to real programs.
@Suite(.serialized) struct RunTests {
  static let hasPython =
    Programs.installed(Programs.python) || ProcessInfo.processInfo.environment["CI"] == "true"
  static let hasNode = Programs.installed(Programs.node) || ProcessInfo.processInfo.environment["CI"] == "true"

  /// One HTTP/1.0 GET to 127.0.0.1:`port`; the status line, or nil.
  private func httpStatusLine(_ port: UInt16) -> String? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard connected == 0 else { return nil }
    let request = Array("GET / HTTP/1.0\r\n\r\n".utf8)
    guard write(fd, request, request.count) == request.count else { return nil }
    var buffer = [UInt8](repeating: 0, count: 256)
    let count = read(fd, &buffer, buffer.count)
    guard count > 0 else { return nil }
    return String(decoding: buffer[..<count], as: UTF8.self).split(separator: "\r\n").first.map(String.init)
  }

  /// `run --port auto`: the port arrives in $PORT and in place of {port}, the server really
  /// listens there, and SIGTERM sent to portctl reaches it (status 128 + 15).
  @Test(.enabled(if: hasPython, "needs python3"))
  func autoPortReachesTheEnvironmentAndTheArgumentsAndTheServerListensThere() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portctl-run-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let process = Process()
    process.executableURL = Products.portctl
    process.arguments = [
      "run", "--port", "auto", "--", "sh", "-c",
      "echo \"env=$PORT arg=$1\"; exec \(Programs.python) -m http.server \"$1\" --bind 127.0.0.1 --directory \"$2\"",
      "sh", "{port}", directory.path,
    ]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try process.run()
    defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    var text = ""
    while !text.contains("\n") {
      let chunk = output.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      text += String(decoding: chunk, as: UTF8.self)
    }
    let line = try #require(text.split(separator: "\n").first.map(String.init))
    let fields = line.split(separator: " ").map { $0.split(separator: "=").last.map(String.init) ?? "" }
    let port = try #require(UInt16(fields.first ?? ""), "\(line)")
    #expect(line == "env=\(port) arg=\(port)")
    #expect(port >= 3000)
    #expect(eventually(10) { httpStatusLine(port)?.hasPrefix("HTTP/1.0 200") == true }, "nothing answered on \(port)")
    // Stopped through portctl: the signal is passed on, and its end is portctl's status.
    kill(process.processIdentifier, SIGTERM)
    process.waitUntilExit()
    #expect(process.terminationStatus == 128 + SIGTERM)
    #expect(eventually { canBindLoopback(port) })
  }

  @Test func theCommandsExitStatusIsRuns() throws {
    let three = try portctl("run", "--", "sh", "-c", "echo \"out $PORT\"; echo err >&2; exit 3")
    #expect(three.status == 3)
    #expect(three.stdout.hasPrefix("out "))
    #expect(UInt16(three.stdout.dropFirst(4).trimmingCharacters(in: .whitespacesAndNewlines)) != nil)
    #expect(three.stderr == "err\n")
    #expect(try portctl("run", "--", "true").status == 0)
    #expect(try portctl("run", "--", "sh", "-c", "kill -KILL $$").status == 128 + 9)
    let named = try portctl("run", "--port", "4999", "--env", "HTTP_PORT", "--", "sh", "-c", "echo $HTTP_PORT {port}")
    if canBind(4999) { #expect(named.stdout == "4999 4999\n", "\(named.stderr)") }
    let missing = try portctl("run", "--", "/nonexistent/portctl-test-command")
    #expect(missing.status == 127)
    #expect(missing.stderr.contains("Could not run '/nonexistent/portctl-test-command'"))
    for arguments in [["run"], ["run", "--port", "0", "--", "true"], ["run", "--env", "A=B", "--", "true"]] {
      #expect(try portctl(arguments).status == 64, "\(arguments)")
    }
  }

  /// A command that leaves a background process holding its output pipes: run ends when
  /// the command does, not when the pipes close.
  @Test func aProcessLeftHoldingTheOutputDoesNotKeepRunWaiting() throws {
    // Started through posix_spawn with its output in a file, and waited for by pid: a pipe
    // of the test's own would be held open by the background sleep too.
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("portctl-run-out-\(getpid())")
    defer { try? FileManager.default.removeItem(at: file) }
    let shell = try Spawned(
      "/bin/sh",
      ["-c", "\"$0\" run -- sh -c 'sleep 10 & echo started; exit 4' > \"$1\"", Products.portctl.path, file.path])
    let (status, seconds) = timed { shell.exitStatus(within: 9) }
    #expect(status == 4)
    #expect(seconds < 8, "run waited \(seconds) s for the pipes")
    #expect((try? String(contentsOf: file, encoding: .utf8)) == "started\n")
  }

  /// A taken port without a terminal: check's diagnosis with the holder's pid, status 1,
  /// and the command never started.
  @Test func aTakenPortWithoutATerminalIsDiagnosedAndTheCommandDoesNotRun() throws {
    let holder = try Holder("tcp:0.0.0.0:0")
    defer { holder.stop() }
    let marker = FileManager.default.temporaryDirectory.appendingPathComponent("portctl-run-marker-\(getpid())")
    try? FileManager.default.removeItem(at: marker)
    let result = try portctl("run", "--port", "\(holder.port)", "--", "touch", marker.path)
    #expect(result.status == 1)
    #expect(result.stdout.isEmpty)
    #expect(result.stderr.contains("port \(holder.port) cannot be bound, so the command was not run"))
    #expect(
      result.stderr.contains("held: tcp 0.0.0.0:\(holder.port) is held by port-holder (pid \(holder.pid))"),
      "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: marker.path))
  }

  /// A command that fails to bind a held port: its own error first, then explain's
  /// diagnosis naming the holder.
  @Test(.enabled(if: hasNode, "needs node"))
  func aBindFailureIsExplainedUnderTheCommandsOwnError() throws {
    let holder = try Holder("tcp:0.0.0.0:0")
    defer { holder.stop() }
    let result = try portctl(
      "run", "--", Programs.node, "-e", "require('net').createServer().listen(\(holder.port))")
    #expect(result.status == 1)
    let own = try #require(
      result.stderr.range(of: "EADDRINUSE: address already in use :::\(holder.port)"), "\(result.stderr)")
    let diagnosis = try #require(
      result.stderr.range(of: "portctl: Node.js could not bind on [::]:\(holder.port) (tcp)"), "\(result.stderr)")
    #expect(own.upperBound < diagnosis.lowerBound)
    #expect(result.stderr.contains("is held by port-holder (pid \(holder.pid))"), "\(result.stderr)")
    // A command that fails without a bind error gets nothing added.
    let plain = try portctl("run", "--", "sh", "-c", "echo 'something else went wrong' >&2; exit 2")
    #expect(plain.status == 2)
    #expect(plain.stderr == "something else went wrong\n")
  }

  /// On a terminal, a taken port gets free's question; "y" frees it and the command runs
  /// on it.
  @Test(.enabled(if: ConsentTests.canRun, "needs script(1)"))
  func onATerminalATakenPortIsOfferedToBeFreedAndThenTheCommandRuns() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    defer { holder.stop() }
    let result = try onPseudoTerminal(
      "\(Products.portctl.path) run --port \(holder.port) -- sh -c 'echo \"ran on $PORT\"'", answering: "y")
    #expect(result.stdout.contains("port \(holder.port) cannot be bound now"), "\(result.stdout)")
    #expect(result.stdout.contains("port-holder (pid \(holder.pid))"), "\(result.stdout)")
    #expect(result.stdout.contains("Send SIGTERM, then SIGKILL after 5 s? [y/N]"), "\(result.stdout)")
    #expect(result.stdout.contains("ran on \(holder.port)"), "\(result.stdout)")
    #expect(result.status == 0)
    holder.process.waitUntilExit()
    // Declined: nothing is signalled and the command does not run (status 4, refused).
    let second = try Holder("tcp:127.0.0.1:0")
    defer { second.stop() }
    let declined = try onPseudoTerminal(
      "\(Products.portctl.path) run --port \(second.port) -- sh -c 'echo \"ran on $PORT\"'", answering: "n")
    #expect(declined.status == 4, "\(declined.stdout)")
    #expect(!declined.stdout.contains("ran on"))
    #expect(isAlive(second.pid))
  }
}
#endif
