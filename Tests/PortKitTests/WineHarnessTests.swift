import CPortSys
import Foundation
import Testing

@testable import PortKit

#if os(Linux)
/// Where the Windows harness's tools are (Debian: gcc-mingw-w64-x86-64, wine64).
enum WineTools {
  static let compiler = "x86_64-w64-mingw32-gcc"
  static let wine = "/usr/lib/wine/wine64"
  static let wineserver = "/usr/lib/wine/wineserver"

  /// mingw-w64's compiler is on PATH and Wine's loader and server are where Debian puts them.
  static let available: Bool = {
    let fm = FileManager.default
    let onPath = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").contains {
      fm.isExecutableFile(atPath: "\($0)/\(compiler)")
    }
    return onPath && fm.isExecutableFile(atPath: wine) && fm.isExecutableFile(atPath: wineserver)
  }()

  /// In CI (CI=true) a missing tool is a failure, not a skip.
  static let required = ProcessInfo.processInfo.environment["CI"] == "true"

  /// The package's root, from this file's path.
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  static var script: URL { root.appendingPathComponent("Tests/WindowsHarness/run-under-wine.sh") }
}

#endif

/// A port a process holds, as the harness's probes and `ss` name it.
struct HeldPort: Hashable, CustomStringConvertible {
  var proto: TransportProtocol
  var address: IPAddress
  var port: UInt16

  var description: String { "\(proto.rawValue) \(address):\(port)" }
}

/// The records dump as the Swift side reads it.
private func parseDump(_ text: String) throws -> WindowsRecordDump { try WindowsRecordDump.parse(text) }

/// One of the harness's own lines (`harness`, `terminate`, `probe`).
private func extras(_ dump: WindowsRecordDump, _ kind: String) -> [[String: String]] {
  dump.extras.filter { $0.kind == kind }.map(\.fields)
}

/// "8.0" → [8, 0], "9.17" → [9, 17]; the leading numbers of a Wine version.
private func versionNumbers(_ version: String) -> [Int] {
  var numbers: [Int] = []
  for part in version.split(separator: ".") {
    let digits = part.prefix { $0.isNumber }
    guard let number = Int(digits) else { break }
    numbers.append(number)
    if digits.count != part.count { break }
  }
  return numbers
}

/// Checks a harness dump through the Swift mapping. `linuxHeld` are the ports Linux
/// processes held; `now` (seconds since the epoch) bounds the child's creation time for a
/// live run, `nil` for a recorded one.
private func checkDump(_ dump: WindowsRecordDump, linuxHeld: [HeldPort], now: Double?) throws {
  let harness = try #require(extras(dump, "harness").first, "the dump has no harness line")
  let wine = try #require(harness["wine"])
  let harnessPID = try #require(harness["pid"].flatMap { UInt32($0) })
  let childPID = try #require(harness["child"].flatMap { UInt32($0) })
  #expect(childPID != 0 && childPID != harnessPID)
  // Wine before 9.17 names no socket owner (its sockets live in wineserver); Windows and
  // later Wine name the harness.
  let numbers = versionNumbers(wine)
  let namesOwners = wine == "none" || !numbers.lexicographicallyPrecedes([9, 17])
  if wine != "none" { #expect(!numbers.isEmpty, "Wine version '\(wine)' is not a version") }
  let ownPID: UInt32 = namesOwners ? harnessPID : 0

  let snapshot = WindowsRecords.snapshot(
    dump.tables, query: SocketQuery(), host: HostFacts(effectiveUID: 0, now: { now ?? 0 }))

  // The harness's own four sockets, by port, protocol and address.
  let own: [(String, TransportProtocol, IPAddress)] = [
    ("tcp4", .tcp, .loopbackV4), ("tcp6", .tcp, .loopbackV6), ("udp4", .udp, .loopbackV4),
    ("udp6", .udp, .loopbackV6),
  ]
  for (key, proto, address) in own {
    let port = try #require(harness[key].flatMap { UInt16($0) }, "harness line has no \(key)")
    #expect(port != 0)
    let rows = dump.tables.sockets.filter {
      $0.local_port == port && $0.protocol == (proto == .tcp ? 6 : 17)
        && WindowsRecords.address($0.local_address, family: $0.family) == address
    }
    #expect(rows.count == 1, "own \(key) socket on port \(port): \(rows.count) rows")
    #expect(rows.map(\.pid) == [ownPID], "own \(key) socket's owner")
    let sockets = snapshot.sockets.filter { $0.proto == proto && $0.local == Endpoint(address: address, port: port) }
    #expect(sockets.count == 1, "own \(key) socket in the snapshot")
    for socket in sockets {
      #expect(socket.isListener)
      let holders = snapshot.references[socket.id]?.map(\.pid) ?? []
      #expect(holders == (ownPID == 0 ? [] : [PID(ownPID)]), "holders of own \(key) socket")
    }
  }
  if namesOwners {
    #expect(snapshot.processes[PID(harnessPID)]?.name.lowercased() == "harness.exe")
  }

  // The Linux-held listeners: no Windows process owns them (pid 0), and they are in the
  // snapshot with the ports and addresses the Linux side holds.
  #expect(!linuxHeld.isEmpty)
  for held in linuxHeld {
    let rows = dump.tables.sockets.filter {
      $0.local_port == held.port && $0.protocol == (held.proto == .tcp ? 6 : 17)
        && WindowsRecords.address($0.local_address, family: $0.family) == held.address
    }
    #expect(rows.count == 1, "Linux-held \(held): \(rows.count) rows")
    #expect(rows.allSatisfy { $0.pid == 0 }, "Linux-held \(held) has owner pid 0")
    if held.proto == .tcp { #expect(rows.allSatisfy { $0.state == 2 }, "Linux-held \(held) listens") }
    let sockets = snapshot.sockets.filter {
      $0.proto == held.proto && $0.local == Endpoint(address: held.address, port: held.port)
    }
    #expect(sockets.count == 1, "Linux-held \(held) in the snapshot")
    for socket in sockets {
      #expect(socket.isListener)
      #expect(socket.id != 0)
      #expect(snapshot.references[socket.id] == nil, "Linux-held \(held) has no Windows holder")
    }
  }

  // The child: the harness is its parent, created after it (and, live, within a minute).
  let rows = dump.tables.processes
  let harnessRow = try #require(rows.first { $0.pid == harnessPID }, "no process record of the harness")
  let childRow = try #require(rows.first { $0.pid == childPID }, "no process record of the child")
  let harnessRecord = WindowsRecords.process(harnessRow, text: dump.tables.processText, services: [])
  let child = WindowsRecords.process(childRow, text: dump.tables.processText, services: [])
  #expect(harnessRecord.name.lowercased() == "harness.exe")
  #expect(child.name.lowercased() == "harness.exe")
  #expect(child.ppid == PID(harnessPID))
  #expect(child.executable == harnessRecord.executable)
  #expect(child.executable?.lowercased().hasSuffix("\\harness.exe") == true)
  #expect(child.user?.isEmpty == false)
  let harnessStart = try #require(harnessRecord.startTime)
  let childStart = try #require(child.startTime)
  #expect(childStart > harnessStart)
  if let now { #expect(abs(now - childStart) < 60, "child created at \(childStart), now \(now)") }

  // Read again with details for the child only: the same creation time and image, and no
  // other process opened.
  let detailed = try #require(extras(dump, "detailed").first, "the dump has no detailed line")
  #expect(detailed["pid"] == String(childPID))
  #expect(detailed["found"] == "1")
  #expect(detailed["created"] == String(childRow.created))
  #expect(detailed["image"] == child.executable)
  #expect(detailed["others"] == "0")
  // Standard output is a file, not a console.
  let console = try #require(extras(dump, "console").first, "the dump has no console line")
  #expect(console["vt"] == "0")
  #expect(console["columns"] == "0")

  // Opened by pid, still running (WAIT_TIMEOUT), terminated through the handle, seen to exit
  // (WAIT_OBJECT_0) with the exit code given.
  let terminate = try #require(extras(dump, "terminate").first, "the dump has no terminate line")
  #expect(terminate["pid"] == String(childPID))
  #expect(terminate["opened"] == "1")
  #expect(terminate["created"] == String(childRow.created))
  #expect(terminate["before"] == "258")
  #expect(terminate["result"] == "0")
  #expect(terminate["wait"] == "0")
  #expect(terminate["exit"] == "1")
  #expect(terminate["ms"].flatMap { Int($0) }.map { $0 <= 5000 } == true)

  // The probes, through the Winsock error mapping.
  let probes = extras(dump, "probe")
  let expected: [String: BindOutcome] = [
    "linux-held": .inUse, "own": .inUse, "free": .bindable, "absent": .addressUnavailable,
  ]
  for label in expected.keys {
    #expect(probes.contains { $0["label"] == label }, "no \(label) probe")
  }
  for probe in probes {
    let label = try #require(probe["label"])
    let error = try #require(probe["error"].flatMap { UInt32($0) }, "probe without an error code")
    let outcome = try #require(expected[label], "unknown probe label \(label)")
    #expect(BindOutcome(winsockError: error) == outcome, "probe \(probe)")
  }
  var probed = Set<HeldPort>()
  for probe in probes where probe["label"] == "linux-held" {
    let address = try #require(probe["address"].flatMap { IPAddress($0) })
    let port = try #require(probe["port"].flatMap { UInt16($0) })
    probed.insert(HeldPort(proto: probe["proto"] == "udp" ? .udp : .tcp, address: address, port: port))
  }
  #expect(probed == Set(linuxHeld))
}

// MARK: Linux holders

#if os(Linux)
/// A python3 process holding a TCP listener on 127.0.0.1, a UDP socket on 127.0.0.1 and a
/// TCP listener on ::1, on ports the kernel picks. It exits when its standard input closes.
private final class LinuxHolder {
  let process = Process()
  let input = Pipe()
  let ports: [UInt16]

  init() throws {
    let program = """
      import socket, sys
      a = socket.socket(socket.AF_INET, socket.SOCK_STREAM); a.bind(("127.0.0.1", 0)); a.listen()
      b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.bind(("127.0.0.1", 0))
      c = socket.socket(socket.AF_INET6, socket.SOCK_STREAM); c.bind(("::1", 0)); c.listen()
      print(a.getsockname()[1], b.getsockname()[1], c.getsockname()[1], flush=True)
      sys.stdin.read()
      """
    process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    process.arguments = ["-c", program]
    let output = Pipe()
    process.standardOutput = output
    process.standardInput = input
    try process.run()
    var line = Data()
    while !line.contains(UInt8(ascii: "\n")) {
      let chunk = output.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      line += chunk
    }
    ports = String(decoding: line, as: UTF8.self).split(whereSeparator: \.isWhitespace).compactMap { UInt16($0) }
  }

  var pid: Int32 { process.processIdentifier }

  /// Stops the holder (it is ours: started above) and waits for it.
  func stop() {
    try? input.fileHandleForWriting.close()
    if process.isRunning { kill(process.processIdentifier, SIGTERM) }
    process.waitUntilExit()
  }
}

/// What `ss` shows `pid` listening on (`-Hltnp` for TCP, `-Hlunp` for UDP).
private func ssListeners(pid: Int32) throws -> [HeldPort] {
  var held: [HeldPort] = []
  for (flags, proto) in [("-Hltnp", TransportProtocol.tcp), ("-Hlunp", .udp)] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/ss")
    process.arguments = [flags]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.contains("pid=\(pid),") {
      let columns = line.split(whereSeparator: \.isWhitespace)
      guard columns.count >= 4, let colon = columns[3].lastIndex(of: ":") else { continue }
      let host = columns[3][..<colon].trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
      guard let address = IPAddress(host), let port = UInt16(columns[3][columns[3].index(after: colon)...]) else {
        continue
      }
      held.append(HeldPort(proto: proto, address: address, port: port))
    }
  }
  return held
}

/// Runs `executable` with `arguments`, reading both outputs, for at most `seconds`; on
/// timeout it is sent SIGTERM (the script then stops Wine and deletes its prefix).
private func runBounded(_ executable: URL, _ arguments: [String], seconds: Double) throws -> (
  status: Int32, stdout: String, stderr: String, timedOut: Bool
) {
  let process = Process()
  process.executableURL = executable
  process.arguments = arguments
  process.standardInput = FileHandle.nullDevice
  let out = Pipe()
  let err = Pipe()
  process.standardOutput = out
  process.standardError = err
  try process.run()
  let outData = LockedBox()
  let errData = LockedBox()
  let readers = [
    Thread { outData.set(out.fileHandleForReading.readDataToEndOfFile()) },
    Thread { errData.set(err.fileHandleForReading.readDataToEndOfFile()) },
  ]
  for reader in readers { reader.start() }
  let deadline = Date().addingTimeInterval(seconds)
  var timedOut = false
  // Foundation tells that a child ended only once every process that inherited its
  // descriptors has; nothing here waits without a bound, so a leftover cannot hang the test.
  while process.isRunning || !(outData.done && errData.done) {
    if !timedOut, Date() > deadline {
      timedOut = true
      kill(process.processIdentifier, SIGTERM)
    }
    if timedOut, Date() > deadline.addingTimeInterval(60) { break }
    usleep(50_000)
  }
  let status = process.isRunning ? -1 : process.terminationStatus
  return (
    status, String(decoding: outData.value, as: UTF8.self), String(decoding: errData.value, as: UTF8.self), timedOut
  )
}

/// Runs blocking work on a thread of its own, so that a test waiting tens of seconds for
/// Wine does not hold one of the few threads Swift's concurrency (and every other test) runs on.
private func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
  try await withCheckedThrowingContinuation { continuation in
    Thread { continuation.resume(with: Result { try body() }) }.start()
  }
}

/// Data written once by a reader thread.
private final class LockedBox: @unchecked Sendable {
  private let lock = NSLock()
  private var data = Data()
  private var finished = false

  func set(_ value: Data) {
    lock.withLock {
      data = value
      finished = true
    }
  }

  var done: Bool { lock.withLock { finished } }
  var value: Data { lock.withLock { data } }
}

#endif

// MARK: Tests

@Suite(.serialized) struct WineHarnessTests {
  #if os(Linux)
  /// windows.c compiled with mingw-w64 (-Werror) and run under Wine in a fresh prefix: its
  /// records, read through the Swift mapping, show the harness's own sockets, the Linux
  /// listeners with the ports `ss` shows, the child with its parent and creation time, the
  /// child terminated through its handle and seen to exit, and the probes' reasons.
  @Test(
    .enabled(
      if: WineTools.available || WineTools.required,
      "needs mingw-w64 and Wine (gcc-mingw-w64-x86-64, wine64); .ci/run installs them"),
    .timeLimit(.minutes(6)))
  func harnessUnderWine() async throws {
    guard WineTools.available else {
      Issue.record(
        "\(WineTools.compiler) or Wine (\(WineTools.wine)) is missing and CI=true; .ci/run installs gcc-mingw-w64-x86-64 and wine64"
      )
      return
    }
    let holder = try LinuxHolder()
    defer { holder.stop() }
    try #require(holder.ports.count == 3, "the python3 holder did not report its ports")
    let linuxHeld = try ssListeners(pid: holder.pid)
    let reported = Set([
      HeldPort(proto: .tcp, address: .loopbackV4, port: holder.ports[0]),
      HeldPort(proto: .udp, address: .loopbackV4, port: holder.ports[1]),
      HeldPort(proto: .tcp, address: .loopbackV6, port: holder.ports[2]),
    ])
    #expect(Set(linuxHeld) == reported, "ss shows \(linuxHeld) for pid \(holder.pid)")

    let specs = linuxHeld.map { held in
      "\(held.proto.rawValue)\(held.address.ipv4Equivalent == nil ? "6" : "4"):\(held.port)"
    }
    let started = Date()
    let run = try await onOwnThread { try runBounded(WineTools.script, specs, seconds: 300) }
    let now = Date().timeIntervalSince1970
    #expect(!run.timedOut, "run-under-wine.sh took more than 300 s")
    try #require(run.status == 0, "run-under-wine.sh exited \(run.status): \(run.stderr)")
    print("run-under-wine.sh: \(String(format: "%.1f", Date().timeIntervalSince(started))) s; \(run.stderr)")
    let dump = try parseDump(run.stdout)
    try checkDump(dump, linuxHeld: linuxHeld, now: now)
  }
  #endif

  /// The same checks on a dump recorded here under Wine 8.0 (no Wine needed).
  @Test func recordedWine8Dump() throws {
    let text = String(decoding: try fixture("windows/native-wine-8.0.records"), as: UTF8.self)
    let dump = try parseDump(text)
    #expect(extras(dump, "harness").first?["wine"] == "8.0")
    var linuxHeld: [HeldPort] = []
    for probe in extras(dump, "probe") where probe["label"] == "linux-held" {
      let address = try #require(probe["address"].flatMap { IPAddress($0) })
      let port = try #require(probe["port"].flatMap { UInt16($0) })
      linuxHeld.append(HeldPort(proto: probe["proto"] == "udp" ? .udp : .tcp, address: address, port: port))
    }
    #expect(linuxHeld.count == 3)
    try checkDump(dump, linuxHeld: linuxHeld, now: nil)
    // Wine 8.0 names no owner: no socket has a holder.
    let snapshot = WindowsRecords.snapshot(
      dump.tables, query: SocketQuery(), host: HostFacts(effectiveUID: 0, now: { 0 }))
    #expect(snapshot.references.isEmpty)
    #expect(dump.tables.sockets.allSatisfy { $0.pid == 0 })
  }
}
