#if os(Linux)
import CPortSys
import Glibc
import SystemPackage

/// The Linux backend: sockets from netlink sock_diag (or the `/proc/net` tables where netlink
/// is refused), holders from one parallel walk of `/proc/*/fd`.
public struct LinuxSystemSource: SystemSource {
  /// The procfs tree walked for holders.
  public var reader: ProcfsReader
  /// Where the sockets are read.
  public var tables: any SocketTableReader
  /// Threads for the descriptor walk.
  public var threads: Int

  /// With the live procfs root, netlink first; with any other root (a fixture tree), its
  /// `net/` tables only.
  public init(reader: ProcfsReader = ProcfsReader(), tables: (any SocketTableReader)? = nil, threads: Int? = nil) {
    self.reader = reader
    self.tables =
      tables
      ?? (reader.root == "/proc"
        ? FallbackSocketTables([NetlinkSocketTables(), ProcNetSocketTables(reader: reader)])
        : ProcNetSocketTables(reader: reader))
    self.threads = threads ?? Syscalls.onlineProcessors
  }

  /// Reads the sockets and walks `/proc` on a thread of its own (the walk blocks).
  public func snapshot(for query: SocketQuery) async throws(PortKitError) -> SystemSnapshot {
    try await BlockingWork.run { () throws(PortKitError) -> SystemSnapshot in try self.snapshotNow(for: query) }
  }

  /// The snapshot, read on the calling thread.
  func snapshotNow(for query: SocketQuery) throws(PortKitError) -> SystemSnapshot {
    let takenAt = Syscalls.now
    // Narrowed in place: a listing may hold tens of thousands of sockets.
    var sockets = try tables.sockets(for: query)
    sockets.removeAll { !query.matches($0) }
    var wanted: [UInt64] = []
    wanted.reserveCapacity(sockets.count)
    for socket in sockets where socket.id != 0 { wanted.append(socket.id) }
    wanted.sort()
    let scan = reader.references(toSorted: &wanted, threads: threads)
    var exhausted = scan.descriptorsExhausted
    var walked = scan.walked
    var processes = details(of: Array(scan.references.pids), detail: query.detail)
    let details = { (pid: PID) in reader.process(pid, detail: query.detail) }
    // A socket left without a live holder (its holders exited between the walk and the
    // details, or the walk found none) is neither dropped nor called hidden on that
    // evidence: the table is read again, and the sockets still in it are looked for again.
    var findings = Findings(
      sockets: sockets, references: scan.references, processes: processes, uninspectable: scan.uninspectable)
    sockets = []
    let euid = Syscalls.effectiveUID
    Self.settle(
      &findings, rounds: Self.settleRounds,
      maySee: { euid == 0 || $0.uid == euid },
      present: { open in
        guard let table = try? tables.sockets(for: Self.recheckQuery(for: open, like: query)) else { return nil }
        return Set(table.lazy.map(\.id))
      },
      walk: { ids in
        // The processes walked before: only their other threads' tables are new.
        var sorted = ids
        let again = reader.references(toSorted: &sorted, threads: threads, threadsToo: true, chase: true, known: walked)
        walked = Array(Set(walked).union(again.walked)).sorted()
        exhausted = exhausted || again.descriptorsExhausted
        return again
      },
      details: details,
      pause: { delay in
        let (seconds, attoseconds) = delay.components
        usleep(UInt32(seconds) * 1_000_000 + UInt32(attoseconds / 1_000_000_000_000))
      })
    if exhausted {
      throw PortKitError(
        .resourcesExhausted,
        "portctl ran out of file descriptors while reading /proc, so it cannot say who holds these sockets. "
          + "Raise the limit (ulimit -n 1024) and run it again.", errno: EMFILE)
    }
    sockets = findings.sockets
    let references = findings.references
    processes = findings.processes
    let uninspectable = findings.uninspectable
    // Parents of holders too: they show who started a holder and whether it may come back.
    if query.detail == .full {
      for parent in Set(processes.values.map(\.ppid)) where parent > 0 && processes[parent] == nil {
        if let record = reader.process(parent) {
          processes[parent] = record
        }
      }
    }
    var userNames: [UInt32: String] = [:]
    var hiddenUIDs = Set<UInt32>()
    for socket in sockets where socket.id != 0 && references.range(of: socket.id).isEmpty {
      guard let uid = socket.uid else { continue }
      hiddenUIDs.insert(uid)
      if userNames[uid] == nil, let name = reader.memo.userName(uid, lookup: reader.userName) { userNames[uid] = name }
    }
    // A socket whose visible holders are all of other users than the socket's, while
    // processes of the socket's user could not be inspected: they may hold it too.
    let unseenUIDs = Set(uninspectable.values.lazy.compactMap { $0 })
    if !unseenUIDs.isEmpty {
      for socket in sockets where socket.id != 0 {
        guard let uid = socket.uid, unseenUIDs.contains(uid), !hiddenUIDs.contains(uid) else { continue }
        let range = references.range(of: socket.id)
        guard !range.isEmpty, !references.links[range].contains(where: { processes[$0.pid]?.uid == uid }) else {
          continue
        }
        hiddenUIDs.insert(uid)
        if userNames[uid] == nil, let name = reader.memo.userName(uid, lookup: reader.userName) {
          userNames[uid] = name
        }
      }
    }
    // Name the processes that could be a hidden owner: those of the socket's user that
    // could not be inspected (stat and cmdline stay readable), a few at most.
    let candidates =
      Syscalls.effectiveUID == 0
      ? uninspectable.filter { $0.value.map(hiddenUIDs.contains) ?? false }.keys.sorted() : []
    for pid in candidates.prefix(HiddenOwner.candidateLimit) where processes[pid] == nil {
      if let record = reader.process(pid) {
        processes[pid] = record
      }
    }
    return SystemSnapshot(
      sockets: sockets, references: references, processes: processes, uninspectable: uninspectable,
      effectiveUID: euid, takenAt: takenAt, userNames: userNames)
  }

  /// The details of `pids` (those gone are left out), read on up to ``threads`` threads
  /// when they are many: a listing has a thousand holders, each a few reads of `/proc`.
  func details(of pids: [PID], detail: SocketQuery.Detail) -> [PID: ProcessRecord] {
    let workers = max(1, min(threads, pids.count / 32))
    let slots = UnsafeMutableBufferPointer<[ProcessRecord]>.allocate(capacity: workers)
    slots.initialize(repeating: [])
    defer { slots.deinitialize().deallocate() }
    do {
      // Each worker writes only its own slot.
      nonisolated(unsafe) let results = slots
      let reader = reader
      let read: @Sendable (Int) -> Void = { worker in
        var records: [ProcessRecord] = []
        for index in stride(from: worker, to: pids.count, by: workers) {
          if let record = reader.process(pids[index], detail: detail) { records.append(record) }
        }
        results[worker] = records
      }
      if workers == 1 { read(0) } else { Syscalls.parallel(workers, read) }
    }
    var processes: [PID: ProcessRecord] = [:]
    processes.reserveCapacity(pids.count)
    for records in slots {
      for record in records { processes[record.pid] = record }
    }
    return processes
  }

  /// How many times a socket without a visible holder is looked for again.
  static let settleRounds = 3

  /// What a snapshot found: sockets, their holders and those holders' details.
  struct Findings {
    var sockets: [SocketEntry]
    var references: SocketHolders
    var processes: [PID: ProcessRecord]
    var uninspectable: [PID: UInt32?]
  }

  /// Settles the sockets that have no live holder in `findings`. Links of processes whose
  /// details could not be read (they exited) are dropped first. Then, up to `rounds` times:
  /// the table is read again (`present` gives the ids of those sockets still in it, `nil`
  /// when it cannot be read) and the sockets gone from it are dropped, since they closed
  /// mid-scan; those still there that this process could see (`maySee`) are looked for
  /// again (`walk`, whose new holders' details come from `details`), while walks keep
  /// finding holders. A hand-off (a holder forking its successor and exiting) thus keeps its
  /// socket and shows the successor, and a socket whose process exited mid-scan is not shown
  /// with a hidden owner. The table is always read once more after the last walk; what is
  /// left is held by processes that cannot be seen.
  static func settle(
    _ findings: inout Findings, rounds: Int, maySee: (SocketEntry) -> Bool,
    present: ([SocketEntry]) -> Set<UInt64>?, walk: ([UInt64]) -> ProcfsReader.ReferenceScan,
    details: (PID) -> ProcessRecord?, pause: (Duration) -> Void = { _ in }
  ) {
    defer { linger(&findings, maySee: maySee, present: present, pause: pause) }
    let processes = findings.processes
    if findings.references.links.contains(where: { processes[$0.pid] == nil }) {
      findings.references.removeAll { processes[$0] == nil }
    }
    var round = 0
    while true {
      let references = findings.references
      let open = findings.sockets.filter { $0.id != 0 && references.range(of: $0.id).isEmpty }
      guard !open.isEmpty, let now = present(open) else { return }
      let gone = Set(open.lazy.map(\.id).filter { !now.contains($0) })
      if !gone.isEmpty { findings.sockets.removeAll { gone.contains($0.id) } }
      let wanted = open.filter { !gone.contains($0.id) && maySee($0) }.map(\.id)
      guard !wanted.isEmpty, round < rounds else { return }
      round += 1
      let scan = walk(Array(Set(wanted)).sorted())
      findings.uninspectable.merge(scan.uninspectable) { first, _ in first }
      var links = findings.references.links
      var found = false
      for link in scan.references.links {
        if findings.processes[link.pid] == nil, let record = details(link.pid) {
          findings.processes[link.pid] = record
        }
        if findings.processes[link.pid] != nil {
          links.append(link)
          found = true
        }
      }
      findings.references = SocketHolders(links: links)
      // A walk that found no holder at all will not find one by walking again at once:
      // what is left is read once more and kept.
      if !found { round = rounds }
    }
  }

  /// How long, in all, a socket left without a holder is given to close: an exiting process
  /// lets go of its descriptor table before its sockets are destroyed, and under load that
  /// moment lasts milliseconds.
  static let lingerPauses: [Duration] = [.milliseconds(2), .milliseconds(8), .milliseconds(30)]

  /// Reads the table again, after short pauses, for sockets still without a holder that no
  /// process portctl could not inspect explains (one of the socket's user): those that
  /// close meanwhile belonged to a process that was exiting, not to a hidden one.
  static func linger(
    _ findings: inout Findings, maySee: (SocketEntry) -> Bool, present: ([SocketEntry]) -> Set<UInt64>?,
    pause: (Duration) -> Void
  ) {
    let unreadableUsers = Set(findings.uninspectable.values.compactMap { $0 })
    for delay in lingerPauses {
      let references = findings.references
      let unexplained = findings.sockets.filter {
        $0.id != 0 && references.range(of: $0.id).isEmpty && maySee($0)
          && !($0.uid.map(unreadableUsers.contains) ?? false)
      }
      guard !unexplained.isEmpty else { return }
      pause(delay)
      guard let now = present(unexplained) else { return }
      let gone = Set(unexplained.lazy.map(\.id).filter { !now.contains($0) })
      if !gone.isEmpty { findings.sockets.removeAll { gone.contains($0.id) } }
    }
  }

  /// The query that reads `sockets` again: their ports only, when they are few.
  static func recheckQuery(for sockets: [SocketEntry], like query: SocketQuery) -> SocketQuery {
    guard sockets.count <= 64 else { return query }
    var specs: [PortSpec] = []
    for socket in sockets
    where !specs.contains(where: { $0.proto == socket.proto && $0.ports.lowerBound == socket.local.port }) {
      let port = socket.local.port
      specs.append(PortSpec(ports: port...port, proto: socket.proto, text: "\(port)"))
    }
    return SocketQuery(
      specs: specs, protocols: query.protocols, listenersOnly: query.listenersOnly, detail: query.detail)
  }

  /// `ip_local_port_range` (ephemeral) and `ip_local_reserved_ports`; Linux excludes nothing
  /// from explicit binds. The IPv4 settings govern IPv6 too.
  public func reservations(for proto: TransportProtocol) async -> PortReservations {
    let base = "\(reader.root)/sys/net/ipv4/"
    let text = { (name: String) in Syscalls.readFile(base + name).map { String(decoding: $0, as: UTF8.self) } }
    return PortReservations(
      proto: proto, reservedForExplicitBinds: text("ip_local_reserved_ports").map(Self.portList) ?? [],
      ephemeral: text("ip_local_port_range").flatMap(Self.portRange))
  }

  /// The parents of `pid` from `stat`, parent first.
  public func ancestry(of pid: PID) async -> [ProcessRecord] {
    var chain: [ProcessRecord] = []
    var current = reader.parent(of: pid) ?? 0
    while current > 0, chain.count < 128, !chain.contains(where: { $0.pid == current }) {
      guard let record = reader.process(current) else { break }
      chain.append(record)
      current = record.ppid
    }
    return chain
  }

  /// `pid`'s children from `/proc/PID/task/TID/children` (every thread's), in pid order.
  public func children(of pid: PID, limit: Int) async -> [ProcessRecord] {
    childPIDs(of: pid).prefix(max(0, limit)).compactMap { reader.process($0) }.filter { $0.ppid == pid }
  }

  /// The pids every thread of `pid` lists as its children, sorted.
  func childPIDs(of pid: PID) -> [PID] {
    var threads: [PID] = []
    if case .success(let taskFD) = Syscalls.open("\(reader.root)/\(pid)/task", directoryOnly: true) {
      Syscalls.forEachDirectoryEntry(taskFD) { name in
        if let tid = ProcfsReader.number(name) { threads.append(tid) }
      }
      Syscalls.close(taskFD)
    }
    var pids: [PID] = []
    for thread in threads {
      guard let text = Syscalls.readFile("\(reader.root)/\(pid)/task/\(thread)/children") else { continue }
      var fields: [ArraySlice<UInt8>] = []
      ProcNetParser.splitFields(text[...], into: &fields)
      pids += fields.compactMap { ProcNetParser.decimal($0).flatMap { PID(exactly: $0) } }
    }
    return pids.sorted()
  }

  /// The socket table alone, as ``snapshot(for:)`` reads it (netlink with the ports and
  /// states filtered in the kernel): no walk of `/proc`.
  public func socketsOnly(for query: SocketQuery) async throws(PortKitError) -> [SocketEntry]? {
    try await BlockingWork.run { () throws(PortKitError) -> [SocketEntry]? in
      var sockets = try tables.sockets(for: query)
      sockets.removeAll { !query.matches($0) }
      return sockets
    }
  }

  /// Reads one link of each holder (`/proc/PID/fd/FD` must still be `socket:[ID]`: the
  /// process lives, is not a zombie, and keeps that socket) and, unless no process was
  /// created since `previous` (the last pid in `/proc/loadavg` is the same), each holder's
  /// children: one read per holder on a quiet machine, where a snapshot walks every
  /// process's descriptors. A holder that closes one of several sockets it holds while
  /// another process keeps that socket is left to the next full read.
  public func holderCheck(_ references: SocketHolders, previous: HolderCheck?) async -> HolderCheck? {
    await BlockingWork.run { () -> HolderCheck? in
      let lastPID = Syscalls.readFile("\(reader.root)/loadavg").flatMap { bytes in
        String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }).last
          .flatMap { PID($0) }
      }
      let childrenKnown = lastPID != nil && previous?.lastPID == lastPID
      var children: [PID: [PID]] = childrenKnown ? previous?.children ?? [:] : [:]
      var checked = Set<PID>()
      for link in references.links where checked.insert(link.pid).inserted {
        guard Syscalls.readLink("\(reader.root)/\(link.pid)/fd/\(link.fd)") == "socket:[\(link.id)]" else {
          return nil
        }
        if !childrenKnown { children[link.pid] = childPIDs(of: link.pid) }
      }
      return HolderCheck(children: children, lastPID: lastPID)
    }
  }

  /// A small regular file as `pid` names it: a relative path is taken from its working
  /// directory (`/proc/PID/cwd`). Opened without blocking (a FIFO never stalls the read) and
  /// checked to be a regular file no larger than `limit`.
  public func smallFile(_ path: String, of pid: PID, limit: Int) async -> [UInt8]? {
    guard !path.isEmpty else { return nil }
    let full = path.hasPrefix("/") ? path : "\(reader.root)/\(pid)/cwd/\(path)"
    return Syscalls.readSmallRegularFile(full, limit: limit)
  }

  /// `pid`'s working directory, the target of `/proc/PID/cwd`.
  public func workingDirectory(of pid: PID) async -> String? {
    Syscalls.readLink("\(reader.root)/\(pid)/cwd")
  }

  /// `pid`'s environment from `/proc/PID/environ`, where readable.
  public func environment(of pid: PID) async -> [String: String]? {
    Syscalls.readFile("\(reader.root)/\(pid)/environ").map(ProcfsParsers.environment)
  }

  /// `net.ipv4.ip_unprivileged_port_start` (per network namespace) and the effective
  /// capabilities (`CapEff` in `/proc/self/status`, bit 10 is CAP_NET_BIND_SERVICE).
  public func bindPrivileges() async -> BindPrivileges {
    let start =
      Syscalls.readFile("\(reader.root)/sys/net/ipv4/ip_unprivileged_port_start")
      .flatMap { UInt16(String(decoding: $0, as: UTF8.self).trimmingSpaces()) } ?? 1024
    if Syscalls.effectiveUID == 0 {
      return BindPrivileges(unprivilegedPortStart: start, mayBindPrivileged: true, reason: "root")
    }
    let status = Syscalls.readFile("\(reader.root)/self/status") ?? []
    let capable = ProcfsParsers.effectiveCapabilities(status: status).map { $0 & (1 << 10) != 0 } ?? false
    return BindPrivileges(
      unprivilegedPortStart: start, mayBindPrivileged: capable, reason: capable ? "CAP_NET_BIND_SERVICE" : nil)
  }

  /// `32768\t60999` → 32768...60999.
  static func portRange(_ text: String) -> ClosedRange<UInt16>? {
    let numbers = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { UInt16($0) }
    guard numbers.count == 2, numbers[0] <= numbers[1] else { return nil }
    return numbers[0]...numbers[1]
  }

  /// `8080,9000-9010` → ranges.
  static func portList(_ text: String) -> [PortRange] {
    text.split(whereSeparator: { $0 == "," || $0 == "\n" }).compactMap { item in
      let bounds = item.split(separator: "-").compactMap { UInt16($0.trimmingSpaces()) }
      switch bounds.count {
      case 1: return PortRange(ports: bounds[0]...bounds[0])
      case 2 where bounds[0] <= bounds[1]: return PortRange(ports: bounds[0]...bounds[1])
      default: return nil
      }
    }
  }
}
#endif
