#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The Windows backend: sockets from one `netstat -ano` (every protocol, IPv4 and IPv6),
/// names from one `tasklist /FO CSV /NH`, hosted services from `tasklist /SVC`; excluded
/// and dynamic port ranges from `netsh`. Plain Swift over a `CommandRunner`, so it is tested
/// anywhere on recorded output.
struct NetstatSystemSource: SystemSource {
  var runner: any CommandRunner
  var host: HostFacts

  init(runner: any CommandRunner, host: HostFacts) {
    self.runner = runner
    self.host = host
  }

  func snapshot(for query: SocketQuery) async throws(PortKitError) -> SystemSnapshot {
    let takenAt = host.now()
    let netstat = try await runner.run("netstat", ["-ano"])
    guard netstat.exitCode == 0 else {
      throw PortKitError(.toolFailed, "netstat -ano failed: \(WindowsText.decode(netstat.standardError))")
    }
    let rows = NetstatParser.parse(netstat.standardOutput).filter { query.matches($0.socket) }
    let references = SocketHolders(
      links: rows.filter { $0.pid > 0 }.map { SocketHolders.Link(id: $0.socket.id, pid: $0.pid, fd: -1) })
    var processes: [PID: ProcessRecord] = [:]
    if !references.isEmpty {
      let names = try await runner.run("tasklist", ["/FO", "CSV", "/NH"])
      let hosted = try? await runner.run("tasklist", ["/SVC", "/FO", "CSV", "/NH"])
      let services = Dictionary(
        (hosted.map { TasklistParser.parse($0.standardOutput, services: true) } ?? []).map { ($0.pid, $0.services) },
        uniquingKeysWith: { first, _ in first })
      let wanted = Set(rows.map(\.pid))
      for row in TasklistParser.parse(names.standardOutput) where wanted.contains(row.pid) {
        // PID 4 is the kernel ("System"): HTTP.sys and SMB listen through it.
        processes[row.pid] = ProcessRecord(
          pid: row.pid, ppid: 0, name: row.name, isKernelThread: row.pid == 4, services: services[row.pid] ?? [])
      }
    }
    return SystemSnapshot(
      sockets: rows.map(\.socket), references: references, processes: processes, effectiveUID: 0, takenAt: takenAt)
  }

  func reservations(for proto: TransportProtocol) async -> PortReservations {
    await NetshReservations.read(proto, runner: runner)
  }
}

/// The ports Windows sets aside, from `netsh`: the excluded ranges of both families
/// (Hyper-V, WinNAT, administered exclusions) and the dynamic (ephemeral) range. Both
/// Windows backends read them this way.
enum NetshReservations {
  static func read(_ proto: TransportProtocol, runner: any CommandRunner) async -> PortReservations {
    var excluded: [PortRange] = []
    for family in ["ipv4", "ipv6"] {
      if let output = try? await runner.run(
        "netsh", ["interface", family, "show", "excludedportrange", "protocol=\(proto.rawValue)"])
      {
        for range in NetshParser.excludedRanges(output.standardOutput) where !excluded.contains(range) {
          excluded.append(range)
        }
      }
    }
    let dynamic = try? await runner.run("netsh", ["interface", "ipv4", "show", "dynamicport", proto.rawValue])
    return PortReservations(
      proto: proto, excluded: excluded, ephemeral: dynamic.flatMap { NetshParser.dynamicRange($0.standardOutput) })
  }
}

/// Ends Windows processes with `taskkill`: `/T` (the process tree) first, `/F` after the
/// timeout, or at once for a console program that refuses a graceful end. Identity is the
/// pid with its image name, checked with `tasklist` right before every `taskkill`
/// (tasklist prints no start time). "Access is denied" is the not-permitted outcome.
struct TaskkillProcessControl: ProcessControl {
  var runner: any CommandRunner
  var host: HostFacts

  init(runner: any CommandRunner, host: HostFacts) {
    self.runner = runner
    self.host = host
  }

  func acquire(_ record: ProcessRecord) async -> AcquireResult {
    guard let running = await imageName(record.pid) else { return .gone }
    return running.lowercased() == record.name.lowercased() ? .acquired(ProcessHandle(pid: record.pid)) : .replaced
  }

  func isSameProcess(_ handle: ProcessHandle, as record: ProcessRecord) async -> Bool {
    await imageName(handle.pid)?.lowercased() == record.name.lowercased()
  }

  func signal(_ handle: ProcessHandle, _ signal: Signal) async -> SignalResult {
    let force = signal == .kill
    let arguments = ["/PID", "\(handle.pid)", "/T"] + (force ? ["/F"] : [])
    guard let output = try? await runner.run("taskkill", arguments) else { return .gone }
    return Self.interpret(output, forced: force)
  }

  /// taskkill's answer, by exit code first (0 done, 128 no such process), then by the words
  /// of its message in English or German.
  static func interpret(_ output: CommandOutput, forced: Bool) -> SignalResult {
    switch output.exitCode {
    case 0: return .sent
    case 128: return .gone
    default:
      let text = WindowsText.decode(output.standardOutput + output.standardError).lowercased()
      if text.contains("access is denied") || text.contains("zugriff verweigert") { return .notPermitted }
      if text.contains("not found") || text.contains("nicht gefunden") { return .gone }
      // "can only be terminated forcefully (with /F option)": a console program.
      return forced ? .notPermitted : .gracefulUnsupported
    }
  }

  func waitForExit(_ handles: [ProcessHandle], timeout: Duration) async -> [PID: Double] {
    let clock = ContinuousClock()
    let start = clock.now
    var exited: [PID: Double] = [:]
    while exited.count < handles.count, clock.now - start < timeout {
      let running = await runningPIDs()
      for handle in handles where exited[handle.pid] == nil && running.map({ !$0.contains(handle.pid) }) == true {
        exited[handle.pid] = (clock.now - start).seconds
      }
      // Cancelled: stop watching now, with the exits seen so far.
      if exited.count < handles.count {
        do { try await Task.sleep(for: .milliseconds(100)) } catch { break }
      }
    }
    return exited
  }

  func release(_ handle: ProcessHandle) async {}

  /// This process and its ancestors, from one CIM query through PowerShell.
  func selfAndAncestors() async -> [PID] {
    var parents: [PID: PID] = [:]
    let command = "Get-CimInstance Win32_Process | ForEach-Object { \"$($_.ProcessId) $($_.ParentProcessId)\" }"
    if let output = try? await runner.run("powershell", ["-NoProfile", "-NonInteractive", "-Command", command]) {
      for line in WindowsText.lines(WindowsText.decode(output.standardOutput)) {
        let fields = WindowsText.fields(line).compactMap { PID($0) }
        if fields.count == 2 { parents[fields[0]] = fields[1] }
      }
    }
    var chain = [host.selfPID]
    while let parent = parents[chain[chain.count - 1]], parent > 0, !chain.contains(parent), chain.count < 256 {
      chain.append(parent)
    }
    return chain
  }

  private func imageName(_ pid: PID) async -> String? {
    guard let output = try? await runner.run("tasklist", ["/FI", "PID eq \(pid)", "/FO", "CSV", "/NH"]) else {
      return nil
    }
    return TasklistParser.parse(output.standardOutput).first { $0.pid == pid }?.name
  }

  private func runningPIDs() async -> Set<PID>? {
    guard let output = try? await runner.run("tasklist", ["/FO", "CSV", "/NH"]), output.exitCode == 0 else {
      return nil
    }
    return Set(TasklistParser.parse(output.standardOutput).map(\.pid))
  }
}

extension HostFacts {
  /// A Windows host, through FoundationEssentials (no uid there: portctl acts as root would).
  static var windows: HostFacts {
    HostFacts(
      effectiveUID: 0, selfPID: PID(ProcessInfo.processInfo.processIdentifier),
      now: { Date().timeIntervalSince1970 },
      utcOffset: { TimeZone.current.secondsFromGMT(for: Date(timeIntervalSince1970: $0)) })
  }
}
