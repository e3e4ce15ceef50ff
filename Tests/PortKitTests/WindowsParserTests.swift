import Testing

@testable import PortKit

@Suite struct NetstatParserTests {
  @Test func englishFixture() throws {
    let rows = NetstatParser.parse(try fixture("windows/netstat-ano.en.txt"))
    #expect(rows.count == 18)
    let listeners = rows.filter { $0.socket.state == .listen }
    #expect(listeners.count == 11)
    // 3000 is asked: the row for 30001 and the process whose pid is 3000 must not match.
    let spec = try PortSpec(parsing: "3000")
    let matched = rows.filter { spec.matches($0.socket) }
    #expect(matched.map(\.pid) == [12345, 12345, 12345])
    #expect(matched.map(\.socket.local.description) == ["0.0.0.0:3000", "127.0.0.1:3000", "[::]:3000"])
    let timeWait = try #require(rows.first { $0.socket.state == .timeWait })
    #expect(timeWait.pid == 0)
    #expect(timeWait.socket.id == 0)
    #expect(timeWait.socket.remote?.port == 3000)
    let linkLocal = try #require(rows.first { $0.socket.local.port == 2869 })
    #expect(linkLocal.socket.local.address == IPAddress("fe80::1c2d:3e4f:5a6b:7c8d"))
    #expect(linkLocal.pid == 4)
    let udp = rows.filter { $0.socket.proto == .udp }
    #expect(udp.count == 3)
    #expect(udp.allSatisfy { $0.socket.state == .unconnected && $0.socket.remote == nil })
    #expect(rows.first { $0.pid == 3000 }?.socket.state == .closeWait)
  }

  @Test func germanCodePage850FixtureParsesTheSame() throws {
    let rows = NetstatParser.parse(try fixture("windows/netstat-ano.de.cp850.txt"))
    #expect(rows.count == 6)
    #expect(rows.map(\.socket.state) == [.listen, .listen, .established, .timeWait, .listen, .unconnected])
    #expect(rows.map(\.pid) == [1044, 12345, 12345, 0, 12345, 2212])
    let text = WindowsText.decode(try fixture("windows/netstat-ano.de.cp850.txt"))
    #expect(text.contains("ABHÖREN"))
  }

  @Test func utf8AndOtherLocalesAreStructural() {
    let french =
      "  TCP    0.0.0.0:8080           0.0.0.0:0              ÉCOUTE          4242\r\n"
      + "  TCP    10.0.0.2:8080          10.0.0.9:51000         ÉTABLIE         4242\r\n"
      + "  TCP    10.0.0.2:8081          0.0.0.0:0              BOUND           4243\r\n"
    let rows = NetstatParser.parse(Array(french.utf8))
    #expect(rows.map(\.socket.state) == [.listen, .unknown, .close])
    #expect(rows.map(\.pid) == [4242, 4242, 4243])
  }

  @Test(arguments: [
    "", "Active Connections", "  Proto  Local Address          Foreign Address        State           PID",
    "  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING",
    "  TCP    0.0.0.0            0.0.0.0:0   LISTENING  4",
    "  TCP    0.0.0.0:99999            0.0.0.0:0              LISTENING       4",
    "  TCP    [::1:80            [::]:0              LISTENING       4", "  ICMP   0.0.0.0:0  0.0.0.0:0  X  4",
    "  TCP    0.0.0.0:80            0.0.0.0:0              LISTENING       -4",
    "  UDP    0.0.0.0:53           garbage                                 12",
  ])
  func malformedRowsAreSkipped(line: String) {
    #expect(NetstatParser.parse(Array(line.utf8)).isEmpty)
  }

  @Test func truncatedAndHugeOutput() throws {
    var bytes = try fixture("windows/netstat-ano.en.txt")
    bytes.removeLast(40)
    #expect(NetstatParser.parse(bytes).count == 17)
    var huge = "\r\nActive Connections\r\n\r\n"
    for index in 0..<20000 {
      huge +=
        "  TCP    127.0.0.1:\(1024 + index % 60000)         127.0.0.1:\(40000 + index % 20000)        ESTABLISHED     \(100 + index)\r\n"
    }
    let rows = NetstatParser.parse(Array(huge.utf8))
    #expect(rows.count == 20000)
    #expect(Set(rows.map(\.socket.id)).count == 20000)
  }
}

@Suite struct TasklistAndNetshTests {
  @Test func tasklistFixture() throws {
    let rows = TasklistParser.parse(try fixture("windows/tasklist.csv.txt"))
    #expect(rows.count == 11)
    #expect(rows.first { $0.pid == 12345 }?.name == "node.exe")
    #expect(rows.first { $0.pid == 4 }?.session == "Services")
    #expect(rows.first { $0.pid == 3000 }?.name == "Code.exe")
  }

  @Test func servicesFixture() throws {
    let rows = TasklistParser.parse(try fixture("windows/tasklist-svc.csv.txt"), services: true)
    #expect(rows.first { $0.pid == 1044 }?.services == ["RpcEptMapper", "RpcSs"])
    #expect(rows.first { $0.pid == 4460 }?.services == ["postgresql-x64-16"])
    #expect(rows.first { $0.pid == 12345 }?.services == [])
  }

  /// German `tasklist /SVC` says "Nicht zutreffend" (code page 850, CRLF): never a service.
  @Test func germanServicesFixture() throws {
    let rows = TasklistParser.parse(try fixture("windows/tasklist-svc.de.cp850.txt"), services: true)
    #expect(rows.count == 10)
    #expect(rows.first { $0.pid == 12345 }?.services == [])
    #expect(rows.first { $0.pid == 0 }?.services == [])
    #expect(rows.first { $0.pid == 3300 }.map { ($0.name, $0.services) } ?? ("", ["?"]) == ("Überwachung.exe", []))
    #expect(rows.first { $0.pid == 1044 }?.services == ["RpcEptMapper", "RpcSs"])
    #expect(rows.first { $0.pid == 2212 }?.services == ["Bonjour Service"])
    #expect(rows.first { $0.pid == 4460 }?.services == ["postgresql-x64-16"])
    #expect(rows.filter { !$0.services.isEmpty }.map(\.pid) == [1044, 2212, 4460, 5124])
    let names = TasklistParser.parse(try fixture("windows/tasklist.de.cp850.txt"))
    #expect(names.first { $0.pid == 3300 }?.name == "Überwachung.exe")
    #expect(names.first { $0.pid == 3300 }?.session == "Console")
  }

  /// Spanish `tasklist /SVC` says "N/D": a slash is never in a service name, and pid 0 shows it.
  @Test func spanishServicesFixture() throws {
    let rows = TasklistParser.parse(try fixture("windows/tasklist-svc.es.cp850.txt"), services: true)
    #expect(rows.count == 7)
    #expect(rows.first { $0.pid == 2600 }?.name == "Depuración.exe")
    #expect(rows.filter { !$0.services.isEmpty }.map(\.pid) == [1044, 4460])
    #expect(rows.first { $0.pid == 12345 }?.services == [])
  }

  /// By structure, for a language whose word is in no list: what pid 0 and pid 4 show is
  /// "none"; a value that cannot be a service key name never becomes one.
  @Test func noServiceWordOfAnyLanguage() {
    func services(_ text: String) -> [PID: [String]] {
      Dictionary(
        TasklistParser.parse(Array(text.utf8), services: true).map { ($0.pid, $0.services) }, uniquingKeysWith: { $1 })
    }
    let polish =
      "\"System Idle Process\",\"0\",\"Nie dotyczy\"\r\n\"node.exe\",\"77\",\"Nie dotyczy\"\r\n\"svchost.exe\",\"88\",\"Dnscache\"\r\n"
    #expect(services(polish) == [0: [], 77: [], 88: ["Dnscache"]])
    // Only pid 4 shows it: the same.
    #expect(services("\"System\",\"4\",\"Ei sovellu\"\n\"a.exe\",\"9\",\"Ei sovellu\"\n") == [4: [], 9: []])
    // Without either row, the known words still count, and a slash, a backslash or a control
    // character rules a name out while its valid neighbours stay.
    #expect(services("\"a.exe\",\"9\",\"Nicht zutreffend\"\n\"b.exe\",\"10\",\"N/A\"\n") == [9: [], 10: []])
    #expect(services("\"c.exe\",\"11\",\"Н/Д\"\n") == [11: []])
    #expect(
      services("\"d.exe\",\"12\",\"Good,Bad/Name,Back\\slash,Bell\u{07},Also Good\"\n") == [12: ["Good", "Also Good"]])
    #expect(services("\"e.exe\",\"13\",\"\"\n\"f.exe\",\"14\"\n\"g.exe\",\"15\",\",,\"\n") == [13: [], 14: [], 15: []])
    #expect(services("\"h.exe\",\"16\",\"\(String(repeating: "s", count: 257))\"\n") == [16: []])
    // pid 0 never hosts a service, whatever it shows.
    #expect(services("\"System Idle Process\",\"0\",\"Spooler\"\n") == [0: []])
  }

  @Test func csvQuoting() {
    #expect(TasklistParser.csv(#""a ""quoted"" name","12","x,y""#) == [#"a "quoted" name"#, "12", "x,y"])
    #expect(TasklistParser.csv("plain,2") == ["plain", "2"])
    #expect(TasklistParser.csv(#""unterminated,1"#) == ["unterminated,1"])
    #expect(
      TasklistParser.parse(Array("INFO: No tasks are running which match the specified criteria.\r\n".utf8)).isEmpty)
  }

  @Test func excludedRangesFixture() throws {
    let ranges = NetshParser.excludedRanges(try fixture("windows/netsh-excludedportrange-tcp.txt"))
    #expect(ranges.map(\.ports) == [1025...1124, 1125...1224, 2869...2869, 5357...5357, 8005...8104, 50000...50059])
    #expect(ranges.map(\.administered) == [false, false, false, false, false, true])
    let german =
      "\r\nProtokoll tcp Portausschlussbereiche\r\n\r\nStartport    Endport\r\n----------    --------\r\n      1025        1124\r\n     50000       50059     *\r\n\r\n* - Verwaltete Portausschlüsse.\r\n"
    #expect(NetshParser.excludedRanges(Array(german.utf8)).count == 2)
    #expect(NetshParser.excludedRanges(Array("      9000        8000\r\n 0 5\r\n".utf8)).isEmpty)
  }

  @Test func dynamicRangeFixture() throws {
    #expect(NetshParser.dynamicRange(try fixture("windows/netsh-dynamicport-tcp.txt")) == 49152...65535)
    let german =
      "\r\nProtokoll tcp Dynamischer Portbereich\r\n---------------------------------\r\nStartport       : 1025\r\nAnzahl der Ports: 64511\r\n"
    #expect(NetshParser.dynamicRange(Array(german.utf8)) == 1025...65535)
    #expect(NetshParser.dynamicRange(Array("Start Port : 60000\r\nNumber of Ports : 9999\r\n".utf8)) == nil)
    #expect(NetshParser.dynamicRange([]) == nil)
  }
}

@Suite struct NetstatSourceTests {
  private func source() throws -> NetstatSystemSource {
    let runner = RecordedRunner(answers: [
      "netstat -ano": CommandOutput(exitCode: 0, standardOutput: try fixture("windows/netstat-ano.en.txt")),
      "tasklist /FO CSV /NH": CommandOutput(exitCode: 0, standardOutput: try fixture("windows/tasklist.csv.txt")),
      "tasklist /SVC /FO CSV /NH": CommandOutput(
        exitCode: 0, standardOutput: try fixture("windows/tasklist-svc.csv.txt")),
      "netsh interface ipv4 show excludedportrange protocol=tcp": CommandOutput(
        exitCode: 0, standardOutput: try fixture("windows/netsh-excludedportrange-tcp.txt")),
      "netsh interface ipv6 show excludedportrange protocol=tcp": CommandOutput(exitCode: 0, standardOutput: []),
      "netsh interface ipv4 show dynamicport tcp": CommandOutput(
        exitCode: 0, standardOutput: try fixture("windows/netsh-dynamicport-tcp.txt")),
    ])
    return NetstatSystemSource(runner: runner, host: HostFacts(effectiveUID: 0, now: { 0 }))
  }

  @Test func whoOnPort3000FindsNodeAndNotThePortOrPidLookalikes() async throws {
    let query = SocketQuery(specs: try PortSpec.parseList("3000"))
    let report = PortInspector.report(from: try await source().snapshot(for: query), query: query)
    #expect(report.sockets.count == 2)
    #expect(report.sockets.flatMap(\.owner.holders).map(\.process.name) == ["node.exe", "node.exe"])
    #expect(report.sockets.flatMap(\.owner.holders).map(\.process.pid) == [12345, 12345])
  }

  @Test func kernelAndServiceHolders() async throws {
    let query = SocketQuery(specs: try PortSpec.parseList("445,5432,5353"))
    let report = PortInspector.report(from: try await source().snapshot(for: query), query: query)
    let system = try #require(report.sockets.first { $0.socket.local.port == 445 }?.owner.holders.first?.process)
    #expect(system.name == "System")
    #expect(system.isKernelThread)
    let postgres = try #require(report.sockets.first { $0.socket.local.port == 5432 }?.owner.holders.first?.process)
    #expect(postgres.services == ["postgresql-x64-16"])
    let mdns = report.sockets.filter { $0.socket.local.port == 5353 }
    #expect(mdns.count == 2)
    #expect(mdns.allSatisfy { $0.owner.holders.first?.process.services == ["Bonjour Service"] })
  }

  /// German netstat and tasklist: the node.exe on 3000 hosts no service, so nothing
  /// suggests `sc stop "Nicht zutreffend"`; real services are still named.
  @Test func germanMachineNamesNoFakeService() async throws {
    let runner = RecordedRunner(answers: [
      "netstat -ano": CommandOutput(exitCode: 0, standardOutput: try fixture("windows/netstat-ano.de.cp850.txt")),
      "tasklist /FO CSV /NH": CommandOutput(exitCode: 0, standardOutput: try fixture("windows/tasklist.de.cp850.txt")),
      "tasklist /SVC /FO CSV /NH": CommandOutput(
        exitCode: 0, standardOutput: try fixture("windows/tasklist-svc.de.cp850.txt")),
    ])
    let source = NetstatSystemSource(runner: runner, host: HostFacts(effectiveUID: 0, now: { 0 }))
    let query = SocketQuery(specs: try PortSpec.parseList("3000,135,5353"))
    let report = PortInspector.report(from: try await source.snapshot(for: query), query: query)
    let node = report.sockets.filter { $0.socket.local.port == 3000 }.flatMap(\.owner.holders).map(\.process)
    #expect(node.map(\.pid) == [12345, 12345])
    #expect(node.allSatisfy { $0.services.isEmpty })
    let rpc = try #require(report.sockets.first { $0.socket.local.port == 135 }?.owner.holders.first?.process)
    #expect(rpc.services == ["RpcEptMapper", "RpcSs"])
    let mdns = try #require(report.sockets.first { $0.socket.local.port == 5353 }?.owner.holders.first?.process)
    #expect(mdns.services == ["Bonjour Service"])
  }

  @Test func timeWaitRowIsOwnerless() async throws {
    let query = SocketQuery(specs: try PortSpec.parseList("49670"), listenersOnly: false)
    let report = PortInspector.report(from: try await source().snapshot(for: query), query: query)
    #expect(report.sockets.map(\.owner) == [SocketOwner.none])
    #expect(!report.isHeld)
  }

  @Test func askedPortsInsideExcludedRanges() async throws {
    let reservations = try await source().reservations(for: .tcp)
    let specs = try PortSpec.parseList("3000,50010,udp:8080,8000-8010")
    let hits = ExcludedPortHit.hits(specs, in: reservations)
    #expect(hits.map(\.spec.text) == ["8000-8010", "50010"])
    #expect(hits[1].range.administered)
    #expect(hits[1].advice.hasPrefix("tcp 50010 is inside the range 50000-50059 that an administrator excluded"))
    #expect(hits[1].advice.contains("WSAEACCES 10013"))
    #expect(hits[1].advice.contains("net stop winnat"))
    #expect(hits[0].advice.contains("Hyper-V, WinNAT, WSL2 or Docker"))
  }

  @Test func reservationsFromNetsh() async throws {
    let reservations = try await source().reservations(for: .tcp)
    #expect(reservations.excluded.count == 6)
    #expect(reservations.exclusion(containing: 50010)?.administered == true)
    #expect(reservations.exclusion(containing: 8080)?.ports == 8005...8104)
    #expect(reservations.exclusion(containing: 3000) == nil)
    #expect(reservations.ephemeral == 49152...65535)
  }
}

/// A Windows machine in miniature: tasklist answers from a live table that taskkill changes.
final class ScriptedWindows: CommandRunner, @unchecked Sendable {
  struct Process {
    var name: String
    var consoleOnly = false
    var denied = false
  }
  let table: Locked<[PID: Process]>
  let log = Locked<[String]>([])

  init(_ processes: [PID: Process]) {
    table = Locked(processes)
  }

  func run(_ executable: String, _ arguments: [String]) async throws(PortKitError) -> CommandOutput {
    log.withLock { $0.append(([executable] + arguments).joined(separator: " ")) }
    switch executable {
    case "tasklist":
      let rows = table.withLock { table in
        table.sorted { $0.key < $1.key }.filter { entry in
          guard let filter = arguments.firstIndex(of: "/FI").map({ arguments[$0 + 1] }) else { return true }
          return filter == "PID eq \(entry.key)"
        }.map { "\"\($0.value.name)\",\"\($0.key)\",\"Console\",\"1\",\"10,000 K\"\r\n" }.joined()
      }
      return CommandOutput(
        exitCode: 0, standardOutput: Array((rows.isEmpty ? "INFO: No tasks are running.\r\n" : rows).utf8))
    case "taskkill":
      guard let pid = arguments.firstIndex(of: "/PID").flatMap({ PID(arguments[$0 + 1]) }) else {
        return CommandOutput(exitCode: 1, standardOutput: [])
      }
      let forced = arguments.contains("/F")
      return table.withLock { table in
        guard let process = table[pid] else {
          return CommandOutput(
            exitCode: 128, standardOutput: Array("ERROR: The process \"\(pid)\" not found.\r\n".utf8))
        }
        if process.denied {
          return CommandOutput(
            exitCode: 1,
            standardOutput: Array(
              "ERROR: The process with PID \(pid) could not be terminated.\r\nReason: Access is denied.\r\n".utf8))
        }
        if process.consoleOnly, !forced {
          return CommandOutput(
            exitCode: 1,
            standardOutput: Array(
              "ERROR: The process with PID \(pid) could not be terminated.\r\nReason: This process can only be terminated forcefully (with /F option).\r\n"
                .utf8))
        }
        table[pid] = nil
        return CommandOutput(
          exitCode: 0,
          standardOutput: Array("SUCCESS: Sent termination signal to the process with PID \(pid).\r\n".utf8))
      }
    default:
      throw PortKitError(.toolMissing, "\(executable) not scripted")
    }
  }
}

@Suite struct TaskkillControlTests {
  private func record(_ pid: PID, _ name: String) -> ProcessRecord { ProcessRecord(pid: pid, ppid: 0, name: name) }

  @Test func gracefulTreeKillThenForceForConsolePrograms() async {
    let windows = ScriptedWindows([10: .init(name: "nginx.exe"), 11: .init(name: "node.exe", consoleOnly: true)])
    let control = TaskkillProcessControl(runner: windows, host: HostFacts(effectiveUID: 0, now: { 0 }))
    let results = await Terminator(control: control).terminate(
      [record(10, "nginx.exe"), record(11, "node.exe")], request: TerminationRequest(timeout: .seconds(5)))
    #expect(results[0].signalsSent == [.terminate])
    #expect(results[0].outcome.code == "exited")
    // The console program refused a graceful end: forced at once, not after the 5 s timeout.
    #expect(results[1].signalsSent == [.kill])
    #expect(results[1].outcome.code == "killed")
    let kills = windows.log.withLock { $0.filter { $0.hasPrefix("taskkill") } }
    #expect(kills == ["taskkill /PID 10 /T", "taskkill /PID 11 /T", "taskkill /PID 11 /T /F"])
  }

  @Test func accessDeniedIsNotPermittedAndReusedPidsAreLeftAlone() async {
    let windows = ScriptedWindows([20: .init(name: "sqlservr.exe", denied: true), 21: .init(name: "chrome.exe")])
    let control = TaskkillProcessControl(runner: windows, host: HostFacts(effectiveUID: 0, now: { 0 }))
    let results = await Terminator(control: control).terminate(
      [record(20, "sqlservr.exe"), record(21, "node.exe"), record(22, "gone.exe")], request: TerminationRequest())
    #expect(results.map(\.outcome) == [.notPermitted, .replaced, .alreadyGone])
    let kills = windows.log.withLock { $0.filter { $0.hasPrefix("taskkill") } }
    #expect(kills == ["taskkill /PID 20 /T"])
  }

  @Test func interpretationIsByExitCodeFirst() {
    #expect(TaskkillProcessControl.interpret(CommandOutput(exitCode: 0, standardOutput: []), forced: false) == .sent)
    #expect(TaskkillProcessControl.interpret(CommandOutput(exitCode: 128, standardOutput: []), forced: true) == .gone)
    let german = CommandOutput(exitCode: 1, standardOutput: Array("FEHLER: Zugriff verweigert".utf8))
    #expect(TaskkillProcessControl.interpret(german, forced: false) == .notPermitted)
    #expect(
      TaskkillProcessControl.interpret(CommandOutput(exitCode: 1, standardOutput: []), forced: false)
        == .gracefulUnsupported)
    #expect(
      TaskkillProcessControl.interpret(CommandOutput(exitCode: 1, standardOutput: []), forced: true) == .notPermitted)
  }

  @Test func windowsKernelIsProtected() {
    let protection = ProcessProtection(chain: [900, 800])
    let system = ProcessRecord(pid: 4, ppid: 0, name: "System", isKernelThread: true)
    #expect(protection.refusal(for: system)?.contains("Windows kernel") == true)
    #expect(protection.refusal(for: ProcessRecord(pid: 0, ppid: 0, name: "System Idle Process")) != nil)
  }
}
