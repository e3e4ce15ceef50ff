import Foundation
import Testing

@testable import PortKit

/// `--host`'s parsing of what the remote script prints, on recorded output: the procfs
/// reading through the procfs parsers, untrusted bytes that cannot forge a marker or crash
/// the parse, the lsof guard's start time, and ssh's failures as messages.
@Suite struct RemoteReadingTests {
  /// `bytes` as `od -An -v -tx1` prints them: 16 to a line.
  static func od(_ bytes: [UInt8]) -> String {
    stride(from: 0, to: bytes.count, by: 16).map { start in
      bytes[start..<min(start + 16, bytes.count)].map { " " + String(format: "%02x", $0) }.joined()
    }.joined(separator: "\n")
  }

  /// A procfs remote's output: the fixture TCP table, pid 4242 holding inode 16714 (port
  /// 43003) on fd 7, its parent 1, and `commandLine` as its cmdline.
  static func procfsOutput(commandLine: [UInt8]) throws -> [UInt8] {
    let table = String(decoding: try fixture("proc-net-tcp.txt"), as: UTF8.self)
    let stat = Array("4242 (ser) ver) S 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 5000 0 0".utf8)
    let text = """
      banner printed by a login script
      @portctl-remote 1
      @os Linux
      @euid 0
      @now 1800000000
      @zone +0100
      @self 900
      @ancestor 800
      @ancestor 1
      @user 0 root
      @user 1000 dev
      @kind procfs
      @ticks 100
      @btime 1799990000
      @table tcp
      \(table)
      @fds
      /proc/4242/fd:
      lrwx------ 1 dev dev 64 Nov 29 04:25 7 -> socket:[16714]
      lrwx------ 1 dev dev 64 Nov 29 04:25 8 -> /tmp/a -> socket:[16711]
      /proc/1/fd:
      @procs
      @pid 4242
      @uid 1000
      @stat
      \(od(stat))
      @cmdline
      \(od(commandLine))
      @cgroup
      @cwd
      \(od(Array("/srv/app\n".utf8)))
      @exe
      \(od(Array("/usr/bin/ser\n".utf8)))
      @end
      @done

      """
    return Array(text.utf8)
  }

  @Test func procfsOutputGivesHoldersThroughTheProcfsParsers() throws {
    let reading = RemoteReading.parse(try Self.procfsOutput(commandLine: Array("ser\0--port\043003\0".utf8)))
    #expect(reading.kind == "procfs")
    #expect(reading.complete)
    #expect(reading.selfChain == [900, 800, 1])
    #expect(reading.utcOffset == 3600)
    // The link whose target only ends like a socket is not one.
    #expect(reading.links == [SocketHolders.Link(id: 16714, pid: 4242, fd: 7)])
    let query = SocketQuery(specs: try PortSpec.parseList("43003"), protocols: [.tcp], listenersOnly: true)
    let snapshot = RemoteSystemSource.procfsSnapshot(reading, query: query)
    #expect(snapshot.sockets.map(\.local.port) == [43003])
    #expect(snapshot.references[16714]?.map(\.pid) == [4242])
    let record = try #require(snapshot.processes[4242])
    #expect(record.name == "ser) ver")
    #expect(record.ppid == 1)
    #expect(record.uid == 1000)
    #expect(record.user == "dev")
    #expect(record.commandLine == ["ser", "--port", "43003"])
    #expect(record.workingDirectory == "/srv/app")
    #expect(record.executable == "/usr/bin/ser")
    #expect(record.startTicks == 5000)
    #expect(record.startTime == 1_799_990_050)
    #expect(snapshot.effectiveUID == 0)
    #expect(snapshot.takenAt == 1_800_000_000)
  }

  /// A command line holding newlines and whole marker lines stays one command line: it
  /// travels as hex, so it cannot add a process, a link or a user.
  @Test func untrustedBytesCannotForgeMarkers() throws {
    let forged = Array("evil\n@pid 1\n@uid 0\n@stat\n31 20 28 69 6e 69 74 29\n@end\n@user 0 admin\n\u{1b}[2J\0x".utf8)
    let reading = RemoteReading.parse(try Self.procfsOutput(commandLine: forged))
    #expect(reading.processes.map(\.pid) == [4242])
    #expect(reading.processes.first?.commandLine == forged)
    #expect(reading.users[0] == "root")
    #expect(reading.links.count == 1)
  }

  /// Garbage, truncated output and odd lines never crash, and never give a reading that
  /// passes for complete.
  @Test func garbageAndTruncationAreSurvived() throws {
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<200 {
      let bytes = (0..<Int.random(in: 0..<2000, using: &generator)).map { _ in
        UInt8.random(in: 0...255, using: &generator)
      }
      let reading = RemoteReading.parse(bytes)
      #expect(!reading.complete)
    }
    let whole = try Self.procfsOutput(commandLine: Array("a\0".utf8))
    for cut in stride(from: 0, to: whole.count, by: 37) {
      let reading = RemoteReading.parse(Array(whole[..<cut]))
      _ = RemoteSystemSource.procfsSnapshot(reading, query: SocketQuery(specs: nil, protocols: [.tcp, .udp]))
      // Complete only once the last marker line has arrived.
      #expect(reading.complete == (cut >= whole.count - 1))
    }
    #expect(RemoteReading.hex(ArraySlice(" 4g".utf8)) == nil)
    #expect(RemoteReading.hex(ArraySlice(" 4".utf8)) == nil)
    #expect(RemoteReading.hex(ArraySlice(" 41 0a".utf8)) == [0x41, 0x0A])
    var pid: PID? = nil
    #expect(RemoteReading.link(ArraySlice("x 99999999999 -> socket:[5]".utf8), pid: &pid) == nil)
    #expect(RemoteReading.zoneOffset("-0530") == -19_800)
    #expect(RemoteReading.zoneOffset("+99") == nil)
  }

  /// The lsof guard compares `ps -o lstart=` with the start recorded: the text made from a
  /// start time is what ps prints (weekday included), and reads back to the same time.
  @Test func lstartTextMatchesWhatPsPrints() throws {
    #expect(RemoteProcessControl.lstart(0) == "Thu Jan 1 00:00:00 1970")
    #expect(RemoteProcessControl.lstart(946_684_800) == "Sat Jan 1 00:00:00 2000")
    #expect(RemoteProcessControl.lstart(1_795_943_564) == "Sun Nov 29 09:12:44 2026")
    #expect(RemoteProcessControl.lstart(951_825_600) == "Tue Feb 29 12:00:00 2000")
    for epoch: Int64 in [0, 86_399, 951_782_400, 1_700_000_000, 4_102_444_799] {
      let row = try #require(PsParser.row("1 0 0 \(RemoteProcessControl.lstart(epoch)) cmd"))
      #expect(Int64(row.start.epochSeconds(utcOffset: 0)) == epoch)
    }
  }

  /// ssh's failures become errors that say what happened; a remote with neither /proc nor
  /// lsof, and output that is not the script's, are errors too (exit 2 in portctl).
  @Test func failuresBecomeMessages() async throws {
    let host = try RemoteHost("ops@example.invalid")
    func source(_ output: CommandOutput) -> RemoteSystemSource {
      RemoteSystemSource(
        host: host, mode: .automatic, runner: RecordedRunner(answers: ["ssh": output]), state: RemoteState())
    }
    func failure(_ output: CommandOutput) async -> PortKitError? {
      do {
        _ = try await source(output).snapshot(for: SocketQuery(specs: nil, protocols: [.tcp]))
        return nil
      } catch {
        return error
      }
    }
    let denied = await failure(
      CommandOutput(
        exitCode: 255, standardOutput: [],
        standardError: Array("ops@example.invalid: Permission denied (publickey).\n".utf8)))
    #expect(denied?.code == .remoteUnreachable)
    #expect(denied?.message.contains("could not log in to ops@example.invalid") == true)
    let unreachable = await failure(
      CommandOutput(
        exitCode: 255, standardOutput: [],
        standardError: Array("ssh: Could not resolve hostname example.invalid: Name or service not known\r\n".utf8)))
    #expect(unreachable?.message.hasPrefix("Could not reach ops@example.invalid over ssh") == true)
    let none = await failure(
      CommandOutput(exitCode: 0, standardOutput: Array("@portctl-remote 1\n@os Plan9\n@kind none\n".utf8)))
    #expect(none?.code == .unsupportedPlatform)
    #expect(none?.message.contains("neither a readable /proc nor lsof") == true)
    let garbage = await failure(
      CommandOutput(exitCode: 127, standardOutput: [], standardError: Array("sh: not found\n\u{1b}]0;x\u{7}".utf8)))
    #expect(garbage?.code == .toolFailed)
    #expect(garbage?.message.contains("\u{1b}") == false)
  }

  @Test func hostAndOptionsAreChecked() throws {
    #expect(throws: PortKitError.self) { try RemoteHost("-oProxyCommand=x") }
    #expect(throws: PortKitError.self) { try RemoteHost("a b") }
    #expect(throws: PortKitError.self) { try RemoteHost("") }
    #expect(throws: PortKitError.self) { try RemoteHost("h", sshOptions: ["-F/tmp/x"]) }
    let host = try RemoteHost("deploy@db1", sshOptions: ["Port=2222"])
    let arguments = host.sshArguments(running: "echo 'hi'")
    #expect(arguments.suffix(3) == ["--", "deploy@db1", #"sh -c 'echo '"'"'hi'"'"''"#])
    #expect(arguments.contains("BatchMode=yes"))
    #expect(arguments.contains("Port=2222"))
  }
}

#if os(Linux)
/// The remote start-time guard, run by this machine's `/bin/sh` exactly as ssh would run it
/// there, against a real process this test started: `same` only for the start recorded,
/// `replaced` for any other, `gone` once it exited; a signal with the wrong start is not sent.
@Suite(.serialized) struct RemoteGuardTests {
  private func sh(_ script: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", script]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  private func sleeper() throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sleep")
    process.arguments = ["30"]
    try process.run()
    return process
  }

  @Test func procfsGuardComparesStatField22() throws {
    let child = try sleeper()
    defer { child.terminate() }
    let pid = child.processIdentifier
    let stat = try #require(ProcfsParsers.stat(Array(try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/stat")))))
    #expect(try sh(RemoteScript.check(pid: pid, expected: "\(stat.startTicks)", kind: .procfs)) == "same")
    #expect(try sh(RemoteScript.check(pid: pid, expected: "\(stat.startTicks + 1)", kind: .procfs)) == "replaced")
    #expect(
      try sh(RemoteScript.signal(.terminate, pid: pid, expected: "\(stat.startTicks + 1)", kind: .procfs))
        == "replaced")
    usleep(100_000)
    #expect(child.isRunning, "signalled with the wrong start time")
    // SIGKILL: the test runner may leave SIGTERM ignored in its children.
    #expect(try sh(RemoteScript.signal(.kill, pid: pid, expected: "\(stat.startTicks)", kind: .procfs)) == "sent")
    child.waitUntilExit()
    #expect(child.terminationReason == .uncaughtSignal)
    #expect(try sh(RemoteScript.check(pid: pid, expected: "\(stat.startTicks)", kind: .procfs)) == "gone")
  }

  @Test func lsofGuardComparesPsLstart() throws {
    guard
      FileManager.default.isExecutableFile(atPath: "/bin/ps")
        || FileManager.default.isExecutableFile(atPath: "/usr/bin/ps")
    else {
      Issue.record("ps is needed")
      return
    }
    let child = try sleeper()
    defer { child.terminate() }
    let pid = child.processIdentifier
    let line = try sh("ps -o pid=,ppid=,uid=,lstart=,command= -p \(pid)")
    let row = try #require(PsParser.row(line))
    let expected = RemoteProcessControl.lstart(Int64(row.start.epochSeconds(utcOffset: 0)))
    #expect(try sh(RemoteScript.check(pid: pid, expected: expected, kind: .lsof)) == "same")
    let wrong = RemoteProcessControl.lstart(Int64(row.start.epochSeconds(utcOffset: 0)) - 1)
    #expect(try sh(RemoteScript.signal(.terminate, pid: pid, expected: wrong, kind: .lsof)) == "replaced")
    usleep(100_000)
    #expect(child.isRunning, "signalled with the wrong start time")
    // The wait script sees it go.
    #expect(try sh(RemoteScript.signal(.kill, pid: pid, expected: expected, kind: .lsof)) == "sent")
    let waited = try sh(RemoteScript.wait([(pid, expected)], rounds: 30, kind: .lsof))
    #expect(waited.hasPrefix("@exit \(pid) "), "\(waited)")
  }
}
#endif
