#if os(Linux)
import CPortSys
import Glibc
import Synchronization
import SystemPackage

/// Reads sockets, their holders and process details from a procfs tree. The root is a
/// parameter so that tests can point it at a fixture tree.
public struct ProcfsReader: Sendable {
  /// The procfs root, `/proc` on a live system.
  public var root: String
  /// Maps a uid to a user name; the system's user database by default.
  public var userName: @Sendable (UInt32) -> String?

  /// What this reader (and every copy of it) looks up once: user names and the boot time.
  let memo = ProcfsMemo()

  /// The system's user database.
  public static let systemUserNames: @Sendable (UInt32) -> String? = { Syscalls.userName($0) }

  /// A reader of the procfs tree at `root`, naming uids with `userName`.
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
    public var references = SocketHolders()
    /// Processes whose descriptors could not be read, with their uid when known.
    public var uninspectable: [PID: UInt32?] = [:]
    /// Every pid walked, sorted.
    public var walked: [PID] = []
    /// A directory could not be opened for want of descriptors (EMFILE, ENFILE): what the
    /// walk did not read is unknown, not absent.
    public var descriptorsExhausted = false
  }

  /// Walks `PID/fd` of every process once and records which of them refer to a wanted
  /// socket inode: `getdents64` and `readlinkat` relative to open directories, into buffers
  /// each thread allocates once, the processes split across `threads` threads. Processes
  /// that vanish mid-walk are skipped; unreadable ones are recorded.
  /// With `threadsToo`, the descriptor tables of every thread are walked as well
  /// (`PID/task/TID/fd`): a thread that unshared its table (`unshare(CLONE_FILES)`), or a
  /// process whose main thread has exited, holds sockets its `PID/fd` does not show.
  public func references(to wanted: some Sequence<UInt64>, threads: Int = 1, threadsToo: Bool = false) -> ReferenceScan
  {
    var inodes = Array(wanted)
    inodes.sort()
    return references(toSorted: &inodes, threads: threads, threadsToo: threadsToo)
  }

  /// The same, for inodes already sorted: they are searched in place (half the memory of a
  /// hash set, which matters with tens of thousands of listeners), and released (`wanted`
  /// is left empty) before the matches are gathered.
  ///
  /// With `chase`, processes started during the walk are walked too, a few rounds at
  /// most: a holder that forks its successor and exits (a hot restart) would otherwise leave
  /// the walk with neither, the one it listed gone and the new one not listed.
  ///
  /// The processes in `known` (sorted: those an earlier walk read) have only their other
  /// threads' tables walked (with `threadsToo`), not their own again.
  func references(
    toSorted wanted: inout [UInt64], threads: Int, threadsToo: Bool = false, chase: Bool = false, known: [PID] = []
  ) -> ReferenceScan {
    guard !wanted.isEmpty else { return ReferenceScan() }
    let procFD: Int32
    switch Syscalls.open(root, directoryOnly: true) {
    case .success(let descriptor): procFD = descriptor
    case .failure(let error):
      var scan = ReferenceScan()
      scan.descriptorsExhausted = Self.isExhaustion(error)
      return scan
    }
    defer { Syscalls.close(procFD) }
    var pids: [PID] = []
    Syscalls.forEachDirectoryEntry(procFD) { name in
      if let pid = Self.number(name) { pids.append(pid) }
    }
    let workers = max(1, min(threads, pids.count / 64 + 1))
    let partial = UnsafeMutableBufferPointer<WalkResult>.allocate(capacity: workers)
    partial.initialize(repeating: WalkResult())
    defer { partial.deinitialize().deallocate() }
    let inodes = wanted
    wanted = []
    // kcmp compares live tasks only, never a fixture tree's.
    let live = root == "/proc"
    do {
      // Each worker writes only its own slot.
      nonisolated(unsafe) let slots = partial
      let all = pids
      let walk: @Sendable (Int) -> Void = { worker in
        slots[worker] = Self.walk(
          all, worker: worker, of: workers, procFD: procFD, wanted: inodes, threadsToo: threadsToo, live: live,
          known: known)
      }
      if workers == 1 {
        walk(0)
      } else {
        Syscalls.parallel(workers, walk)
      }
    }
    // One flat list, sorted once: that is the holders table.
    var links: [SocketHolders.Link] = []
    links.reserveCapacity(partial.reduce(0) { $0 + $1.matches.count })
    var scan = ReferenceScan()
    scan.walked = pids
    if chase {
      var seen = Set(pids)
      for _ in 0..<8 {
        var fresh: [PID] = []
        guard lseek(procFD, 0, SEEK_SET) == 0 else { break }
        Syscalls.forEachDirectoryEntry(procFD) { name in
          if let pid = Self.number(name), !seen.contains(pid) { fresh.append(pid) }
        }
        guard !fresh.isEmpty else { break }
        seen.formUnion(fresh)
        scan.walked += fresh
        let result = Self.walk(
          fresh, worker: 0, of: 1, procFD: procFD, wanted: inodes, threadsToo: threadsToo, live: live)
        links += result.matches
        scan.uninspectable.merge(result.uninspectable) { first, _ in first }
        scan.descriptorsExhausted = scan.descriptorsExhausted || result.descriptorsExhausted
      }
    }
    for index in partial.indices {
      links += partial[index].matches
      partial[index].matches = []
      scan.uninspectable.merge(partial[index].uninspectable) { first, _ in first }
      scan.descriptorsExhausted = scan.descriptorsExhausted || partial[index].descriptorsExhausted
    }
    links.sort()
    scan.references = SocketHolders(sortedLinks: links)
    scan.walked.sort()
    return scan
  }

  /// What one thread found.
  struct WalkResult {
    var matches: [SocketHolders.Link] = []
    var uninspectable: [PID: UInt32?] = [:]
    var descriptorsExhausted = false
  }

  static func isExhaustion(_ error: Errno) -> Bool {
    error == .tooManyOpenFiles || error == .tooManyOpenFilesInSystem
  }

  /// One thread's share: every `workers`-th pid from `worker` on.
  static func walk(
    _ pids: [PID], worker: Int, of workers: Int, procFD: Int32, wanted: [UInt64], threadsToo: Bool = false,
    live: Bool = false, known: [PID] = []
  ) -> WalkResult {
    var result = WalkResult()
    let linkBuffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 64)
    defer { linkBuffer.deallocate() }
    let entries = UnsafeMutableRawBufferPointer.allocate(byteCount: 32 << 10, alignment: 8)
    defer { entries.deallocate() }
    var path = [CChar](repeating: 0, count: 32)
    var tids: [PID] = []
    /// Records `pid`'s links to wanted sockets in the open descriptor directory `fdDirFD`:
    /// whether one was found, and whether some links were refused.
    func scan(_ fdDirFD: Int32, pid: PID) -> (found: Bool, denied: Bool) {
      var found = false
      var denied = false
      Syscalls.forEachDirectoryEntry(fdDirFD, buffer: entries) { name in
        guard let length = Syscalls.readLink(name, relativeTo: fdDirFD, into: linkBuffer) else {
          // The directory lists, but its links do not resolve: a process that may not be
          // inspected even by root without CAP_SYS_PTRACE.
          if errno == EACCES || errno == EPERM { denied = true }
          return
        }
        guard length < linkBuffer.count,
          let inode = ProcfsParsers.socketInode(linkText: UnsafeBufferPointer(rebasing: linkBuffer[0..<length])),
          Self.contains(wanted, inode), let fd = Self.number(name)
        else { return }
        found = true
        result.matches.append(SocketHolders.Link(id: inode, pid: pid, fd: fd))
      }
      return (found, denied)
    }
    var index = worker
    while index < pids.count {
      let pid = pids[index]
      index += workers
      var found = false
      var denied = false
      if !Self.contains(known, pid) {
        Syscalls.formatPath(pid, suffix: "/fd", into: &path)
        let fdDirFD: Int32
        switch Syscalls.open(path, relativeTo: procFD) {
        case .success(let descriptor): fdDirFD = descriptor
        case .failure(let error) where error == .permissionDenied:
          Syscalls.formatPath(pid, suffix: "", into: &path)
          result.uninspectable[pid] = Syscalls.ownerUID(path, relativeTo: procFD)
          continue
        case .failure(let error):
          // Gone, or not a process directory; or no descriptor left to read it with.
          if Self.isExhaustion(error) { result.descriptorsExhausted = true }
          continue
        }
        (found, denied) = scan(fdDirFD, pid: pid)
        Syscalls.close(fdDirFD)
      }
      if threadsToo {
        // The other threads' tables: the same as the process's unless a thread unshared
        // it, or the main thread (whose table `PID/fd` shows) has exited.
        Syscalls.formatPath(pid, suffix: "/task", into: &path)
        let task = Syscalls.open(path, relativeTo: procFD)
        if case .failure(let error) = task, Self.isExhaustion(error) { result.descriptorsExhausted = true }
        if case .success(let taskFD) = task {
          tids.removeAll(keepingCapacity: true)
          Syscalls.forEachDirectoryEntry(taskFD, buffer: entries) { name in
            if let tid = Self.number(name), tid != pid { tids.append(tid) }
          }
          var walked: [PID] = []
          for tid in tids {
            // Most threads share the process's table, already walked: kcmp says so in one
            // call, where walking it again would read every descriptor. Refused, it means
            // this process's threads may not be inspected (the same check guards their
            // descriptors): none of them is walked.
            if live {
              let same = cportsys_same_files(pid, tid)
              if same < 0, errno == EPERM || errno == EACCES { break }
              if same == 0 || walked.contains(where: { cportsys_same_files($0, tid) == 0 }) { continue }
            }
            walked.append(tid)
            Syscalls.formatPath(tid, suffix: "/fd", into: &path)
            let opened = Syscalls.open(path, relativeTo: taskFD)
            if case .failure(let error) = opened, Self.isExhaustion(error) { result.descriptorsExhausted = true }
            guard case .success(let threadFD) = opened else { continue }
            let thread = scan(threadFD, pid: pid)
            Syscalls.close(threadFD)
            found = found || thread.found
            denied = denied || thread.denied
          }
          Syscalls.close(taskFD)
        }
      }
      if denied, !found {
        Syscalls.formatPath(pid, suffix: "", into: &path)
        result.uninspectable[pid] = Syscalls.ownerUID(path, relativeTo: procFD)
      }
    }
    return result
  }

  /// Reads a process's details; `nil` when it is gone or its `stat` is unreadable or odd.
  /// `summary` skips what a listing does not show (executable, control group) and takes the
  /// uid from the directory's owner instead of `status`; it keeps the working directory,
  /// which a listing's PROJECT column needs (read here, on the threads that read details).
  func process(_ pid: PID, detail: SocketQuery.Detail = .full) -> ProcessRecord? {
    guard case .success(let dirFD) = Syscalls.open("\(root)/\(pid)", directoryOnly: true) else { return nil }
    defer { Syscalls.close(dirFD) }
    guard let statBytes = Syscalls.readFile("stat", relativeTo: dirFD), let stat = ProcfsParsers.stat(statBytes) else {
      return nil
    }
    let uid =
      detail == .full
      ? Syscalls.readFile("status", relativeTo: dirFD).flatMap { ProcfsParsers.effectiveUID(status: $0) }
        ?? Syscalls.ownerUID(".", relativeTo: dirFD)
      : Syscalls.ownerUID(".", relativeTo: dirFD)
    let commandLine = Syscalls.readFile("cmdline", relativeTo: dirFD).map(ProcfsParsers.commandLine) ?? []
    let startTime = bootTime().map { $0 + Double(stat.startTicks) / memo.ticksPerSecond }
    let user = uid.flatMap { memo.userName($0, lookup: userName) }
    guard detail == .full else {
      return ProcessRecord(
        pid: pid, ppid: stat.ppid, uid: uid, user: user, name: stat.name, commandLine: commandLine,
        workingDirectory: Syscalls.readLink("cwd", relativeTo: dirFD), startTime: startTime,
        startTicks: stat.startTicks, isKernelThread: stat.isKernelThread)
    }
    return ProcessRecord(
      pid: pid, ppid: stat.ppid, uid: uid, user: user, name: stat.name,
      commandLine: commandLine, executable: Syscalls.readLink("exe", relativeTo: dirFD),
      workingDirectory: Syscalls.readLink("cwd", relativeTo: dirFD), startTime: startTime,
      startTicks: stat.startTicks, isKernelThread: stat.isKernelThread,
      controlGroup: Syscalls.readFile("cgroup", relativeTo: dirFD).map { String(decoding: $0, as: UTF8.self) })
  }

  /// The parent of `pid` from its `stat` alone; `nil` when it is gone.
  func parent(of pid: PID) -> PID? {
    guard case .success(let dirFD) = Syscalls.open("\(root)/\(pid)", directoryOnly: true) else { return nil }
    defer { Syscalls.close(dirFD) }
    return Syscalls.readFile("stat", relativeTo: dirFD).flatMap(ProcfsParsers.stat)?.ppid
  }

  /// Boot time from `stat`, seconds since the epoch; read once per reader.
  public func bootTime() -> Double? {
    memo.bootTime { Syscalls.readFile("\(root)/stat").flatMap(ProcfsParsers.bootTime) }
  }

  /// Binary search in a sorted array.
  @inline(__always)
  static func contains<Value: Comparable>(_ sorted: [Value], _ value: Value) -> Bool {
    var low = 0
    var high = sorted.count
    while low < high {
      let middle = (low &+ high) >> 1
      if sorted[middle] < value { low = middle &+ 1 } else { high = middle }
    }
    return low < sorted.count && sorted[low] == value
  }

  /// Parses a decimal directory entry name as a pid or descriptor number.
  static func number(_ name: UnsafePointer<CChar>) -> PID? {
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

/// What a ``ProcfsReader`` looks up once and shares between its copies and threads: the boot
/// time, and user names by uid, each kept for a minute (so that a long `watch` sees a renamed
/// user, while a snapshot of a thousand holders looks up each user once).
final class ProcfsMemo: Sendable {
  private struct State {
    var bootTime: Double??
    var names: [UInt32: (name: String?, until: Double)] = [:]
  }
  private let state = Mutex(State())
  /// Clock ticks per second, for start times.
  let ticksPerSecond = Syscalls.clockTicksPerSecond

  /// How long a user name is kept, in seconds.
  static let nameLifetime = 60.0

  /// The boot time `read` gives, read the first time only.
  func bootTime(_ read: () -> Double?) -> Double? {
    if let known = state.withLock({ $0.bootTime }) { return known }
    let value = read()
    state.withLock { $0.bootTime = .some(value) }
    return value
  }

  /// `uid`'s name, from `lookup` when not known or known for longer than ``nameLifetime``.
  func userName(_ uid: UInt32, lookup: (UInt32) -> String?) -> String? {
    let now = Syscalls.monotonicSeconds
    if let known = state.withLock({ $0.names[uid] }), known.until > now { return known.name }
    let name = lookup(uid)
    state.withLock { $0.names[uid] = (name, now + Self.nameLifetime) }
    return name
  }
}

#endif
