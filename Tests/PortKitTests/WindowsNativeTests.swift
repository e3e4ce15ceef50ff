import CPortSys
import Testing

@testable import PortKit

/// A runner that records every command and answers with `output`.
private struct RecordingRunner: CommandRunner {
  var output = CommandOutput(exitCode: 0, standardOutput: Array("SUCCESS: sent.\r\n".utf8))
  let commands = Locked<[[String]]>([])

  func run(_ executable: String, _ arguments: [String]) async throws(PortKitError) -> CommandOutput {
    commands.withLock { $0.append([executable] + arguments) }
    return output
  }
}

private let windowsHost = HostFacts(effectiveUID: 0, selfPID: 12345, now: { 1_795_863_600 })

private func system(_ calls: FakeWindowsCalls, runner: any CommandRunner = RecordingRunner()) -> System {
  System(
    backend: .windows, source: WindowsSystemSource(calls: calls, runner: runner, host: windowsHost),
    control: WindowsProcessControl(calls: calls, runner: runner, host: windowsHost),
    binder: WindowsSocketBinder(calls: calls), runner: runner, host: windowsHost)
}

@Suite struct WindowsRecordDumpTests {
  @Test func fixtureParses() throws {
    let dump = try windowsFixtureDump()
    #expect(dump.tables.processes.count == 14)
    #expect(dump.tables.sockets.count == 23)
    #expect(dump.tables.services.count == 9)
    #expect(dump.extras.isEmpty)
    let node = try #require(dump.tables.processes.first { $0.pid == 12345 })
    #expect(node.ppid == 9876)
    #expect(node.created == 134_403_301_312_500_000)
    #expect(WindowsRecords.text(node.user, in: dump.tables.processText) == "DEV-PC\\jörg")
    #expect(WindowsRecords.text(node.command_line, in: dump.tables.processText).contains("5173\t--host"))
    let display = try #require(dump.tables.services.last)
    #expect(WindowsRecords.text(display.display_name, in: dump.tables.serviceText) == "Übermittlungsoptimierung")
  }

  @Test func escapesCommentsAndExtras() throws {
    let text = [
      "# a comment", "", "harness\twine=8.0\tpid=32\tchild=36\ttcp4=50000\r",
      "process\tpid=32\tname=a\\\\b\\tc\\nd\\re\\x1bf\tunknown=1\tcmd=x\\x7Fy",
      "probe\tlabel=linux-held\tfamily=4\tproto=tcp\taddress=127.0.0.1\tport=41000\tv6only=0\terror=10048",
      "socket\tproto=udp\tfamily=6\tlocal=::1\tlport=53\tpid=32", "   ",
    ].joined(separator: "\n")
    let dump = try WindowsRecordDump.parse(text)
    #expect(dump.extras.map(\.kind) == ["harness", "probe"])
    #expect(dump.extra("harness")?["tcp4"] == "50000")
    #expect(dump.extra("probe")?["error"] == "10048")
    let process = try #require(dump.tables.processes.first)
    #expect(WindowsRecords.text(process.name, in: dump.tables.processText) == "a\\b\tc\nd\re\u{1B}f")
    #expect(WindowsRecords.text(process.command_line, in: dump.tables.processText) == "x\u{7F}y")
    #expect(process.image.length == 0)
    let socket = try #require(dump.tables.sockets.first)
    #expect(WindowsRecords.socket(socket)?.local == Endpoint(address: .loopbackV6, port: 53))
  }

  @Test(arguments: [
    "socket\tproto=sctp\tfamily=4", "socket\tproto=tcp\tfamily=5", "socket\tproto=tcp\tfamily=4\tlport=70000",
    "socket\tproto=tcp\tfamily=4\tlocal=::1", "socket\tproto=tcp\tfamily=6\tlocal=300.1.1.1", "process\tpid=-1",
    "process\tpid=1\tname=\\x4", "process\tpid=1\tname=\\q", "process\tpid=1\tname=end\\", "process\tnoequals",
    "process\tcreated=18446744073709551616", "service\tpid=1\tstate=x",
  ])
  func malformedLinesThrowWithoutTrapping(line: String) {
    #expect(throws: WindowsRecordDump.ParseError.self) { try WindowsRecordDump.parse(line) }
  }

  @Test func oddButValidInput() throws {
    // Only CRs, a kind with no fields, a field with an empty value, '=' inside a value.
    let dump = try WindowsRecordDump.parse("\r\n\r\nterminate\r\nprocess\tpid=7\tname=\tcmd=a=b\r\n")
    #expect(dump.extras.map(\.kind) == ["terminate"])
    #expect(dump.tables.processes.map(\.pid) == [7])
    #expect(WindowsRecords.text(dump.tables.processes[0].command_line, in: dump.tables.processText) == "a=b")
  }
}

@Suite struct WindowsRecordsTests {
  private func row(
    proto: UInt8 = 6, family: UInt8 = 4, state: UInt8 = 2, local: [UInt8], port: UInt16, remote: [UInt8] = [],
    remotePort: UInt16 = 0, pid: UInt32 = 100
  ) -> cportsys_win_socket {
    var row = cportsys_win_socket()
    row.protocol = proto
    row.family = family
    row.state = state
    row.local_port = port
    row.remote_port = remotePort
    row.pid = pid
    withUnsafeMutableBytes(of: &row.local_address) { $0.copyBytes(from: local) }
    withUnsafeMutableBytes(of: &row.remote_address) { $0.copyBytes(from: remote) }
    return row
  }

  @Test func tcpStates() {
    let expected: [SocketState] = [
      .unknown, .close, .listen, .synSent, .synReceived, .established, .finWait1, .finWait2, .closeWait, .closing,
      .lastAck, .timeWait, .close, .unknown,
    ]
    #expect((0...13).map { WindowsRecords.tcpState(UInt8($0)) } == expected)
  }

  @Test func socketsFromNetworkOrderBytes() throws {
    let listener = try #require(WindowsRecords.socket(row(local: [127, 0, 0, 1], port: 8000)))
    #expect(listener.local.description == "127.0.0.1:8000")
    #expect(listener.state == .listen && listener.remote == nil && listener.uid == nil && listener.v6Only == nil)
    let v6 = [UInt8](repeating: 0, count: 15) + [1]
    let established = try #require(
      WindowsRecords.socket(row(family: 6, state: 5, local: v6, port: 5173, remote: v6, remotePort: 51000)))
    #expect(established.local.description == "[::1]:5173")
    #expect(established.remote?.description == "[::1]:51000")
    let linkLocal: [UInt8] = [0xFE, 0x80, 0, 0, 0, 0, 0, 0, 0x1C, 0x2D, 0x3E, 0x4F, 0x5A, 0x6B, 0x7C, 0x8D]
    #expect(
      WindowsRecords.socket(row(family: 6, local: linkLocal, port: 2869))?.local.address
        == IPAddress("fe80::1c2d:3e4f:5a6b:7c8d"))
    // UDP: the state byte means nothing; every row is a bound socket, as the other backends say.
    let udp = try #require(
      WindowsRecords.socket(row(proto: 17, state: 5, local: [0, 0, 0, 0], port: 5353, remote: [1, 2, 3, 4])))
    #expect(udp.proto == .udp && udp.state == .unconnected && udp.remote == nil && udp.isListener)
    #expect(WindowsRecords.socket(row(family: 5, local: [], port: 1)) == nil)
    #expect(WindowsRecords.socket(row(proto: 1, local: [], port: 1)) == nil)
  }

  @Test func textFromThePool() {
    let pool = Array("node.exe".utf16) + [0xD800, 0x41] + [0xDC00]
    #expect(WindowsRecords.text(cportsys_win_text(offset: 0, length: 4), in: pool) == "node")
    #expect(WindowsRecords.text(cportsys_win_text(offset: 8, length: 2), in: pool) == "\u{FFFD}A")
    #expect(WindowsRecords.text(cportsys_win_text(offset: 10, length: 1), in: pool) == "\u{FFFD}")
    #expect(WindowsRecords.text(cportsys_win_text(offset: 5, length: 100), in: pool) == "exe\u{FFFD}A\u{FFFD}")
    #expect(WindowsRecords.text(cportsys_win_text(offset: 11, length: 1), in: pool) == "")
    #expect(WindowsRecords.text(cportsys_win_text(offset: .max, length: .max), in: pool) == "")
    #expect(WindowsRecords.text(cportsys_win_text(offset: 0, length: 0), in: pool) == "")
  }

  @Test func fileTimes() {
    #expect(WindowsRecords.unixTime(fileTime: 134_403_228_000_000_000) == 1_795_849_200)
    #expect(WindowsRecords.unixTime(fileTime: 134_403_301_312_500_000) == 1_795_856_531.25)
    #expect(WindowsRecords.unixTime(fileTime: 0) == nil)
    #expect(WindowsRecords.unixTime(fileTime: 116_444_736_000_000_000) == nil)
    #expect(WindowsRecords.unixTime(fileTime: UInt64.max).map { $0.isFinite } == true)
    #expect(WindowsRecords.fileTime(unixTime: 1_795_849_200) == 134_403_228_000_000_000)
    #expect(WindowsRecords.fileTime(unixTime: -1) == 0)
    #expect(WindowsRecords.fileTime(unixTime: .nan) == 0)
  }

  /// The examples of Microsoft's "Parsing C command-line arguments", after a program name;
  /// the last is CommandLineToArgvW's own rule for `""` inside quotes.
  @Test(arguments: [
    (#"prog "a b c" d e"#, ["a b c", "d", "e"]),
    (#"prog "ab\"c" "\\" d"#, [#"ab"c"#, #"\"#, "d"]),
    (#"prog a\\\b d"e f"g h"#, [#"a\\\b"#, "de fg", "h"]),
    (#"prog a\\\"b c d"#, [#"a\"b"#, "c", "d"]),
    (#"prog a\\\\"b c" d e"#, [#"a\\b c"#, "d", "e"]),
    (#"prog a"b"" c d"#, [#"ab""#, "c", "d"]),
    ("prog \"\" x\t\ty  ", ["", "x", "y"]),
  ])
  func commandLineArguments(line: String, arguments: [String]) {
    #expect(WindowsCommandLine.split(line) == ["prog"] + arguments)
  }

  @Test func commandLineProgramName() {
    #expect(
      WindowsCommandLine.split(#""C:\Program Files\nodejs\node.exe" server.js"#) == [
        #"C:\Program Files\nodejs\node.exe"#, "server.js",
      ])
    // Backslashes and quotes are plain in an unquoted program name.
    #expect(WindowsCommandLine.split(#"C:\tools\a"b.exe x"#) == [#"C:\tools\a"b.exe"#, "x"])
    #expect(WindowsCommandLine.split(#""C:\unterminated"#) == [#"C:\unterminated"#])
    #expect(WindowsCommandLine.split("") == [])
    #expect(WindowsCommandLine.split(" x") == ["", "x"])
    #expect(WindowsCommandLine.split("a \\") == ["a", "\\"])
  }

  @Test func processRecords() throws {
    let dump = try windowsFixtureDump()
    let tables = dump.tables
    func record(_ pid: UInt32, services: [String] = []) throws -> ProcessRecord {
      WindowsRecords.process(
        try #require(tables.processes.first { $0.pid == pid }), text: tables.processText, services: services)
    }
    let node = try record(12345)
    #expect(node.name == "node.exe")
    #expect(node.executable == #"C:\Program Files\nodejs\node.exe"#)
    #expect(node.user == #"DEV-PC\jörg"#)
    #expect(node.uid == nil)
    #expect(
      node.commandLine == [
        #"C:\Program Files\nodejs\node.exe"#, #"C:\Users\jörg\dev\shop\node_modules\vite\bin\vite.js"#, "--port",
        "5173", "--host", "",
      ])
    #expect(node.startTicks == 134_403_301_312_500_000)
    #expect(node.startTime == 1_795_856_531.25)
    #expect(node.ppid == 9876)
    #expect(!node.isKernelThread)
    let idle = try record(0)
    #expect(idle.name == "System Idle Process" && idle.isKernelThread && idle.startTicks == nil)
    let system = try record(4)
    #expect(system.name == "System" && system.isKernelThread && system.executable == nil)
    #expect(system.user == #"NT AUTHORITY\SYSTEM"#)
    let denied = try record(5004, services: ["MSSQLSERVER"])
    #expect(denied.name == "sqlservr.exe" && denied.executable == nil && denied.user == nil)
    #expect(denied.commandLine.isEmpty && denied.startTime == nil && denied.startTicks == nil)
    #expect(denied.services == ["MSSQLSERVER"])
  }

  @Test func servicesByPID() throws {
    let tables = try windowsFixtureDump().tables
    let hosted = WindowsRecords.servicesByPID(tables.services, text: tables.serviceText)
    #expect(hosted[2212] == ["Dnscache", "NlaSvc", "LanmanWorkstation"])
    #expect(hosted[1044] == ["RpcSs", "RpcEptMapper"])
    #expect(hosted[0] == nil)
    var pool: [UInt16] = []
    let rows = ["Foo", "foo", ""].map { name in
      cportsys_win_service(
        pid: 9, state: 4, name: WindowsRecordDump.add(name, to: &pool), display_name: cportsys_win_text())
    }
    #expect(WindowsRecords.servicesByPID(rows, text: pool) == [9: ["Foo"]])
  }

  @Test func winsockErrors() {
    #expect(BindOutcome(winsockError: 0) == .bindable)
    #expect(BindOutcome(winsockError: 10048) == .inUse)
    #expect(BindOutcome(winsockError: 10013) == .permissionDenied)
    #expect(BindOutcome(winsockError: 10049) == .addressUnavailable)
    #expect(BindOutcome(winsockError: 10047) == .familyUnsupported)
    #expect(BindOutcome(winsockError: 10055) == .failed(errno: 10055))
    #expect(BindOutcome(winsockError: .max) == .failed(errno: -1))
  }

  @Test func snapshotOfTheFixture() throws {
    let tables = try windowsFixtureDump().tables
    let everything = SocketQuery(listenersOnly: false)
    let snapshot = WindowsRecords.snapshot(tables, query: everything, host: windowsHost)
    #expect(snapshot.sockets.count == 23)
    #expect(snapshot.takenAt == 1_795_863_600)
    // TIME_WAIT rows (pid 0) belong to nobody; every other socket has its own id.
    let orphans = snapshot.sockets.filter { $0.id == 0 }
    #expect(orphans.count == 2 && orphans.allSatisfy { $0.state == .timeWait })
    let ids = snapshot.sockets.map(\.id).filter { $0 != 0 }
    #expect(Set(ids).count == 21)
    #expect(
      WindowsRecords.snapshot(tables, query: everything, host: windowsHost).sockets.map(\.id)
        == snapshot.sockets.map(\.id))
    #expect(snapshot.references.pids == [4, 1044, 2212, 4820, 5004, 9000, 12345, 14000])

    let report = PortInspector.report(from: snapshot, query: SocketQuery())
    func holders(_ port: UInt16, _ proto: TransportProtocol = .tcp) -> [ProcessRecord] {
      report.sockets.filter { $0.socket.local.port == port && $0.socket.proto == proto }.flatMap {
        $0.owner.holders.map(\.process)
      }
    }
    #expect(holders(445).map(\.pid) == [4, 4])
    #expect(holders(445).allSatisfy { $0.isKernelThread && $0.name == "System" })
    #expect(holders(80).map(\.pid) == [4, 4])
    #expect(holders(135).first?.services == ["RpcSs", "RpcEptMapper"])
    #expect(
      holders(5353, .udp).map(\.services) == [
        ["Dnscache", "NlaSvc", "LanmanWorkstation"], ["Dnscache", "NlaSvc", "LanmanWorkstation"],
      ])
    let node = report.sockets.filter { $0.socket.local.port == 5173 }
    #expect(node.map(\.socket.local.description) == ["0.0.0.0:5173", "[::]:5173"])
    #expect(node.flatMap { $0.owner.holders.map(\.process.pid) } == [12345, 12345])
    #expect(snapshot.processes[12345]?.ppid == 9876)
    #expect(report.parents[9876]?.name == "pwsh.exe")
    // python.exe's parent pid 7000 now names a younger notepad.exe: not its parent.
    #expect(snapshot.processes[9000]?.ppid == 0)
    #expect(snapshot.processes[7000] == nil)
    #expect(holders(1433).first?.executable == nil)
    #expect(holders(1433).first?.name == "sqlservr.exe")
  }

  @Test func ownerlessListenerIsHiddenNotFree() throws {
    // Wine before 9.17 names no owner: a listener with pid 0 keeps an id and shows as held
    // by a process that cannot be seen.
    let tables = WindowsTables(sockets: [row(local: [127, 0, 0, 1], port: 41000, pid: 0)])
    let snapshot = WindowsRecords.snapshot(tables, query: SocketQuery(), host: windowsHost)
    #expect(snapshot.sockets.count == 1 && snapshot.sockets[0].id != 0)
    let report = PortInspector.report(from: snapshot, query: SocketQuery())
    guard case .hidden = report.sockets.first?.owner else {
      Issue.record("expected a hidden owner, got \(String(describing: report.sockets.first?.owner))")
      return
    }
  }
}

@Suite struct WindowsSystemSourceTests {
  @Test func whoReadsEachTableOnceAndOpensOnlyWhatItNeeds() async throws {
    let calls = FakeWindowsCalls(dump: try windowsFixtureDump())
    let result = try await PortInspection(system: system(calls)).inspect(try PortSpec.parseList("5173"))
    let holders = result.report.sockets.flatMap { $0.owner.holders.map(\.process) }
    #expect(holders.map(\.pid) == [12345, 12345])
    #expect(holders[0].commandLine.last == "")
    #expect(holders[0].user == #"DEV-PC\jörg"#)
    #expect(holders[0].startTicks == 134_403_301_312_500_000)
    // One socket read, one Toolhelp read opening the holder, the services, then the holder's
    // parent opened to prove it the parent.
    #expect(Array(calls.log.prefix(4)) == ["sockets 15", "processes [12345]", "services", "processes [9876]"])
    #expect(result.report.parents[9876]?.name == "pwsh.exe")
    let ancestry = try #require(result.provenance[12345]).ancestry
    #expect(ancestry.map(\.pid) == [9876, 5120])
    #expect(ancestry.map(\.name) == ["pwsh.exe", "explorer.exe"])
  }

  @Test func listingAndUDPOnly() async throws {
    let calls = FakeWindowsCalls(dump: try windowsFixtureDump())
    let listing = try await PortInspection(system: system(calls)).listing(
      for: SocketQuery(protocols: [.udp], detail: .summary))
    #expect(Array(listing).map(\.socket.local.port) == [137, 138, 5353, 5353, 5355])
    #expect(calls.log == ["sockets 12", "processes [2212, 4]", "services"])
  }

  @Test func ancestryAndChildrenTrustOnlyOlderParents() async throws {
    let calls = FakeWindowsCalls(dump: try windowsFixtureDump())
    let source = WindowsSystemSource(calls: calls, runner: RecordingRunner(), host: windowsHost)
    #expect(await source.ancestry(of: 9000).isEmpty)
    #expect(await source.ancestry(of: 680).map(\.pid) == [560])
    #expect(await source.ancestry(of: 12345).map(\.pid) == [9876, 5120])
    #expect(await source.ancestry(of: -5).isEmpty)
    #expect(await source.ancestry(of: 424242).isEmpty)
    #expect(await source.children(of: 5120, limit: 10).map(\.pid) == [7000, 9876, 14000])
    #expect(await source.children(of: 5120, limit: 2).map(\.pid) == [7000, 9876])
    // notepad.exe is younger than python.exe, which names its reused pid as parent.
    #expect(await source.children(of: 7000, limit: 10).isEmpty)
    // sqlservr.exe (5004) could not be opened: its age is unknown, so it is not counted.
    #expect(await source.children(of: 680, limit: 10).map(\.pid) == [1044, 2212, 4820])
  }

  @Test func parentsReadLaterKeepTheirOwnText() {
    var first: [UInt16] = []
    var child = cportsys_win_process()
    child.pid = 20
    child.ppid = 10
    child.created = 200
    child.name = WindowsRecordDump.add("child.exe", to: &first)
    var stale = cportsys_win_process()
    stale.pid = 10
    stale.name = WindowsRecordDump.add("stale.exe", to: &first)
    var later: [UInt16] = []
    var parent = cportsys_win_process()
    parent.pid = 10
    parent.created = 100
    _ = WindowsRecordDump.add("padding", to: &later)
    parent.name = WindowsRecordDump.add("parent.exe", to: &later)
    parent.command_line = WindowsRecordDump.add(#""C:\p\parent.exe" -x"#, to: &later)
    let merged = WindowsSystemSource.merging(
      ([parent, child], later), for: [10],
      into: WindowsTables(processes: [child, stale], processText: first))
    let tree = WindowsProcessTree(merged)
    #expect(tree.record(10)?.name == "parent.exe")
    #expect(tree.record(10)?.commandLine == [#"C:\p\parent.exe"#, "-x"])
    #expect(tree.record(20)?.name == "child.exe")
    #expect(tree.record(20)?.ppid == 10)
  }

  @Test func reservationsComeFromNetsh() async throws {
    let runner = RecordedRunner(answers: [
      "netsh interface ipv4 show excludedportrange protocol=tcp": CommandOutput(
        exitCode: 0, standardOutput: try fixture("windows/netsh-excludedportrange-tcp.txt")),
      "netsh interface ipv6 show excludedportrange protocol=tcp": CommandOutput(exitCode: 0, standardOutput: []),
      "netsh interface ipv4 show dynamicport tcp": CommandOutput(
        exitCode: 0, standardOutput: try fixture("windows/netsh-dynamicport-tcp.txt")),
    ])
    let source = WindowsSystemSource(
      calls: FakeWindowsCalls(tables: WindowsTables()), runner: runner, host: windowsHost)
    let reservations = await source.reservations(for: .tcp)
    #expect(reservations.excluded == NetshParser.excludedRanges(try fixture("windows/netsh-excludedportrange-tcp.txt")))
    #expect(!reservations.excluded.isEmpty)
    #expect(reservations.ephemeral == 49152...65535)
  }

  @Test func unreadableTablesAreAnError() async throws {
    var calls = FakeWindowsCalls(tables: WindowsTables())
    calls.socketError = 122
    let source = WindowsSystemSource(calls: calls, runner: RecordingRunner(), host: windowsHost)
    await #expect(throws: PortKitError.self) { _ = try await source.snapshot(for: SocketQuery()) }
    do {
      _ = try await source.snapshot(for: SocketQuery())
    } catch {
      #expect(error.code == .socketTablesUnreadable)
      #expect(error.message.contains("122"))
    }
  }
}

@Suite struct WindowsProcessControlTests {
  private func node(startTicks: UInt64? = 134_403_301_312_500_000) -> ProcessRecord {
    ProcessRecord(pid: 12345, ppid: 9876, name: "node.exe", startTicks: startTicks)
  }

  @Test func acquireComparesCreationTimes() async {
    let calls = FakeWindowsCalls(
      tables: WindowsTables(), live: [12345: .init(created: 134_403_301_312_500_000)])
    let control = WindowsProcessControl(calls: calls, runner: RecordingRunner(), host: windowsHost)
    #expect(await control.acquire(node(startTicks: 134_403_301_312_500_001)) == .replaced)
    #expect(calls.log == ["open 12345", "close 420"])
    guard case .acquired(let handle) = await control.acquire(node()) else {
      Issue.record("not acquired")
      return
    }
    #expect(handle.pid == 12345 && handle.descriptor == 424)
    #expect(await control.isSameProcess(handle, as: node()))
    await control.release(handle)
    #expect(calls.log.last == "close 424")
  }

  @Test func acquireSeesGoneProcesses() async {
    let calls = FakeWindowsCalls(
      tables: WindowsTables(),
      live: [12345: .init(created: 134_403_301_312_500_000, exitsAt: .now - .seconds(1))])
    let control = WindowsProcessControl(calls: calls, runner: RecordingRunner(), host: windowsHost)
    // Opened, but already exited (OpenProcess still works for a moment after an exit).
    #expect(await control.acquire(node()) == .gone)
    #expect(calls.log == ["open 12345", "close 420"])
    // No such pid: ERROR_INVALID_PARAMETER.
    #expect(await control.acquire(ProcessRecord(pid: 777, ppid: 1, name: "x.exe")) == .gone)
    #expect(await control.acquire(ProcessRecord(pid: 0, ppid: 0, name: "System Idle Process")) == .gone)
  }

  @Test func deniedProcessesAreNeverSignalled() async {
    let calls = FakeWindowsCalls(
      tables: WindowsTables(), live: [12345: .init(created: 134_403_301_312_500_000, openError: 5)])
    let runner = RecordingRunner()
    let control = WindowsProcessControl(calls: calls, runner: runner, host: windowsHost)
    guard case .acquired(let handle) = await control.acquire(node()) else {
      Issue.record("not acquired")
      return
    }
    #expect(handle.descriptor == -1)
    #expect(await control.signal(handle, .terminate) == .notPermitted)
    #expect(await control.signal(handle, .kill) == .notPermitted)
    #expect(runner.commands.withLock { $0 }.isEmpty)
  }

  @Test func gracefulIsTaskkillAndForcedIsTerminateProcess() async {
    let calls = FakeWindowsCalls(
      tables: WindowsTables(), live: [12345: .init(created: 134_403_301_312_500_000)])
    let runner = RecordingRunner()
    let control = WindowsProcessControl(calls: calls, runner: runner, host: windowsHost)
    guard case .acquired(let handle) = await control.acquire(node()) else {
      Issue.record("not acquired")
      return
    }
    #expect(await control.signal(handle, .terminate) == .sent)
    #expect(runner.commands.withLock { $0 } == [["taskkill", "/PID", "12345", "/T"]])
    #expect(await control.signal(handle, .kill) == .sent)
    #expect(calls.log.contains("terminate 420"))
    #expect(calls.exitCode(handle.descriptor) == WindowsProcessControl.forcedExitCode)
    let exits = await control.waitForExit([handle], timeout: .seconds(5))
    #expect(exits.keys.sorted() == [12345])
    #expect((exits[12345] ?? 99) < 1)
    #expect(await control.signal(handle, .kill) == .gone)
    #expect(await control.isSameProcess(handle, as: node()) == false)
  }

  @Test func taskkillAnswersAreInterpreted() async {
    let calls = FakeWindowsCalls(
      tables: WindowsTables(), live: [12345: .init(created: 134_403_301_312_500_000)])
    let console = RecordingRunner(
      output: CommandOutput(
        exitCode: 1, standardOutput: [],
        standardError: Array(
          "ERROR: The process with PID 12345 could not be terminated.\r\nReason: This process can only be terminated forcefully (with /F option).\r\n"
            .utf8)))
    let control = WindowsProcessControl(calls: calls, runner: console, host: windowsHost)
    guard case .acquired(let handle) = await control.acquire(node()) else {
      Issue.record("not acquired")
      return
    }
    #expect(await control.signal(handle, .terminate) == .gracefulUnsupported)
    let denied = WindowsProcessControl(
      calls: calls,
      runner: RecordingRunner(
        output: CommandOutput(
          exitCode: 1, standardOutput: [], standardError: Array("ERROR: Access is denied.\r\n".utf8))),
      host: windowsHost)
    #expect(await denied.signal(handle, .terminate) == .notPermitted)
    let missing = WindowsProcessControl(calls: calls, runner: RecordedRunner(answers: [:]), host: windowsHost)
    #expect(await missing.signal(handle, .terminate) == .gracefulUnsupported)
  }

  @Test func accessDeniedTerminateIsNotPermitted() async {
    let calls = FakeWindowsCalls(
      tables: WindowsTables(), live: [12345: .init(created: 134_403_301_312_500_000, terminateError: 5)])
    let control = WindowsProcessControl(calls: calls, runner: RecordingRunner(), host: windowsHost)
    guard case .acquired(let handle) = await control.acquire(node()) else {
      Issue.record("not acquired")
      return
    }
    #expect(await control.signal(handle, .kill) == .notPermitted)
  }

  @Test func waitReportsEachExitAsItHappens() async {
    var live: [UInt32: FakeWindowsCalls.Live] = [
      100: .init(created: 1), 104: .init(created: 1), 108: .init(created: 1),
    ]
    // More than one WaitForMultipleObjects can take.
    for pid in UInt32(1000)..<1070 { live[pid] = .init(created: 1) }
    let calls = FakeWindowsCalls(tables: WindowsTables(), live: live)
    let control = WindowsProcessControl(calls: calls, runner: RecordingRunner(), host: windowsHost)
    var handles: [ProcessHandle] = []
    for pid in live.keys.sorted() {
      if case .acquired(let handle) = await control.acquire(ProcessRecord(pid: PID(pid), ppid: 0, name: "w.exe")) {
        handles.append(handle)
      }
    }
    #expect(handles.count == 73)
    let start = ContinuousClock.now
    calls.scheduleExit(100, at: start + .milliseconds(60))
    calls.scheduleExit(104, at: start + .milliseconds(500))
    for pid in UInt32(1000)..<1070 { calls.scheduleExit(pid, at: start + .milliseconds(120)) }
    let exits = await control.waitForExit(handles, timeout: .milliseconds(900))
    #expect(exits.count == 72)
    #expect(exits[108] == nil)
    let first = exits[100] ?? -1
    let last = exits[104] ?? -1
    // Each exit is timed when it happens, in order, not all at the deadline (times loose:
    // the machine is shared).
    #expect(first >= 0.04)
    #expect(last >= 0.48 && last < 0.9)
    #expect((1000..<1070).allSatisfy { (exits[PID($0)] ?? -1) >= 0.1 && (exits[PID($0)] ?? 99) < last })
    #expect((1000..<1070).allSatisfy { (exits[PID($0)] ?? -1) >= first })
    #expect((ContinuousClock.now - start) >= .milliseconds(850))
  }

  @Test func waitEndsWhenCancelled() async {
    let calls = FakeWindowsCalls(tables: WindowsTables(), live: [12345: .init(created: 134_403_301_312_500_000)])
    let control = WindowsProcessControl(calls: calls, runner: RecordingRunner(), host: windowsHost)
    guard case .acquired(let handle) = await control.acquire(node()) else {
      Issue.record("not acquired")
      return
    }
    let clock = ContinuousClock()
    let start = clock.now
    let task = Task { await control.waitForExit([handle], timeout: .seconds(900)) }
    try? await Task.sleep(for: .milliseconds(50))
    task.cancel()
    let exits = await task.value
    #expect(exits.isEmpty)
    // Far below the 900 s asked for; loose, since blocking end-to-end tests in the same
    // process can hold both cooperative threads for tens of seconds.
    #expect(clock.now - start < .seconds(300))
  }

  @Test func selfAndAncestorsPassOverReusedParents() async throws {
    let dump = try windowsFixtureDump()
    var host = windowsHost
    let control = WindowsProcessControl(calls: FakeWindowsCalls(dump: dump), runner: RecordingRunner(), host: host)
    #expect(await control.selfAndAncestors() == [12345, 9876, 5120])
    host.selfPID = 9000
    let python = WindowsProcessControl(calls: FakeWindowsCalls(dump: dump), runner: RecordingRunner(), host: host)
    #expect(await python.selfAndAncestors() == [9000])
    #expect(await python.clockTicks() == 134_403_372_000_000_000)
  }
}

@Suite struct WindowsSocketBinderTests {
  @Test func winsockCodesAndIPv6OnlyDefault() {
    let calls = FakeWindowsCalls(
      tables: WindowsTables(),
      binds: ["tcp 127.0.0.1 5173": 10048, "tcp 0.0.0.0 80": 10013, "udp 192.0.2.1 53": 10049, "tcp :: 5173": 10048])
    let binder = WindowsSocketBinder(calls: calls)
    #expect(binder.ipv6 == IPv6Support(available: true, v6OnlyByDefault: true))
    #expect(calls.bindCalls == ["tcp ::1 0 v6only=1 bytes=16"])
    func bind(_ text: String, _ port: UInt16, _ proto: TransportProtocol = .tcp, reuse: Bool = true) -> BindOutcome {
      binder.tryBind(Endpoint(address: IPAddress(text) ?? .anyV4, port: port), proto: proto, reuseAddress: reuse)
    }
    #expect(bind("127.0.0.1", 5173) == .inUse)
    #expect(bind("127.0.0.1", 5173, reuse: false) == .inUse)
    #expect(bind("0.0.0.0", 80) == .permissionDenied)
    #expect(bind("192.0.2.1", 53, .udp) == .addressUnavailable)
    #expect(bind("::", 5173) == .inUse)
    #expect(bind("::1", 6000) == .bindable)
    #expect(
      binder.tryBind(Endpoint(address: .anyV6, port: 7000), proto: .tcp, reuseAddress: false, v6Only: false)
        == .bindable)
    #expect(
      Array(calls.bindCalls.dropFirst()) == [
        "tcp 127.0.0.1 5173 v6only=1 bytes=16", "tcp 127.0.0.1 5173 v6only=1 bytes=16",
        "tcp 0.0.0.0 80 v6only=1 bytes=16",
        "udp 192.0.2.1 53 v6only=1 bytes=16", "tcp :: 5173 v6only=1 bytes=16", "tcp ::1 6000 v6only=1 bytes=16",
        "tcp :: 7000 v6only=0 bytes=16",
      ])
  }

  @Test func noIPv6WhenTheProbeSaysNoFamily() {
    let binder = WindowsSocketBinder(calls: FakeWindowsCalls(tables: WindowsTables(), binds: ["tcp ::1 0": 10047]))
    #expect(binder.ipv6 == IPv6Support(available: false, v6OnlyByDefault: true))
    let other = WindowsSocketBinder(calls: FakeWindowsCalls(tables: WindowsTables(), binds: ["tcp ::1 0": 10049]))
    #expect(other.ipv6.available)
  }

  @Test func backendChoice() throws {
    #expect(SystemSources.platformBackend(for: .windows) == .windows)
    #expect(SystemSources.platformBackend(for: .linux) == .procfs)
    #expect(SystemSources.platformBackend(for: .macOS) == .lsof)
    #expect(SystemSources.platformBackend(for: .other) == .lsof)
    #expect(Backend(rawValue: "windows") == .windows)
    #expect(Backend(rawValue: "netstat") == .netstat)
    #if os(Windows)
    #expect(SystemSources.platformBackend == .windows)
    #else
    #expect(SystemSources.platformBackend != .windows)
    #expect(throws: PortKitError.self) { _ = try SystemSources.source(.windows) }
    #expect(throws: PortKitError.self) { _ = try SystemSources.processControl(.windows) }
    #endif
  }
}

@Suite struct ElevationAdviceTests {
  @Test func windowsSaysElevatedTerminalOthersSudo() {
    #expect(HostPlatform.windows.elevationAdvice == "run portctl from an elevated terminal (Run as administrator)")
    #expect(
      HostPlatform.windows.elevatedCommand("kill 8080")
        == "portctl kill 8080 from an elevated terminal (Run as administrator)")
    #expect(HostPlatform.linux.elevationAdvice == "use sudo")
    #expect(HostPlatform.macOS.elevatedCommand("free 3000") == "sudo portctl free 3000")
  }
}

@Suite struct WindowsPortFreeingTests {
  private func request() -> PortFreeing.Request {
    var request = PortFreeing.Request(
      specs: [PortSpec(ports: 5173...5173, proto: .tcp, text: "5173")],
      termination: TerminationRequest(timeout: .milliseconds(200)), verification: .init(respawnWindow: .zero))
    request.readsBlastRadius = false
    return request
  }

  private func freeing(_ calls: FakeWindowsCalls, runner: RecordingRunner) -> PortFreeing {
    var host = windowsHost
    host.selfPID = 31337
    return PortFreeing(
      system: System(
        backend: .windows, source: WindowsSystemSource(calls: calls, runner: runner, host: host),
        control: WindowsProcessControl(calls: calls, runner: runner, host: host),
        binder: WindowsSocketBinder(calls: calls), runner: runner, host: host))
  }

  /// A console program refuses taskkill without /F: the forced end is TerminateProcess on
  /// the pinned handle, and a real bind (through the fake) proves the port free.
  @Test func consoleServerIsTerminatedThroughItsHandle() async throws {
    let calls = FakeWindowsCalls(dump: try windowsFixtureDump())
    let runner = RecordingRunner(
      output: CommandOutput(
        exitCode: 1, standardOutput: [],
        standardError: Array(
          "ERROR: The process with PID 12345 (child process of PID 9876) could not be terminated.\r\nReason: This process can only be terminated forcefully (with /F option).\r\n"
            .utf8)))
    #expect(
      calls.tryBind(
        family: 4, protocol: 6, address: [0, 0, 0, 0] + [UInt8](repeating: 0, count: 12), port: 5173, v6Only: true)
        == 10048)
    let outcome = try await freeing(calls, runner: runner).free(request(), consent: { _ in .givenInAdvance })
    #expect(outcome.plan.targets.map(\.process.pid) == [12345])
    #expect(runner.commands.withLock { $0 }.filter { $0.first == "taskkill" } == [["taskkill", "/PID", "12345", "/T"]])
    #expect(calls.log.contains("terminate 420"))
    #expect(calls.log.contains("close 420"))
    #expect(outcome.results?.map(\.outcome.code) == ["killed"])
    #expect(outcome.ports?.map(\.verdict) == [.free])
    #expect(outcome.freed)
  }

  @Test func accessDeniedEndsNotPermitted() async throws {
    let dump = try windowsFixtureDump()
    var live: [UInt32: FakeWindowsCalls.Live] = [:]
    for row in dump.tables.processes where row.created != 0 {
      live[row.pid] = .init(created: row.created, terminateError: row.pid == 12345 ? 5 : nil)
    }
    let calls = FakeWindowsCalls(tables: dump.tables, live: live)
    let runner = RecordingRunner(
      output: CommandOutput(exitCode: 1, standardOutput: [], standardError: Array("ERROR: Access is denied.\r\n".utf8)))
    let outcome = try await freeing(calls, runner: runner).free(request(), consent: { _ in .givenInAdvance })
    #expect(outcome.ending == .notPermitted)
    #expect(outcome.results?.map(\.outcome) == [.notPermitted])
    #expect(!outcome.freed)
  }
}
