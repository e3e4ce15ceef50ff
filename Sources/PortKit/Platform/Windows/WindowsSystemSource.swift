import CPortSys

/// The native Windows backend: sockets with their owning pids from the IP Helper tables,
/// processes from Toolhelp32 (opened for details only where needed), hosted services from
/// the service manager, all through ``WindowsCalls``; excluded and dynamic port ranges from
/// `netsh`, as the netstat backend reads them.
struct WindowsSystemSource: SystemSource {
  var calls: any WindowsCalls
  var runner: any CommandRunner
  var host: HostFacts

  init(calls: any WindowsCalls, runner: any CommandRunner, host: HostFacts) {
    self.calls = calls
    self.runner = runner
    self.host = host
  }

  /// One read of the socket tables, one Toolhelp32 read that opens only the holders, and
  /// one read of the services. For full detail, the holders' parents are read once more,
  /// opened, so that their creation times can prove them parents.
  func snapshot(for query: SocketQuery) async throws(PortKitError) -> SystemSnapshot {
    let rows: [cportsys_win_socket]
    do {
      rows = try calls.sockets(WindowsSocketTables(protocols: query.wantedProtocols))
    } catch {
      throw PortKitError(
        .socketTablesUnreadable, "Windows did not give its socket tables (error \(error.code)).")
    }
    var holders: [UInt32] = []
    for row in rows where row.pid != 0 {
      if let socket = WindowsRecords.socket(row), query.matches(socket), !holders.contains(row.pid) {
        holders.append(row.pid)
      }
    }
    var tables = WindowsTables(sockets: rows)
    guard !holders.isEmpty else { return WindowsRecords.snapshot(tables, query: query, host: host) }
    do {
      let processes = try calls.processes(detailed: holders)
      tables.processes = processes.records
      tables.processText = processes.text
    } catch {
      throw PortKitError(.toolFailed, "Windows did not list its processes (error \(error.code)).")
    }
    if let services = try? calls.services() {
      tables.services = services.records
      tables.serviceText = services.text
    }
    if query.detail == .full {
      let tree = WindowsProcessTree(tables)
      let parents = holders.compactMap { tree.rows[$0]?.ppid }.filter { $0 != 0 && tree.rows[$0]?.created == 0 }
      if !parents.isEmpty, let opened = try? calls.processes(detailed: parents) {
        tables = Self.merging(opened, for: Set(parents), into: tables)
      }
    }
    return WindowsRecords.snapshot(tables, query: query, host: host)
  }

  /// `tables` with the rows of `pids` taken from a later read (which opened them). A pid
  /// that was reused in between names a younger process there, which no creation-time
  /// check takes for the older child's parent.
  static func merging(
    _ later: (records: [cportsys_win_process], text: [UInt16]), for pids: Set<UInt32>, into tables: WindowsTables
  ) -> WindowsTables {
    var merged = tables
    let base = UInt32(clamping: merged.processText.count)
    merged.processText += later.text
    merged.processes.removeAll { pids.contains($0.pid) }
    for var row in later.records where pids.contains(row.pid) {
      for keyPath in [\cportsys_win_process.name, \.image, \.user, \.command_line] {
        let (offset, overflow) = row[keyPath: keyPath].offset.addingReportingOverflow(base)
        row[keyPath: keyPath] =
          overflow
          ? cportsys_win_text(offset: 0, length: 0)
          : cportsys_win_text(offset: offset, length: row[keyPath: keyPath].length)
      }
      merged.processes.append(row)
    }
    return merged
  }

  func reservations(for proto: TransportProtocol) async -> PortReservations {
    await NetshReservations.read(proto, runner: runner)
  }

  /// `pid`'s ancestors, parent first: Toolhelp32's chain of parent pids, read again with
  /// those processes opened, cut where a parent was not created before its child.
  func ancestry(of pid: PID) async -> [ProcessRecord] {
    guard pid > 0, let plain = try? calls.processes(detailed: []) else { return [] }
    let chain = WindowsProcessTree(WindowsTables(processes: plain.records, processText: plain.text))
      .rawAncestorPIDs(of: pid)
    guard !chain.isEmpty, let tree = tree(detailed: [UInt32(pid)] + chain) else { return [] }
    return tree.ancestors(of: pid)
  }

  /// `pid`'s children, by pid: the processes Toolhelp32 names it the parent of, read again
  /// opened, kept when created after it.
  func children(of pid: PID, limit: Int) async -> [ProcessRecord] {
    guard pid > 0, limit > 0, let plain = try? calls.processes(detailed: []) else { return [] }
    let candidates = WindowsProcessTree(WindowsTables(processes: plain.records, processText: plain.text))
      .rawChildPIDs(of: pid)
    guard !candidates.isEmpty, let tree = tree(detailed: [UInt32(pid)] + candidates.prefix(max(limit, 64))) else {
      return []
    }
    return tree.children(of: pid, limit: limit)
  }

  private func tree(detailed: [UInt32]) -> WindowsProcessTree? {
    guard let processes = try? calls.processes(detailed: detailed) else { return nil }
    let services = try? calls.services()
    return WindowsProcessTree(
      WindowsTables(
        processes: processes.records, processText: processes.text, services: services?.records ?? [],
        serviceText: services?.text ?? []))
  }
}
