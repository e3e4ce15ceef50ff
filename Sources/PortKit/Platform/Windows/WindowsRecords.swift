import CPortSys

/// Copies of what the C tables of the native Windows backend held (`cportsys_win_sockets`,
/// `cportsys_win_processes`, `cportsys_win_services`): the flat records and the UTF-16 text
/// pools their `cportsys_win_text` fields point into. Plain values, so the mapping below is
/// tested on any OS.
struct WindowsTables: Sendable {
  /// Sockets of the IP Helper tables.
  var sockets: [cportsys_win_socket]
  /// Toolhelp32's processes, with details for the ones asked for.
  var processes: [cportsys_win_process]
  /// The text pool of `processes`.
  var processText: [UInt16]
  /// Win32 services.
  var services: [cportsys_win_service]
  /// The text pool of `services`.
  var serviceText: [UInt16]

  /// Tables as given; empty by default.
  init(
    sockets: [cportsys_win_socket] = [], processes: [cportsys_win_process] = [], processText: [UInt16] = [],
    services: [cportsys_win_service] = [], serviceText: [UInt16] = []
  ) {
    self.sockets = sockets
    self.processes = processes
    self.processText = processText
    self.services = services
    self.serviceText = serviceText
  }
}

/// Maps the native Windows records to PortKit's model. Pure: no Windows call is made here.
enum WindowsRecords {
  /// Seconds from 1601-01-01 (the FILETIME epoch) to 1970-01-01.
  static let fileTimeEpochOffset: UInt64 = 11_644_473_600
  /// FILETIME units (100 ns) a second.
  static let fileTimeUnitsPerSecond: UInt64 = 10_000_000

  /// One table row as a socket with id 0 (``snapshot(_:query:host:)`` assigns ids); `nil`
  /// when the family is not 4 or 6 or the protocol not TCP (6) or UDP (17).
  static func socket(_ row: cportsys_win_socket) -> SocketEntry? {
    let proto: TransportProtocol
    switch row.protocol {
    case 6: proto = .tcp
    case 17: proto = .udp
    default: return nil
    }
    guard row.family == 4 || row.family == 6 else { return nil }
    let local = Endpoint(address: address(row.local_address, family: row.family), port: row.local_port)
    guard proto == .tcp else {
      // The UDP table names no peer: every row is a bound socket.
      return SocketEntry(proto: .udp, local: local, state: .unconnected, id: 0)
    }
    let remote = Endpoint(address: address(row.remote_address, family: row.family), port: row.remote_port)
    let peer = remote.port == 0 && remote.address.isWildcard ? nil : remote
    return SocketEntry(proto: .tcp, local: local, remote: peer, state: tcpState(row.state), id: 0)
  }

  /// MIB_TCP_STATE as PortKit's state.
  static func tcpState(_ code: UInt8) -> SocketState {
    switch code {
    case 1: .close
    case 2: .listen
    case 3: .synSent
    case 4: .synReceived
    case 5: .established
    case 6: .finWait1
    case 7: .finWait2
    case 8: .closeWait
    case 9: .closing
    case 10: .lastAck
    case 11: .timeWait
    // DELETE_TCB: the connection's record is being deleted.
    case 12: .close
    default: .unknown
    }
  }

  /// An address from its 16 network-order bytes: IPv4 in the first 4.
  static func address(
    _ raw: (
      UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
    ),
    family: UInt8
  ) -> IPAddress {
    let bytes = withUnsafeBytes(of: raw) { Array($0) }
    if family == 4 {
      return .v4(bytes[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
    }
    let high = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    let low = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    return .v6(high: high, low: low)
  }

  /// The text `piece` names in `pool`; what lies outside the pool is dropped, and unpaired
  /// surrogates become U+FFFD.
  static func text(_ piece: cportsys_win_text, in pool: [UInt16]) -> String {
    let start = Int(piece.offset)
    guard piece.length > 0, start < pool.count else { return "" }
    let end = start + min(Int(piece.length), pool.count - start)
    return String(decoding: pool[start..<end], as: UTF16.self)
  }

  /// A FILETIME (100 ns units since 1601-01-01 UTC) as seconds since the Unix epoch; `nil`
  /// for 0 (not known) and for times before 1970, which no running process has.
  static func unixTime(fileTime: UInt64) -> Double? {
    let offset = fileTimeEpochOffset * fileTimeUnitsPerSecond
    guard fileTime > offset else { return nil }
    return Double(fileTime - offset) / Double(fileTimeUnitsPerSecond)
  }

  /// Seconds since the Unix epoch as a FILETIME; 0 for times before 1970 or not finite.
  static func fileTime(unixTime: Double) -> UInt64 {
    guard unixTime.isFinite, unixTime >= 0, unixTime < 1e11 else { return 0 }
    return (fileTimeEpochOffset * fileTimeUnitsPerSecond) + UInt64(unixTime * Double(fileTimeUnitsPerSecond))
  }

  /// One process record. `ppid` is Toolhelp's th32ParentProcessID as given (it may name an
  /// exited parent whose pid was reused); ``WindowsProcessTree`` keeps it only where the
  /// parent was created before the child. `startTicks` is the creation FILETIME, `uid` is
  /// `nil` (Windows has accounts, not uids) and `user` the `DOMAIN\user` account. Pid 0
  /// (System Idle Process) and pid 4 (System, the kernel: HTTP.sys and SMB listen through
  /// it) are kernel processes.
  static func process(_ row: cportsys_win_process, text pool: [UInt16], services: [String]) -> ProcessRecord {
    let pid = PID(truncatingIfNeeded: row.pid)
    let image = text(row.image, in: pool)
    let user = text(row.user, in: pool)
    var name = text(row.name, in: pool)
    if row.pid == 0 {
      name = "System Idle Process"
    } else if name.isEmpty {
      name = image.split(separator: "\\").last.map(String.init) ?? ""
    }
    return ProcessRecord(
      pid: pid, ppid: PID(truncatingIfNeeded: row.ppid), uid: nil, user: user.isEmpty ? nil : user, name: name,
      commandLine: WindowsCommandLine.split(text(row.command_line, in: pool)),
      executable: image.isEmpty ? nil : image, startTime: unixTime(fileTime: row.created),
      startTicks: row.created == 0 ? nil : row.created, isKernelThread: row.pid == 0 || row.pid == 4,
      services: services)
  }

  /// The services each process hosts, by their key names (not localised), in table order,
  /// without repeats (compared ignoring case). Stopped services (pid 0) host nowhere.
  static func servicesByPID(_ rows: [cportsys_win_service], text pool: [UInt16]) -> [UInt32: [String]] {
    var hosted: [UInt32: [String]] = [:]
    for row in rows where row.pid != 0 {
      let name = text(row.name, in: pool)
      guard !name.isEmpty else { continue }
      let lowered = name.lowercased()
      if hosted[row.pid]?.contains(where: { $0.lowercased() == lowered }) == true { continue }
      hosted[row.pid, default: []].append(name)
    }
    return hosted
  }

  /// The sockets of `tables` that `query` wants, each with an id, joined with the
  /// processes that own them. A socket's id is derived from its addresses, ports and owner,
  /// so the same socket keeps its id from one snapshot to the next. A row owned by pid 0
  /// that is not a listener (TIME_WAIT and other connections no process holds) gets id 0;
  /// a listener owned by pid 0 (Wine before 9.17 names no owner) keeps an id and no holder,
  /// so it shows as held by a process portctl cannot see, never as free. Holders' records
  /// carry a parent only where ``WindowsProcessTree`` can prove it.
  static func snapshot(_ tables: WindowsTables, query: SocketQuery, host: HostFacts) -> SystemSnapshot {
    let takenAt = host.now()
    var sockets: [SocketEntry] = []
    var links: [SocketHolders.Link] = []
    var seen: [String: Int] = [:]
    for row in tables.sockets {
      guard var socket = socket(row), query.matches(socket) else { continue }
      if row.pid == 0 && !socket.isListener {
        socket.id = 0
      } else {
        let key =
          "\(socket.proto.rawValue) \(socket.local) \(socket.remote?.description ?? "-") \(socket.state.rawValue) \(row.pid)"
        let occurrence = seen[key, default: 0]
        seen[key] = occurrence + 1
        socket.id = LsofParser.id(occurrence == 0 ? key : "\(key) #\(occurrence)")
        if row.pid != 0 {
          links.append(SocketHolders.Link(id: socket.id, pid: PID(truncatingIfNeeded: row.pid), fd: -1))
        }
      }
      sockets.append(socket)
    }
    let references = SocketHolders(links: links)
    let tree = WindowsProcessTree(tables)
    var processes: [PID: ProcessRecord] = [:]
    for pid in references.pids {
      guard let holder = tree.record(pid) else { continue }
      processes[pid] = holder
      if holder.ppid > 0, let parent = tree.record(holder.ppid) { processes[parent.pid] = parent }
    }
    return SystemSnapshot(
      sockets: sockets, references: references, processes: processes, effectiveUID: host.effectiveUID,
      takenAt: takenAt)
  }
}

/// The processes of one Toolhelp32 read, with parents that can be trusted: Windows keeps an
/// exited parent's pid in th32ParentProcessID and reuses pids, so a parent counts only when
/// it exists and was created before the child (both creation times known).
struct WindowsProcessTree: Sendable {
  /// The rows by pid.
  var rows: [UInt32: cportsys_win_process]
  /// The text pool of the rows.
  var text: [UInt16]
  /// Hosted services by pid.
  var services: [UInt32: [String]]

  /// The tree of `tables`' processes.
  init(_ tables: WindowsTables) {
    var rows: [UInt32: cportsys_win_process] = [:]
    for row in tables.processes where rows[row.pid] == nil { rows[row.pid] = row }
    self.rows = rows
    text = tables.processText
    services = WindowsRecords.servicesByPID(tables.services, text: tables.serviceText)
  }

  /// `pid`'s parent when it is proven: it exists, is another process, and both creation
  /// times are known with the parent's earlier.
  func parent(of pid: UInt32) -> UInt32? {
    guard let child = rows[pid], child.ppid != 0, child.ppid != pid, let parent = rows[child.ppid],
      parent.created != 0, child.created != 0, parent.created < child.created
    else { return nil }
    return parent.pid
  }

  /// `pid`'s parent unless it is proven not to be: missing, or created after the child.
  /// Used where counting a stranger as a parent is the safe mistake (protecting
  /// portctl's own ancestors).
  func possibleParent(of pid: UInt32) -> UInt32? {
    guard let child = rows[pid], child.ppid != 0, child.ppid != pid, let parent = rows[child.ppid] else { return nil }
    if parent.created != 0, child.created != 0, parent.created >= child.created { return nil }
    return parent.pid
  }

  /// The record of `pid`, its parent kept only when proven.
  func record(_ pid: PID) -> ProcessRecord? {
    guard pid >= 0, let row = rows[UInt32(pid)] else { return nil }
    var record = WindowsRecords.process(row, text: text, services: services[row.pid] ?? [])
    record.ppid = parent(of: row.pid).map { PID(truncatingIfNeeded: $0) } ?? 0
    return record
  }

  /// `pid`'s proven ancestors, parent first (at most `limit`).
  func ancestors(of pid: PID, limit: Int = 128) -> [ProcessRecord] {
    guard pid >= 0 else { return [] }
    var chain: [ProcessRecord] = []
    var current = UInt32(pid)
    while chain.count < limit, let parent = parent(of: current), parent != UInt32(pid),
      !chain.contains(where: { $0.pid == PID(truncatingIfNeeded: parent) }),
      let record = record(PID(truncatingIfNeeded: parent))
    {
      chain.append(record)
      current = parent
    }
    return chain
  }

  /// Toolhelp's raw chain of parent pids above `pid` (no creation-time check), for choosing
  /// which processes to read in detail.
  func rawAncestorPIDs(of pid: PID, limit: Int = 128) -> [UInt32] {
    guard pid >= 0 else { return [] }
    var chain: [UInt32] = []
    var current = UInt32(pid)
    while chain.count < limit, let row = rows[current], row.ppid != 0, row.ppid != UInt32(pid),
      !chain.contains(row.ppid)
    {
      chain.append(row.ppid)
      current = row.ppid
    }
    return chain
  }

  /// The pids whose Toolhelp parent is `pid`, by pid (not yet proven).
  func rawChildPIDs(of pid: PID) -> [UInt32] {
    guard pid >= 0 else { return [] }
    return rows.values.filter { $0.ppid == UInt32(pid) && $0.pid != UInt32(pid) }.map(\.pid).sorted()
  }

  /// `pid`'s proven children, by pid.
  func children(of pid: PID, limit: Int) -> [ProcessRecord] {
    guard pid >= 0 else { return [] }
    return rawChildPIDs(of: pid).filter { parent(of: $0) == UInt32(pid) }.prefix(max(0, limit)).compactMap {
      record(PID(truncatingIfNeeded: $0))
    }
  }
}

/// Splits a Windows command line into arguments the way `CommandLineToArgvW` does.
///
/// The first argument, the program, ends at the first space or tab, or, when it starts with
/// a quote, at the next quote; backslashes in it are plain characters. In the arguments
/// after it: spaces and tabs outside quotes separate; `2n` backslashes before a quote are
/// `n` backslashes and the quote opens or closes a quoted part; `2n+1` backslashes before a
/// quote are `n` backslashes and a literal quote; backslashes before anything else are
/// themselves; inside a quoted part, two quotes in a row are one literal quote and end the
/// quoted part.
enum WindowsCommandLine {
  static func split(_ line: String) -> [String] {
    let units = Array(line.unicodeScalars)
    guard !units.isEmpty else { return [] }
    var arguments: [String] = []
    var index = 0
    // The program name.
    var program = String.UnicodeScalarView()
    if units[0] == "\"" {
      index = 1
      while index < units.count, units[index] != "\"" {
        program.append(units[index])
        index += 1
      }
      index += 1
    } else {
      while index < units.count, units[index] != " ", units[index] != "\t" {
        program.append(units[index])
        index += 1
      }
    }
    arguments.append(String(program))
    // The rest, after the separating whitespace.
    while index < units.count, units[index] == " " || units[index] == "\t" { index += 1 }
    var current = String.UnicodeScalarView()
    var hasArgument = false
    var quoted = false
    while index < units.count {
      let unit = units[index]
      if (unit == " " || unit == "\t") && !quoted {
        if hasArgument { arguments.append(String(current)) }
        current = String.UnicodeScalarView()
        hasArgument = false
        index += 1
        continue
      }
      if unit == "\\" {
        var count = 0
        while index < units.count, units[index] == "\\" {
          count += 1
          index += 1
        }
        hasArgument = true
        if index < units.count, units[index] == "\"" {
          current.append(contentsOf: repeatElement("\\", count: count / 2))
          if count % 2 == 1 {
            current.append("\"")
            index += 1
          }
          // An even count leaves the quote to be read as a delimiter below.
        } else {
          current.append(contentsOf: repeatElement("\\", count: count))
        }
        continue
      }
      if unit == "\"" {
        hasArgument = true
        index += 1
        if quoted, index < units.count, units[index] == "\"" {
          // `""` inside quotes: a literal quote, and the quoted part ends.
          current.append("\"")
          index += 1
          quoted = false
        } else {
          quoted.toggle()
        }
        continue
      }
      current.append(unit)
      hasArgument = true
      index += 1
    }
    if hasArgument { arguments.append(String(current)) }
    return arguments
  }
}

extension BindOutcome {
  /// A Winsock bind result: 0 bindable, 10048 WSAEADDRINUSE in use, 10013 WSAEACCES
  /// permission denied (an excluded port range, or a port another program holds
  /// exclusively), 10049 WSAEADDRNOTAVAIL address unavailable, 10047 WSAEAFNOSUPPORT no
  /// such family here; any other code failed with that code.
  init(winsockError: UInt32) {
    switch winsockError {
    case 0: self = .bindable
    case 10048: self = .inUse
    case 10013: self = .permissionDenied
    case 10049: self = .addressUnavailable
    case 10047: self = .familyUnsupported
    default: self = .failed(errno: Int32(truncatingIfNeeded: winsockError))
    }
  }
}
