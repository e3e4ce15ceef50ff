/// The macOS backend (and `--backend lsof` elsewhere): sockets and their holders from one
/// `lsof -F` run (port filter on its command line when ports are asked), details from one
/// `ps` run. lsof without root sees only the user's own processes, so an asked port with no
/// visible socket is probed with a real bind: a port someone else holds is reported held,
/// with the owner hidden, never free.
struct LsofSystemSource: SystemSource {
  var runner: any CommandRunner
  var binder: (any PortBinder)?
  var host: HostFacts

  init(runner: any CommandRunner, binder: (any PortBinder)?, host: HostFacts) {
    self.runner = runner
    self.binder = binder
    self.host = host
  }

  /// The lsof arguments for a query: numeric output, no warnings, field output, and one
  /// `-i` per spec (ORed by lsof); addresses are matched here, since a wildcard listener
  /// blocks a specific address too.
  static func arguments(for query: SocketQuery) -> [String] {
    var arguments = ["-nP", "-w", "-F", "pcuLRftPnTdi"]
    let protocols = query.protocols.sorted()
    guard let specs = query.specs else {
      return arguments + protocols.map { "-i\($0.rawValue.uppercased())" }
    }
    for spec in specs {
      let ports =
        spec.ports.count == 1 ? "\(spec.ports.lowerBound)" : "\(spec.ports.lowerBound)-\(spec.ports.upperBound)"
      let wanted = spec.proto.map { protocols.contains($0) ? [$0] : [] } ?? protocols
      if wanted.count == TransportProtocol.allCases.count {
        arguments.append("-i:\(ports)")
      } else {
        arguments += wanted.map { "-i\($0.rawValue.uppercased()):\(ports)" }
      }
    }
    return arguments
  }

  func snapshot(for query: SocketQuery) async throws(PortKitError) -> SystemSnapshot {
    let takenAt = host.now()
    let output = try await runner.run("lsof", Self.arguments(for: query))
    guard Self.isUsable(output) else {
      let message = String(decoding: output.standardError, as: UTF8.self).split(separator: "\n").first ?? ""
      let detail = message.isEmpty ? "it printed no error message" : String(message)
      throw PortKitError(
        .toolFailed, "lsof failed (exit \(output.exitCode.map { "\($0)" } ?? "by signal")): \(detail).")
    }
    let listed = LsofParser.parse(output.standardOutput)
    let parsed = LsofParser.sockets(listed)
    var sockets = parsed.sockets.filter(query.matches)
    let kept = Set(sockets.map(\.id))
    let references = SocketHolders(parsed.references.filter { kept.contains($0.key) })

    let holderPIDs = references.pids
    var processes = try await details(
      listed.filter { process in holderPIDs.contains(process.pid) })
    for process in processes.values where process.user == nil {
      processes[process.pid]?.user = process.uid.flatMap(host.userName)
    }
    sockets += await probedHidden(query, visible: sockets)
    return SystemSnapshot(
      sockets: sockets, references: references, processes: processes, effectiveUID: host.effectiveUID,
      takenAt: takenAt)
  }

  /// Whether an lsof run can be read. lsof exits 1 both when nothing matched (no output at
  /// all) and when some file or process could not be read, even with every other result
  /// printed (another user's process, one that exited mid-scan): field output that parses
  /// (it starts with a `p` line and names at least one process) is accepted then. Exit 1
  /// with nothing printed but an error message, malformed output, another status or a
  /// signal: lsof failed.
  static func isUsable(_ output: CommandOutput) -> Bool {
    switch output.exitCode {
    case 0:
      return true
    case 1:
      if output.standardOutput.isEmpty {
        return output.standardError.allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
      }
      return output.standardOutput.first == UInt8(ascii: "p") && !LsofParser.parse(output.standardOutput).isEmpty
    default:
      return false
    }
  }

  /// Every process's parent from one `ps -A` run, then the chain above `pid`.
  func ancestry(of pid: PID) async -> [ProcessRecord] {
    guard let output = try? await runner.run("ps", ["-A", "-o", "pid=,ppid=,uid=,lstart=,command="]) else { return [] }
    var records: [PID: PsParser.Row] = [:]
    for row in PsParser.parse(output.standardOutput) { records[row.pid] = row }
    var chain: [ProcessRecord] = []
    var current = records[pid]?.ppid ?? 0
    while current > 0, let row = records[current], chain.count < 128, !chain.contains(where: { $0.pid == current }) {
      let start = row.start.epochSeconds(utcOffset: host.utcOffset(row.start.epochSeconds(utcOffset: 0)))
      let name = row.command.split(separator: " ").first.map { String($0.split(separator: "/").last ?? $0) } ?? "?"
      chain.append(
        ProcessRecord(
          pid: row.pid, ppid: row.ppid, uid: row.uid, name: name, commandLine: [row.command], startTime: start))
      current = row.ppid
    }
    return chain
  }

  /// Process records for the holders and their parents, from one `ps` run.
  /// The working directories of `pids` from `lsof -a -d cwd -p PID,…` (500 pids a run); a
  /// directory lsof could not read (it says why after the path) is left out.
  func workingDirectories(of pids: [PID]) async -> [PID: String] {
    var found: [PID: String] = [:]
    var rest = pids[...]
    while !rest.isEmpty {
      let chunk = rest.prefix(500)
      rest = rest.dropFirst(chunk.count)
      let list = chunk.map { "\($0)" }.joined(separator: ",")
      guard let output = try? await runner.run("lsof", ["-a", "-nP", "-w", "-d", "cwd", "-p", list, "-Fpfn"]) else {
        continue
      }
      for process in LsofParser.parse(output.standardOutput) {
        for file in process.files {
          guard let name = file.name, name.hasPrefix("/"), !name.contains(" (readlink: "), !name.contains(" (stat: ")
          else { continue }
          found[process.pid] = name
        }
      }
    }
    return found
  }

  private func details(_ holders: [LsofParser.Process]) async throws(PortKitError) -> [PID: ProcessRecord] {
    guard !holders.isEmpty else { return [:] }
    let pids = Set(holders.map(\.pid) + holders.compactMap(\.ppid).filter { $0 > 0 })
    let output = try await runner.run(
      "ps", ["-o", "pid=,ppid=,uid=,lstart=,command=", "-p", pids.sorted().map { "\($0)" }.joined(separator: ",")])
    var records: [PID: ProcessRecord] = [:]
    for row in PsParser.parse(output.standardOutput) {
      let guess = row.start.epochSeconds(utcOffset: 0)
      let start = row.start.epochSeconds(utcOffset: host.utcOffset(guess))
      let firstWord = row.command.split(separator: " ").first.map { String($0.split(separator: "/").last ?? $0) } ?? "?"
      records[row.pid] = ProcessRecord(
        pid: row.pid, ppid: row.ppid, uid: row.uid, name: firstWord,
        commandLine: row.command.isEmpty ? [] : [row.command],
        startTime: start, startTicks: UInt64(max(0, start)))
    }
    for holder in holders {
      let command = records[holder.pid]?.commandLine.first ?? ""
      var record =
        records[holder.pid]
        ?? ProcessRecord(pid: holder.pid, ppid: holder.ppid ?? 0, uid: holder.uid, name: holder.command)
      record.name = PsParser.fullName(holder.command, command: command)
      record.user = holder.login
      if record.uid == nil { record.uid = holder.uid }
      records[holder.pid] = record
    }
    return records
  }

  /// For each single asked port where no socket is visible, a real bind: if it fails with
  /// "in use", somebody portctl cannot see holds the port.
  private func probedHidden(_ query: SocketQuery, visible: [SocketEntry]) async -> [SocketEntry] {
    guard let binder, let specs = query.specs else { return [] }
    var hidden: [SocketEntry] = []
    for spec in specs where spec.ports.count == 1 {
      let port = spec.ports.lowerBound
      for proto in (spec.proto.map { [$0] } ?? TransportProtocol.allCases) where query.protocols.contains(proto) {
        guard !visible.contains(where: { $0.proto == proto && $0.local.port == port && $0.isListener }),
          !hidden.contains(where: { $0.proto == proto && $0.local.port == port })
        else { continue }
        for address in spec.address.map({ [$0] }) ?? [.anyV4, .anyV6] {
          let outcome = binder.tryBind(
            Endpoint(address: address, port: port), proto: proto, reuseAddress: proto == .tcp)
          guard outcome == .inUse else { continue }
          hidden.append(
            SocketEntry(
              proto: proto, local: Endpoint(address: address, port: port),
              state: proto == .tcp ? .listen : .unconnected, uid: nil, id: LsofParser.id("probe \(proto) \(port)")))
          break
        }
      }
    }
    return hidden
  }
}
