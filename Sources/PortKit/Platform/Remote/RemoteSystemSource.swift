/// What the last snapshot of a remote host said, shared by its source and its process
/// control (the control signals the way the source read: procfs start ticks or lsof's
/// `ps` start times).
actor RemoteState {
  var kind: RemoteKind?
  var utcOffset = 0
  var selfChain: [PID] = []
  var processes: [PID: ProcessRecord] = [:]
  var lsofSource: LsofSystemSource?

  func store(
    kind: RemoteKind, utcOffset: Int, selfChain: [PID], processes: [PID: ProcessRecord], lsofSource: LsofSystemSource?
  ) {
    self.kind = kind
    self.utcOffset = utcOffset
    self.selfChain = selfChain
    self.processes.merge(processes) { _, new in new }
    self.lsofSource = lsofSource
  }
}

/// Another machine's sockets and processes, read over ssh (`--host`): one `ssh` run per
/// snapshot, whose script prints `/proc/net/*`, the socket links of every process and the
/// details of their holders where the remote has `/proc` (Linux), and one `lsof -F` and one
/// `ps` run otherwise (macOS, the BSDs). The same parsers as the local procfs and lsof
/// backends read what it prints. Nothing is installed there; no bind probe is made there.
struct RemoteSystemSource: SystemSource {
  var host: RemoteHost
  var mode: RemoteScript.Mode
  var runner: any CommandRunner
  var state: RemoteState

  func snapshot(for query: SocketQuery) async throws(PortKitError) -> SystemSnapshot {
    let output = try await host.run(
      RemoteScript.snapshot(mode: mode, ports: RemoteScript.portFilter(query)), runner: runner)
    let reading = RemoteReading.parse(output.standardOutput)
    let name = TerminalText.escape(host.destination)
    switch reading.kind {
    case "procfs" where reading.complete:
      let snapshot = Self.procfsSnapshot(reading, query: query)
      await state.store(
        kind: .procfs, utcOffset: reading.utcOffset ?? 0, selfChain: reading.selfChain,
        processes: snapshot.processes, lsofSource: nil)
      return snapshot
    case "lsof" where reading.complete:
      let source = LsofSystemSource(
        runner: RecordedTools(reading: reading), binder: nil, host: Self.facts(reading))
      let snapshot = try await source.snapshot(for: query)
      await state.store(
        kind: .lsof, utcOffset: reading.utcOffset ?? 0, selfChain: reading.selfChain,
        processes: snapshot.processes, lsofSource: source)
      return snapshot
    case "none":
      let os = TerminalText.escape(reading.os ?? "its system")
      throw PortKitError(
        .unsupportedPlatform,
        "\(name) (\(os)) has neither a readable /proc nor lsof: portctl --host needs one of them there.")
    default:
      let said =
        String(decoding: output.standardError.prefix(2048), as: UTF8.self)
        .split(whereSeparator: \.isNewline).last.map { ": " + TerminalText.escape(String($0.prefix(300))) } ?? ""
      throw PortKitError(
        .toolFailed,
        "\(name) did not give a usable answer to portctl's script (exit \(output.exitCode.map { "\($0)" } ?? "by signal"))\(said). It needs a POSIX sh, od and awk there."
      )
    }
  }

  /// The host facts the remote's own output gives: its uid, clock, zone and user names.
  static func facts(_ reading: RemoteReading) -> HostFacts {
    let now = reading.now ?? 0
    let offset = reading.utcOffset ?? 0
    let users = reading.users
    var facts = HostFacts(
      effectiveUID: reading.effectiveUID ?? .max, selfPID: reading.selfChain.first ?? 0, now: { now },
      utcOffset: { _ in offset }, userName: { users[$0] })
    facts.platform = platform(reading.os)
    return facts
  }

  /// `uname -s`'s answer as a platform.
  static func platform(_ os: String?) -> HostPlatform {
    switch os {
    case "Linux": .linux
    case "Darwin": .macOS
    default: .other
    }
  }

  /// The snapshot a procfs remote's output gives: the tables through the procfs parsers,
  /// holders from the socket links, process records from each holder's details.
  static func procfsSnapshot(_ reading: RemoteReading, query: SocketQuery) -> SystemSnapshot {
    var sockets: [SocketEntry] = []
    for proto in TransportProtocol.allCases where query.protocols.contains(proto) {
      for family in AddressFamily.allCases {
        let name = "\(proto.rawValue)\(family == .ipv6 ? "6" : "")"
        guard let table = reading.tables[name] else { continue }
        sockets += ProcNetParser.parse(table, proto: proto, family: family)
      }
    }
    sockets.removeAll { !query.matches($0) }
    let kept = Set(sockets.lazy.map(\.id).filter { $0 != 0 })
    var references = SocketHolders(links: reading.links.filter { kept.contains($0.id) })
    let ticks = reading.ticksPerSecond ?? 100
    var processes: [PID: ProcessRecord] = [:]
    for details in reading.processes {
      guard let stat = ProcfsParsers.stat(details.stat) else { continue }
      let path = { (bytes: [UInt8]) -> String? in
        var body = bytes[...]
        if body.last == UInt8(ascii: "\n") { body = body.dropLast() }
        return body.isEmpty ? nil : String(decoding: body, as: UTF8.self)
      }
      processes[details.pid] = ProcessRecord(
        pid: details.pid, ppid: stat.ppid, uid: details.uid, user: details.uid.flatMap { reading.users[$0] },
        name: stat.name, commandLine: ProcfsParsers.commandLine(details.commandLine),
        executable: path(details.executable), workingDirectory: path(details.workingDirectory),
        startTime: reading.bootTime.map { $0 + Double(stat.startTicks) / ticks }, startTicks: stat.startTicks,
        isKernelThread: stat.isKernelThread,
        controlGroup: details.controlGroup.isEmpty ? nil : String(decoding: details.controlGroup, as: UTF8.self))
    }
    // A link whose process could not be read (it exited mid-scan) is dropped, as locally.
    references.removeAll { processes[$0] == nil }
    var userNames: [UInt32: String] = [:]
    for socket in sockets where socket.id != 0 && references.range(of: socket.id).isEmpty {
      if let uid = socket.uid, let name = reading.users[uid] { userNames[uid] = name }
    }
    return SystemSnapshot(
      sockets: sockets, references: references, processes: processes, effectiveUID: reading.effectiveUID ?? .max,
      takenAt: reading.now ?? 0, userNames: userNames)
  }

  func ancestry(of pid: PID) async -> [ProcessRecord] {
    if let lsof = await state.lsofSource { return await lsof.ancestry(of: pid) }
    let processes = await state.processes
    var chain: [ProcessRecord] = []
    var current = processes[pid]?.ppid ?? 0
    while current > 0, let record = processes[current], chain.count < 128, !chain.contains(where: { $0.pid == current })
    {
      chain.append(record)
      current = record.ppid
    }
    return chain
  }

  func workingDirectory(of pid: PID) async -> String? {
    await state.processes[pid]?.workingDirectory
  }
}

/// Answers the lsof backend's tool runs from what the remote printed in one go: `lsof` with
/// the recorded output (whatever its arguments: the script read every TCP and UDP socket, and
/// the backend matches the query itself), `ps` with the recorded rows (only those of `-p`'s
/// pids when asked). Nothing else is run.
struct RecordedTools: CommandRunner {
  var reading: RemoteReading

  func run(_ executable: String, _ arguments: [String]) async throws(PortKitError) -> CommandOutput {
    switch executable {
    case "lsof" where !arguments.contains("-d"):
      return CommandOutput(exitCode: reading.lsofStatus ?? 1, standardOutput: reading.lsof)
    case "lsof":
      return CommandOutput(exitCode: 1, standardOutput: [])
    case "ps":
      guard let index = arguments.firstIndex(of: "-p"), index + 1 < arguments.count else {
        return CommandOutput(exitCode: 0, standardOutput: reading.ps)
      }
      let wanted = Set(arguments[index + 1].split(separator: ",").compactMap { PID($0) })
      var rows: [UInt8] = []
      for line in reading.ps.split(separator: UInt8(ascii: "\n")) {
        let first = line.drop(while: { $0 == UInt8(ascii: " ") }).prefix(while: { $0 != UInt8(ascii: " ") })
        guard let pid = PID(String(decoding: first, as: UTF8.self)), wanted.contains(pid) else { continue }
        rows += line
        rows.append(UInt8(ascii: "\n"))
      }
      return CommandOutput(exitCode: 0, standardOutput: rows)
    default:
      throw PortKitError(.toolFailed, "\(executable) is not run on a remote host read through lsof.")
    }
  }
}

/// Runs programs on the remote host (`why`'s tmux and systemctl questions, a manager's stop
/// command), each through one `ssh` run, with the system directories first on PATH.
struct RemoteCommandRunner: CommandRunner {
  var host: RemoteHost
  var runner: any CommandRunner

  func run(_ executable: String, _ arguments: [String]) async throws(PortKitError) -> CommandOutput {
    guard !executable.isEmpty, !executable.contains("/") else {
      throw PortKitError(.toolFailed, "Only programs named plainly are run on a remote host.")
    }
    let command =
      "\(RemoteScript.prelude)\nexec \(([executable] + arguments).map(ShellQuoting.quote).joined(separator: " "))\n"
    let output = try await host.run(command, runner: runner)
    if output.exitCode == 127 {
      throw PortKitError(
        .toolMissing, "\(executable) was not found on \(TerminalText.escape(host.destination)).")
    }
    return output
  }
}

/// No files: a remote holder's working directory names a directory of the remote host, which
/// is not read from here.
struct NoProjectFiles: ProjectFiles {
  func kind(of path: String) -> ProjectFileKind? { nil }
  func read(_ path: String, limit: Int) -> [UInt8]? { nil }
  func names(in path: String, limit: Int) -> [String]? { nil }
  func realPath(_ path: String) -> String? { nil }
}
