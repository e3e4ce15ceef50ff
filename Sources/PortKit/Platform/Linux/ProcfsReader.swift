#if os(Linux)
import Glibc

/// Reads sockets, their holders and process details from a procfs tree. The root is a
/// parameter so that tests can point it at a fixture tree.
public struct ProcfsReader: Sendable {
  /// The procfs root, `/proc` on a live system.
  public var root: String
  /// Maps a uid to a user name; the system's user database by default.
  public var userName: @Sendable (UInt32) -> String?

  /// The system's user database.
  public static let systemUserNames: @Sendable (UInt32) -> String? = { Syscalls.userName($0) }

  public init(root: String = "/proc", userName: @escaping @Sendable (UInt32) -> String? = ProcfsReader.systemUserNames)
  {
    self.root = root
    self.userName = userName
  }

  /// Reads `net/{tcp,tcp6,udp,udp6}` for the protocols asked. A missing table (IPv6
  /// disabled) is skipped; if none can be read, that is an error.
  public func sockets(protocols: Set<TransportProtocol>) throws(PortKitError) -> [SocketEntry] {
    var entries: [SocketEntry] = []
    var readAny = false
    for proto in TransportProtocol.allCases where protocols.contains(proto) {
      for family in AddressFamily.allCases {
        let name = "\(root)/net/\(proto.rawValue)\(family == .ipv6 ? "6" : "")"
        guard let bytes = Syscalls.readFile(name) else { continue }
        readAny = true
        entries += ProcNetParser.parse(bytes, proto: proto, family: family)
      }
    }
    if !readAny, !protocols.isEmpty {
      throw PortKitError(
        .socketTablesUnreadable,
        "Cannot read the socket tables in \(root)/net (is procfs mounted at \(root)?).")
    }
    return entries
  }

  /// The result of walking every process's descriptors.
  public struct ReferenceScan: Sendable {
    /// Socket inode → holders.
    public var references: [UInt64: [SocketReference]] = [:]
    /// Processes whose descriptors could not be read, with their uid when known.
    public var uninspectable: [PID: UInt32?] = [:]
  }

  /// Walks `PID/fd` of every process once and records which of them refer to a wanted
  /// socket inode. Processes that vanish mid-walk are skipped; unreadable ones recorded.
  public func references(to wanted: Set<UInt64>) -> ReferenceScan {
    var scan = ReferenceScan()
    guard !wanted.isEmpty, case .success(let rootFD) = Syscalls.open(root, directoryOnly: true) else { return scan }
    var pids: [PID] = []
    Syscalls.forEachEntry(ofDirectory: rootFD) { name in
      if let pid = Self.pid(name) { pids.append(pid) }
    }
    guard case .success(let procFD) = Syscalls.open(root, directoryOnly: true) else { return scan }
    defer { Syscalls.close(procFD) }
    let linkBuffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 64)
    defer { linkBuffer.deallocate() }
    for pid in pids {
      let fdDir = Syscalls.open("\(pid)/fd", relativeTo: procFD, directoryOnly: true)
      let fdDirFD: Int32
      switch fdDir {
      case .success(let descriptor): fdDirFD = descriptor
      case .failure(let error) where error == .permissionDenied:
        scan.uninspectable[pid] = Syscalls.ownerUID("\(pid)", relativeTo: procFD)
        continue
      case .failure:
        continue  // gone, or not a process directory
      }
      var found: [UInt64: [Int32]] = [:]
      var denied = false
      // readlinkat needs the directory descriptor, so duplicate it for the walk.
      let walkFD = dup(fdDirFD)
      if walkFD < 0 {
        Syscalls.close(fdDirFD)
        continue
      }
      Syscalls.forEachEntry(ofDirectory: walkFD) { name in
        guard let length = Syscalls.readLink(name, relativeTo: fdDirFD, into: linkBuffer) else {
          // The directory lists, but its links do not resolve: a process that may not be
          // inspected even by root without CAP_SYS_PTRACE.
          if errno == EACCES || errno == EPERM { denied = true }
          return
        }
        guard length < linkBuffer.count,
          let inode = ProcfsParsers.socketInode(linkText: UnsafeBufferPointer(rebasing: linkBuffer[0..<length])),
          wanted.contains(inode), let fd = Self.pid(name)
        else { return }
        found[inode, default: []].append(fd)
      }
      Syscalls.close(fdDirFD)
      if denied, found.isEmpty { scan.uninspectable[pid] = Syscalls.ownerUID("\(pid)", relativeTo: procFD) }
      for (inode, fds) in found {
        scan.references[inode, default: []].append(SocketReference(pid: pid, fds: fds.sorted()))
      }
    }
    return scan
  }

  /// Reads a process's details; `nil` when it is gone or its `stat` is unreadable or odd.
  public func process(_ pid: PID, bootTime: Double?, ticksPerSecond: Double) -> ProcessRecord? {
    guard case .success(let dirFD) = Syscalls.open("\(root)/\(pid)", directoryOnly: true) else { return nil }
    defer { Syscalls.close(dirFD) }
    guard let statBytes = Syscalls.readFile("stat", relativeTo: dirFD), let stat = ProcfsParsers.stat(statBytes) else {
      return nil
    }
    let uid =
      Syscalls.readFile("status", relativeTo: dirFD).flatMap { ProcfsParsers.effectiveUID(status: $0) }
      ?? Syscalls.ownerUID(".", relativeTo: dirFD)
    let commandLine = Syscalls.readFile("cmdline", relativeTo: dirFD).map(ProcfsParsers.commandLine) ?? []
    let startTime = bootTime.map { $0 + Double(stat.startTicks) / ticksPerSecond }
    return ProcessRecord(
      pid: pid, ppid: stat.ppid, uid: uid, user: uid.flatMap(userName), name: stat.name,
      commandLine: commandLine, executable: Syscalls.readLink("exe", relativeTo: dirFD),
      workingDirectory: Syscalls.readLink("cwd", relativeTo: dirFD), startTime: startTime,
      startTicks: stat.startTicks, isKernelThread: stat.isKernelThread,
      controlGroup: Syscalls.readFile("cgroup", relativeTo: dirFD).map { String(decoding: $0, as: UTF8.self) })
  }

  /// Boot time from `stat`, seconds since the epoch.
  public func bootTime() -> Double? {
    Syscalls.readFile("\(root)/stat").flatMap(ProcfsParsers.bootTime)
  }

  /// Parses a decimal directory entry name as a pid or descriptor number.
  static func pid(_ name: UnsafePointer<CChar>) -> PID? {
    var value: Int32 = 0
    var index = 0
    while name[index] != 0 {
      let byte = UInt8(bitPattern: name[index])
      guard byte >= 0x30, byte <= 0x39, index < 10 else { return nil }
      let (product, overflow) = value.multipliedReportingOverflow(by: 10)
      guard !overflow else { return nil }
      value = product &+ Int32(byte - 0x30)
      if value < 0 { return nil }
      index += 1
    }
    return index > 0 ? value : nil
  }
}

/// The Linux backend: sockets from procfs tables, holders from `/proc/*/fd`.
public struct LinuxSystemSource: SystemSource {
  public var reader: ProcfsReader

  public init(reader: ProcfsReader = ProcfsReader()) {
    self.reader = reader
  }

  public func snapshot(for query: SocketQuery) async throws(PortKitError) -> SystemSnapshot {
    let takenAt = Syscalls.now
    let sockets = try reader.sockets(protocols: query.wantedProtocols).filter(query.matches)
    let wanted = Set(sockets.lazy.map(\.id).filter { $0 != 0 })
    let scan = reader.references(to: wanted)
    let holderPIDs = Set(scan.references.values.joined().map(\.pid))
    let bootTime = reader.bootTime()
    let ticks = Syscalls.clockTicksPerSecond
    var processes: [PID: ProcessRecord] = [:]
    for pid in holderPIDs {
      if let record = reader.process(pid, bootTime: bootTime, ticksPerSecond: ticks) { processes[pid] = record }
    }
    // Parents of holders too: they show who started a holder and whether it may come back.
    for parent in Set(processes.values.map(\.ppid)) where parent > 0 && processes[parent] == nil {
      if let record = reader.process(parent, bootTime: bootTime, ticksPerSecond: ticks) { processes[parent] = record }
    }
    // A holder that exited between the walk and the details is dropped; a socket left with
    // no holder at all closed with it.
    var references = scan.references
    var closed = Set<UInt64>()
    for (inode, holders) in references {
      let alive = holders.filter { processes[$0.pid] != nil }
      if alive.isEmpty { closed.insert(inode) }
      references[inode] = alive.isEmpty ? nil : alive
    }
    let liveSockets = closed.isEmpty ? sockets : sockets.filter { !closed.contains($0.id) }
    var userNames: [UInt32: String] = [:]
    var hiddenUIDs = Set<UInt32>()
    for socket in liveSockets where socket.id != 0 && references[socket.id] == nil {
      guard let uid = socket.uid else { continue }
      hiddenUIDs.insert(uid)
      if userNames[uid] == nil, let name = reader.userName(uid) { userNames[uid] = name }
    }
    // Name the processes that could be a hidden owner: those of the socket's user that
    // could not be inspected (stat and cmdline stay readable), a few at most.
    let candidates =
      Syscalls.effectiveUID == 0
      ? scan.uninspectable.filter { $0.value.map(hiddenUIDs.contains) ?? false }.keys.sorted() : []
    for pid in candidates.prefix(HiddenOwner.candidateLimit) where processes[pid] == nil {
      if let record = reader.process(pid, bootTime: bootTime, ticksPerSecond: ticks) { processes[pid] = record }
    }
    return SystemSnapshot(
      sockets: liveSockets, references: references, processes: processes, uninspectable: scan.uninspectable,
      effectiveUID: Syscalls.effectiveUID, takenAt: takenAt, userNames: userNames)
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

  public func ancestry(of pid: PID) async -> [ProcessRecord] {
    let bootTime = reader.bootTime()
    let ticks = Syscalls.clockTicksPerSecond
    var chain: [ProcessRecord] = []
    var current = reader.process(pid, bootTime: bootTime, ticksPerSecond: ticks)?.ppid ?? 0
    while current > 0, chain.count < 128, !chain.contains(where: { $0.pid == current }) {
      guard let record = reader.process(current, bootTime: bootTime, ticksPerSecond: ticks) else { break }
      chain.append(record)
      current = record.ppid
    }
    return chain
  }

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
