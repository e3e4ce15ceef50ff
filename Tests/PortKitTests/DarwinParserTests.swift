import Foundation
import Testing

@testable import PortKit

/// A runner that answers from recorded output, keyed by the command line.
struct RecordedRunner: CommandRunner {
  var answers: [String: CommandOutput]
  var fallback: CommandOutput? = nil

  func run(_ executable: String, _ arguments: [String]) async throws(PortKitError) -> CommandOutput {
    let key = ([executable] + arguments).joined(separator: " ")
    if let answer = answers[key] ?? answers[executable] ?? fallback { return answer }
    throw PortKitError(.toolMissing, "no recorded answer for \(key)")
  }
}

@Suite struct LsofParserTests {
  @Test func fixtureProcessesAndFields() throws {
    let processes = LsofParser.parse(try fixture("macos/lsof-F-inet.txt"))
    #expect(processes.map(\.pid) == [503, 12345, 88, 331])
    let control = processes[0]
    #expect(control.command == "ControlCe")
    #expect(control.uid == 501)
    #expect(control.login == "alice")
    #expect(control.files.map(\.fd) == [9, 10, 11, 12])
    #expect(control.files.map(\.name) == ["*:7000", "*:7000", "*:5000", "*:5000"])
    #expect(control.files.allSatisfy { $0.state == "LISTEN" && $0.proto == "TCP" })
    #expect(processes[3].files.map(\.name) == ["*:5353", "*:5353"])
    #expect(processes[3].files.allSatisfy { $0.proto == "UDP" && $0.state == nil })
  }

  @Test func fixtureSockets() throws {
    let (sockets, references) = LsofParser.sockets(LsofParser.parse(try fixture("macos/lsof-F-inet.txt")))
    let airplay = sockets.filter { $0.local.port == 7000 }
    #expect(airplay.map(\.local.address) == [.anyV4, .anyV6])
    #expect(airplay.allSatisfy { $0.state == .listen && $0.uid == 501 })
    let established = try #require(sockets.first { $0.state == .established })
    #expect(established.local == Endpoint(address: .loopbackV6, port: 3000))
    #expect(established.remote == Endpoint(address: .loopbackV6, port: 52144))
    let postgres = sockets.filter { $0.local.port == 5432 }.map(\.local.description)
    #expect(postgres == ["[::1]:5432", "127.0.0.1:5432"])
    let mdns = sockets.filter { $0.proto == .udp }
    #expect(mdns.count == 2)
    #expect(mdns.allSatisfy { $0.state == .unconnected && $0.isListener && $0.local.port == 5353 })
    #expect(Set(sockets.map(\.id)).count == sockets.count)
    let node = try #require(sockets.first { $0.local.port == 3000 && $0.state == .listen })
    #expect(references[node.id] == [SocketReference(pid: 12345, fds: [22])])
  }

  @Test func sharedSocketsGroupByDeviceAndHoldersKeepTheirDescriptors() {
    let text = """
      p100
      R1
      cnginx
      u0
      f6
      tIPv4
      d0xabc
      PTCP
      n*:80
      TST=LISTEN
      p101
      R100
      cnginx
      u33
      f6
      tIPv4
      d0xabc
      PTCP
      n*:80
      TST=LISTEN
      f7
      tIPv4
      d0xdef
      PTCP
      n*:80
      TST=LISTEN
      """
    let processes = LsofParser.parse(Array(text.utf8))
    #expect(processes.map(\.ppid) == [1, 100])
    let (sockets, references) = LsofParser.sockets(processes)
    #expect(sockets.count == 2)
    #expect(references[sockets[0].id]?.map(\.pid) == [100, 101])
    #expect(references[sockets[1].id] == [SocketReference(pid: 101, fds: [7])])
  }

  @Test(arguments: [
    "", "garbage\nmore garbage", "f3\ntIPv4\nPTCP\nn*:80", "pabc\nf3\ntIPv4\nPTCP\nn*:80",
    "p1\nf3\ntIPv4\nPTCP\nn*:99999", "p1\nf3\ntIPv4\nPTCP\nnnot-an-address", "p1\nf3\ntIPv4\nPICMP\nn*:0",
    "p1\nf3\ntIPv6\nPTCP\nn[::1:80", "p1\nf3\ntunix\nn/tmp/socket", "p1\nf3\ntIPv4\nPTCP\nn300.1.1.1:80",
  ])
  func malformedInputGivesNoSockets(text: String) {
    #expect(LsofParser.sockets(LsofParser.parse(Array(text.utf8))).sockets.isEmpty)
  }

  @Test func truncatedOutputKeepsWhatIsComplete() throws {
    var bytes = try fixture("macos/lsof-F-inet.txt")
    bytes.removeLast(30)
    let sockets = LsofParser.sockets(LsofParser.parse(bytes)).sockets
    #expect(sockets.contains { $0.local.port == 7000 })
    #expect(sockets.filter { $0.proto == .udp }.count <= 1)
  }

  @Test func statesOfBothSystems() {
    #expect(LsofParser.tcpState("FIN_WAIT_1") == .finWait1)
    #expect(LsofParser.tcpState("FIN_WAIT2") == .finWait2)
    #expect(LsofParser.tcpState("SYN_RECEIVED") == .synReceived)
    #expect(LsofParser.tcpState("CLOSED") == .close)
    #expect(LsofParser.tcpState("BOGUS") == .unknown)
    #expect(LsofParser.tcpState(nil) == .unknown)
  }

  @Test func hugeOutputParsesLinearly() {
    var text = ""
    for pid in 1...3000 {
      text += "p\(pid)\ncsrv\nu1\nf3\ntIPv4\nPTCP\nn127.0.0.1:\(10000 + pid)\nTST=LISTEN\n"
    }
    let sockets = LsofParser.sockets(LsofParser.parse(Array(text.utf8))).sockets
    #expect(sockets.count == 3000)
  }
}

@Suite struct PsParserTests {
  @Test func fixtureRowsKeepSpacesInCommands() throws {
    let rows = PsParser.parse(try fixture("macos/ps-details.txt"))
    #expect(rows.map(\.pid) == [503, 12345, 88])
    #expect(rows[0].ppid == 1)
    #expect(rows[0].uid == 501)
    #expect(rows[0].start == PsParser.CivilTime(year: 2026, month: 11, day: 16, hour: 9, minute: 12, second: 44))
    #expect(rows[1].command == "node /Users/alice/src/shop/node_modules/.bin/next dev")
    #expect(
      rows[2].command
        == "/Applications/Postgres.app/Contents/Versions/16/bin/postgres -D /Users/alice/Library/Application Support/Postgres/var-16"
    )
  }

  @Test func singleDigitDaysAndEpochConversion() throws {
    let row = try #require(PsParser.row("    7     1     0 Sat Nov  7 01:02:03 2026 /sbin/launchd"))
    #expect(row.start.day == 7)
    #expect(row.command == "/sbin/launchd")
    #expect(row.start.epochSeconds(utcOffset: 0) == 1_794_013_323)
    #expect(row.start.epochSeconds(utcOffset: 3600) == 1_794_013_323 - 3600)
    let epoch = PsParser.CivilTime(year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0)
    #expect(epoch.epochSeconds(utcOffset: 0) == 0)
    let leap = PsParser.CivilTime(year: 2024, month: 2, day: 29, hour: 12, minute: 0, second: 0)
    #expect(leap.epochSeconds(utcOffset: 0) == 1_709_208_000)
  }

  @Test(arguments: [
    "", "abc", "1 2 3", "1 2 3 Mon Foo 16 09:12:44 2026 x", "1 2 3 Mon Nov 99 09:12:44 2026 x",
    "1 2 x Mon Nov 1 09:12:44 2026 x", "1 2 3 Mon Nov 1 09:12 2026 x",
  ])
  func malformedRowsAreSkipped(line: String) {
    #expect(PsParser.row(line) == nil)
  }

  @Test func fullNamesForLsofsShortNames() {
    #expect(
      PsParser.fullName(
        "ControlCe", command: "/System/Library/CoreServices/ControlCenter.app/Contents/MacOS/ControlCenter")
        == "ControlCenter")
    #expect(PsParser.fullName("mDNSRespo", command: "/usr/sbin/mDNSResponder") == "mDNSResponder")
    #expect(PsParser.fullName("node", command: "node server.js") == "node")
    #expect(PsParser.fullName("gone", command: "") == "gone")
  }
}

@Suite struct LsofSourceTests {
  @Test func argumentsPutThePortFilterOnTheCommandLine() throws {
    let specs =
      try PortSpec.parseList("3000") + PortSpec.parseList("udp:53") + PortSpec.parseList("127.0.0.1:8000-8010")
    #expect(
      LsofSystemSource.arguments(for: SocketQuery(specs: specs)) == [
        "-nP", "-w", "-F", "pcuLRftPnTdi", "-i:3000", "-iUDP:53", "-i:8000-8010",
      ])
    #expect(
      LsofSystemSource.arguments(for: SocketQuery(specs: try PortSpec.parseList("3000"), protocols: [.tcp]))
        .last == "-iTCP:3000")
    #expect(LsofSystemSource.arguments(for: SocketQuery()).suffix(2) == ["-iTCP", "-iUDP"])
  }

  @Test func snapshotFromRecordedLsofAndPs() async throws {
    let runner = RecordedRunner(answers: [
      "lsof": CommandOutput(exitCode: 0, standardOutput: try fixture("macos/lsof-F-inet.txt")),
      "ps": CommandOutput(exitCode: 0, standardOutput: try fixture("macos/ps-details.txt")),
    ])
    let source = LsofSystemSource(
      runner: runner, binder: nil, host: HostFacts(effectiveUID: 501, now: { 1_795_000_000 }))
    let query = SocketQuery(specs: try PortSpec.parseList("5000"))
    let report = PortInspector.report(from: try await source.snapshot(for: query), query: query)
    #expect(report.sockets.count == 2)
    let holder = try #require(report.sockets.first?.owner.holders.first?.process)
    #expect(holder.pid == 503)
    #expect(holder.name == "ControlCenter")
    #expect(holder.user == "alice")
    #expect(holder.ppid == 1)
    #expect(holder.displayCommand == "/System/Library/CoreServices/ControlCenter.app/Contents/MacOS/ControlCenter")
    #expect(
      holder.startTime
        == PsParser.CivilTime(year: 2026, month: 11, day: 16, hour: 9, minute: 12, second: 44).epochSeconds(
          utcOffset: 0))
  }

  struct BusyBinder: PortBinder {
    func tryBind(_ endpoint: Endpoint, proto: TransportProtocol, reuseAddress: Bool) -> BindOutcome {
      endpoint.port == 80 && proto == .tcp ? .inUse : .bindable
    }
  }

  @Test func invisiblePortThatFailsABindIsHeldByAHiddenOwner() async throws {
    let runner = RecordedRunner(answers: ["lsof": CommandOutput(exitCode: 1, standardOutput: [])])
    let source = LsofSystemSource(runner: runner, binder: BusyBinder(), host: HostFacts(effectiveUID: 501, now: { 0 }))
    let query = SocketQuery(specs: try PortSpec.parseList("80"))
    let report = PortInspector.report(from: try await source.snapshot(for: query), query: query)
    #expect(report.isHeld)
    #expect(report.sockets.map(\.socket.proto) == [.tcp])
    guard case .hidden(let owner) = report.sockets.first?.owner else {
      Issue.record("expected a hidden owner")
      return
    }
    #expect(owner.reason == .needsPrivilege)
    let free = try await source.snapshot(for: SocketQuery(specs: try PortSpec.parseList("81")))
    #expect(free.sockets.isEmpty)
  }

  @Test func lsofFailureIsAToolError() async throws {
    let runner = RecordedRunner(answers: [
      "lsof": CommandOutput(exitCode: 2, standardOutput: [], standardError: Array("lsof: illegal option\n".utf8))
    ])
    let source = LsofSystemSource(runner: runner, binder: nil, host: HostFacts(effectiveUID: 0, now: { 0 }))
    await #expect(throws: PortKitError.self) { try await source.snapshot(for: SocketQuery()) }
  }

  /// lsof exits 1 whenever one process could not be read, with everything else printed.
  @Test func exitOneWithFullOutputIsRead() async throws {
    let full = try fixture("macos/lsof-F-inet.txt")
    let runner = RecordedRunner(answers: [
      "lsof": CommandOutput(
        exitCode: 1, standardOutput: full,
        standardError: Array("lsof: WARNING: can't stat() fuse.portal file system /run/user/1000/doc\n".utf8)),
      "ps": CommandOutput(exitCode: 0, standardOutput: try fixture("macos/ps-details.txt")),
    ])
    let source = LsofSystemSource(runner: runner, binder: nil, host: HostFacts(effectiveUID: 501, now: { 0 }))
    let query = SocketQuery(specs: try PortSpec.parseList("5000"))
    let report = PortInspector.report(from: try await source.snapshot(for: query), query: query)
    #expect(report.sockets.count == 2)
    #expect(report.sockets.first?.owner.holders.first?.process.pid == 503)
    // The same output with exit 0 gives the same sockets.
    let clean = LsofSystemSource(
      runner: RecordedRunner(answers: [
        "lsof": CommandOutput(exitCode: 0, standardOutput: full),
        "ps": CommandOutput(exitCode: 0, standardOutput: try fixture("macos/ps-details.txt")),
      ]), binder: nil, host: HostFacts(effectiveUID: 501, now: { 0 }))
    #expect(try await clean.snapshot(for: query).sockets == (try await source.snapshot(for: query)).sockets)
  }

  @Test func exitOneWithoutUsableOutputIsAToolError() async throws {
    let failures = [
      // Nothing printed but an error.
      CommandOutput(exitCode: 1, standardOutput: [], standardError: Array("lsof: can't open /proc\n".utf8)),
      // Output that is not lsof's field output.
      CommandOutput(exitCode: 1, standardOutput: Array("lsof: status error on /proc/1: Permission denied\n".utf8)),
      CommandOutput(exitCode: nil, standardOutput: try fixture("macos/lsof-F-inet.txt")),
    ]
    for output in failures {
      let source = LsofSystemSource(
        runner: RecordedRunner(answers: ["lsof": output]), binder: nil, host: HostFacts(effectiveUID: 0, now: { 0 }))
      await #expect(throws: PortKitError.self) { try await source.snapshot(for: SocketQuery()) }
      #expect(!LsofSystemSource.isUsable(output))
    }
    // Exit 1 with nothing printed at all is lsof's "nothing matched".
    #expect(LsofSystemSource.isUsable(CommandOutput(exitCode: 1, standardOutput: [])))
  }
}
