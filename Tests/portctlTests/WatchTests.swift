#if os(Linux)
import Foundation
import Testing

/// A running `portctl watch`, its output read line by line as it comes.
final class WatchRun: @unchecked Sendable {
  let process = Process()
  private let output = Pipe()
  private let errors = Pipe()
  private let lock = NSLock()
  private var lines: [String] = []
  private var partial = Data()
  private var ended = false
  private var consumed = 0
  private let errorData = LockedData()

  init(_ arguments: [String]) throws {
    process.executableURL = Products.portctl
    process.arguments = ["watch"] + arguments
    var environment = ProcessInfo.processInfo.environment
    environment["NO_COLOR"] = nil
    process.environment = environment
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let reader = Thread { [self] in
      while true {
        let chunk = output.fileHandleForReading.availableData
        lock.withLock {
          if chunk.isEmpty {
            ended = true
          } else {
            partial.append(chunk)
            while let newline = partial.firstIndex(of: UInt8(ascii: "\n")) {
              lines.append(String(decoding: partial[partial.startIndex..<newline], as: UTF8.self))
              partial = Data(partial[(newline + 1)...])
            }
          }
        }
        if chunk.isEmpty { return }
      }
    }
    reader.start()
    let errorReader = Thread { [self] in errorData.set(errors.fileHandleForReading.readDataToEndOfFile()) }
    errorReader.start()
  }

  /// The next line not yet returned, waiting up to `seconds`; nil when none came.
  func nextLine(within seconds: Double = 10) -> String? {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      let line: String? = lock.withLock {
        guard consumed < lines.count else { return nil }
        consumed += 1
        return lines[consumed - 1]
      }
      if let line { return line }
      if lock.withLock({ ended }) { return nil }
      usleep(5000)
    }
    return nil
  }

  /// The next line as a JSON object.
  func nextEvent(within seconds: Double = 10) throws -> [String: Any] {
    let line = try #require(nextLine(within: seconds), "no line from watch; stderr: \(stderr)")
    let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
    return try #require(object as? [String: Any], "not a JSON object: \(line)")
  }

  /// Sends `signal`, waits for the exit; the status and what was left unread (a partial
  /// line, if any, last).
  func stop(_ signal: Int32) -> (status: Int32, rest: [String], partial: String) {
    kill(process.processIdentifier, signal)
    // Bounded: a watch that ignores the signal fails the test instead of hanging the suite.
    let ended = eventually(120) { !process.isRunning }
    if !ended {
      Issue.record("portctl watch did not exit within 120 s of signal \(signal); killed")
      kill(process.processIdentifier, SIGKILL)
    }
    process.waitUntilExit()
    _ = eventually { lock.withLock { ended } }
    return lock.withLock {
      (process.terminationStatus, Array(lines[consumed...]), String(decoding: partial, as: UTF8.self))
    }
  }

  var stderr: String { String(decoding: errorData.value, as: UTF8.self) }

  deinit {
    if process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
  }
}

extension [String: Any] {
  var event: String? { self["event"] as? String }
  /// The pids of an event's `processes`, or of its `previous` ones.
  var holderPIDs: [Int] { (self["processes"] as? [[String: Any]] ?? []).compactMap { $0["pid"] as? Int } }
  var previousPIDs: [Int] { (self["previous"] as? [String: Any])?.holderPIDs ?? [] }
}

/// Every watch names 127.0.0.1 with its port: a port free there may be held on another
/// address (another test's crowd of 127.x.y.1 listeners) at the same time.
@Suite(.serialized) struct WatchTests {
  @Test func aListenerAppearsWithItsPidAndGoes() throws {
    let port = try unusedPort()
    let watch = try WatchRun(["127.0.0.1:\(port)", "--json"])
    let ready = try watch.nextEvent()
    #expect(ready.event == "ready")
    #expect(ready["command"] as? String == "watch")
    #expect(ready["intervalSeconds"] as? Double == 0.25)
    let holder = try Holder("tcp:127.0.0.1:\(port)")
    let appeared = try watch.nextEvent()
    #expect(appeared.event == "listening")
    #expect(appeared.holderPIDs == [Int(holder.pid)])
    #expect(appeared["protocol"] as? String == "tcp")
    #expect(appeared["localAddress"] as? String == "127.0.0.1")
    #expect(appeared["localPort"] as? Int == Int(port))
    #expect((appeared["processes"] as? [[String: Any]])?.first?["name"] as? String == "port-holder")
    #expect(appeared["previous"] is NSNull)
    let time = try #require(appeared["time"] as? String)
    #expect(time.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil, "\(time)")
    holder.stop()
    let gone = try watch.nextEvent()
    #expect(gone.event == "closed")
    #expect(gone.holderPIDs == [Int(holder.pid)])
    #expect(gone["localPort"] as? Int == Int(port))
    let end = watch.stop(SIGINT)
    #expect(end.status == 0, "\(watch.stderr)")
    #expect(end.rest.isEmpty && end.partial.isEmpty, "\(end)")
  }

  @Test func aRespawnIsAChangeOfHolderWithExactPidsInOrder() throws {
    let port = try unusedPort()
    // Polls 1.5 s apart: the respawn below takes milliseconds, so it falls between two polls
    // and is seen as it would be under a fast supervisor, one holder replaced by another.
    let watch = try WatchRun(["127.0.0.1:\(port)", "--json", "--interval", "1.5s"])
    #expect(try watch.nextEvent().event == "ready")
    let supervisor = try Holder("--supervise", "tcp:127.0.0.1:\(port)")
    let first = try #require(supervisor.children.first)
    let appeared = try watch.nextEvent()
    #expect(appeared.event == "listening")
    #expect(appeared.holderPIDs == [Int(first)])
    // Kill the holder: the supervisor starts another on the same port.
    kill(first, SIGKILL)
    var second: Int32 = 0
    #expect(
      eventually {
        let now = childPIDs(of: supervisor.pid)
        guard now.count == 1, now[0] != first, loopbackTaken(port) else { return false }
        second = now[0]
        return true
      }, "the supervisor did not start a new holder")
    let changed = try watch.nextEvent()
    #expect(changed.event == "changed")
    #expect(changed.holderPIDs == [Int(second)])
    #expect(changed.previousPIDs == [Int(first)])
    #expect(changed["localPort"] as? Int == Int(port))
    supervisor.stop()
    let gone = try watch.nextEvent()
    #expect(gone.event == "closed")
    #expect(gone.holderPIDs == [Int(second)])
    let end = watch.stop(SIGTERM)
    #expect(end.status == 0, "\(watch.stderr)")
    #expect(end.rest.isEmpty, "\(end.rest)")
  }

  @Test func aHandOffKeepsTheSocketAndChangesItsHolder() throws {
    // Every 300 ms the holder forks a successor that keeps the socket, and exits: the socket
    // never closes, so the watch sees changes of holder only, never a close.
    let holder = try Holder("--handoff", "300", "tcp:127.0.0.1:0")
    let watch = try WatchRun(["127.0.0.1:\(holder.port)", "--json", "--interval", "50ms"])
    let present = try watch.nextEvent()
    #expect(present.event == "present")
    #expect(present.holderPIDs == [Int(holder.pid)])
    #expect(try watch.nextEvent().event == "ready")
    var previous = present.holderPIDs
    for _ in 0..<3 {
      let changed = try watch.nextEvent()
      #expect(changed.event == "changed", "\(changed)")
      #expect(changed.previousPIDs == previous)
      #expect(changed.holderPIDs != previous)
      previous = changed.holderPIDs
    }
    #expect(watch.stop(SIGTERM).status == 0)
  }

  @Test(
    .enabled(
      if: Programs.installed(Programs.python) || ProcessInfo.processInfo.environment["CI"] == "true",
      "needs python3 (required under CI)"))
  func aForkThatSharesTheSocketIsAChange() throws {
    // The same socket the whole time: only the check of the holders' children between full
    // reads can see the child that shares it.
    let script = """
      import os, signal, socket
      s = socket.socket()
      s.bind(('127.0.0.1', 0))
      s.listen()
      def fork(*_):
          if os.fork() == 0:
              while os.read(0, 1024):
                  pass
              os._exit(0)
      signal.signal(signal.SIGUSR1, fork)
      # The test runner's threads block most signals, and a child inherits the mask.
      signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGUSR1])
      print(f"ready pid={os.getpid()} ports={s.getsockname()[1]} children=", flush=True)
      while True:
          try:
              if not os.read(0, 1024):
                  break
          except InterruptedError:
              pass
      """
    let server = try Holder([], launcher: [Programs.python, "-c", script])
    let watch = try WatchRun(["127.0.0.1:\(server.port)", "--json", "--interval", "100ms"])
    let present = try watch.nextEvent()
    #expect(present.event == "present" && present.holderPIDs == [Int(server.pid)])
    #expect(try watch.nextEvent().event == "ready")
    // Two full reads' worth of quiet polls first: the cheap path is the one in use.
    usleep(300_000)
    kill(server.pid, SIGUSR1)
    #expect(eventually { childPIDs(of: server.pid).count == 1 })
    let child = try #require(childPIDs(of: server.pid).first)
    // Well within the 10 s between full reads.
    let changed = try watch.nextEvent(within: 5)
    #expect(changed.event == "changed")
    #expect(changed.holderPIDs == [Int(server.pid), Int(child)])
    #expect(changed.previousPIDs == [Int(server.pid)])
    server.stop()
    let gone = try watch.nextEvent()
    #expect(gone.event == "closed")
    #expect(gone.holderPIDs == [Int(server.pid), Int(child)])
    #expect(watch.stop(SIGINT).status == 0)
  }

  @Test func listenersAlreadyThereArePresentBeforeReady() throws {
    let holder = try Holder("tcp:127.0.0.1:0", "udp:127.0.0.1:0")
    let tcpPort = holder.ports[0]
    let udpPort = holder.ports[1]
    let watch = try WatchRun(["tcp:127.0.0.1:\(tcpPort)", "udp:127.0.0.1:\(udpPort)", "--json"])
    let first = try watch.nextEvent()
    let second = try watch.nextEvent()
    #expect(try watch.nextEvent().event == "ready")
    // In port order.
    let events = tcpPort < udpPort ? [first, second] : [second, first]
    #expect(events.map(\.event) == ["present", "present"])
    #expect(events[0]["protocol"] as? String == "tcp" && events[0]["localPort"] as? Int == Int(tcpPort))
    #expect(events[1]["protocol"] as? String == "udp" && events[1]["localPort"] as? Int == Int(udpPort))
    #expect(events.allSatisfy { $0.holderPIDs == [Int(holder.pid)] })
    let end = watch.stop(SIGINT)
    #expect(end.status == 0)
  }

  @Test func onlyTheAskedProtocolIsWatched() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let watch = try WatchRun(["127.0.0.1:\(holder.port)", "--udp", "--json"])
    let ready = try watch.nextEvent()
    #expect(ready.event == "ready")
    #expect(ready["protocols"] as? [String] == ["udp"])
    let end = watch.stop(SIGTERM)
    #expect(end.status == 0)
    #expect(end.rest.isEmpty)
  }

  @Test(arguments: [SIGINT, SIGTERM])
  func aSignalEndsTheWatchWithStatusZeroAndFlushedOutput(_ signal: Int32) throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    // Output to a pipe is block-buffered unless flushed: every line must be out already.
    let watch = try WatchRun(["127.0.0.1:\(holder.port)"])
    let present = try #require(watch.nextLine())
    #expect(present.contains("present"))
    let ready = try #require(watch.nextLine())
    #expect(ready.contains("ready"))
    let end = watch.stop(signal)
    #expect(end.status == 0, "\(watch.stderr)")
    #expect(end.rest.isEmpty && end.partial.isEmpty, "\(end)")
    #expect(watch.stderr.isEmpty, "\(watch.stderr)")
  }

  @Test(
    .enabled(
      if: Programs.installed(Programs.python) || ProcessInfo.processInfo.environment["CI"] == "true",
      "needs python3 (required under CI)"))
  func textLinesSayTimeEventProtocolAddressAndEscapedHolders() throws {
    // A holder that names itself with an escape sequence.
    let script = """
      import os, socket, sys
      with open('/proc/self/comm', 'w') as comm:
          comm.write('ev\\x1b[2Jil')
      s = socket.socket()
      s.bind(('127.0.0.1', 0))
      s.listen()
      print(f"ready pid={os.getpid()} ports={s.getsockname()[1]} children=", flush=True)
      sys.stdin.read()
      """
    let named = try Holder([], launcher: [Programs.python, "-c", script])
    let port = try unusedPort()
    let watch = try WatchRun(["127.0.0.1:\(named.port)", "127.0.0.1:\(port)", "--interval", "100ms"])
    let present = try #require(watch.nextLine())
    let stamp = #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"#
    #expect(
      present.wholeMatch(
        of: try Regex("\(stamp)  present    tcp  127\\.0\\.0\\.1:\(named.port)  \(named.pid)/ev\\\\x1b\\[2Jil"))
        != nil, "\(present)")
    #expect(!present.contains("\u{1B}"))
    let ready = try #require(watch.nextLine())
    #expect(
      ready.wholeMatch(
        of: try Regex(
          "\(stamp)  ready      tcp,udp  127\\.0\\.0\\.1:\(named.port),127\\.0\\.0\\.1:\(port)  every 0\\.1 s")) != nil,
      "\(ready)")
    let holder = try Holder("tcp:127.0.0.1:\(port)")
    let appeared = try #require(watch.nextLine())
    #expect(
      appeared.wholeMatch(of: try Regex("\(stamp)  listening  tcp  127\\.0\\.0\\.1:\(port)  \(holder.pid)/port-holder"))
        != nil, "\(appeared)")
    holder.stop()
    let gone = try #require(watch.nextLine())
    #expect(
      gone.wholeMatch(of: try Regex("\(stamp)  closed     tcp  127\\.0\\.0\\.1:\(port)  \(holder.pid)/port-holder"))
        != nil, "\(gone)")
    #expect(watch.stop(SIGINT).status == 0)
  }

  @Test(arguments: ["0", "abc", "-1s", "2h", "5ms", "1 s", "", "1.5.2s"])
  func aBadIntervalIsAUsageError(_ interval: String) throws {
    let result = try portctl("watch", "3000", "--interval", interval)
    #expect(result.status == 64)
    #expect(result.stderr.contains("--interval takes 250ms, 1s, 2.5s or a number of seconds"), "\(result.stderr)")
    #expect(result.stdout.isEmpty)
    let json = try portctl("watch", "--json", "--interval", interval)
    #expect(json.status == 64)
    let document = try json.json()
    #expect(document["exitCode"] as? Int == 64)
    #expect((document["error"] as? [String: Any])?["code"] as? String == "usage")
  }

  @Test(arguments: [("250ms", 0.25), ("1s", 1.0), ("2.5s", 2.5), ("3", 3.0), ("0.5", 0.5)])
  func intervalForms(_ interval: String, _ seconds: Double) throws {
    let watch = try WatchRun(["127.0.0.1:\(try unusedPort())", "--json", "--interval", interval])
    let ready = try watch.nextEvent()
    #expect(ready.event == "ready")
    #expect(ready["intervalSeconds"] as? Double == seconds)
    #expect(watch.stop(SIGTERM).status == 0)
  }

  @Test func aBadPortIsAUsageError() throws {
    let result = try portctl("watch", "70000")
    #expect(result.status == 64)
    #expect(result.stderr.contains("70000"))
  }
}
#endif
