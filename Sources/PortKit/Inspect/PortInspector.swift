/// Joins sockets with the processes that hold them. Pure: a function of a snapshot.
public enum PortInspector {
  /// Builds the report for `query` from `snapshot`, sorted by port, protocol and address.
  public static func report(from snapshot: SystemSnapshot, query: SocketQuery) -> PortReport {
    let reports = Array(SocketListing(snapshot: snapshot, query: query))
    var parents: [PID: ProcessRecord] = [:]
    for holder in reports.flatMap(\.owner.holders) {
      if let parent = snapshot.processes[holder.process.ppid] { parents[parent.pid] = parent }
    }
    return PortReport(
      sockets: reports, takenAt: snapshot.takenAt, uninspectableCount: snapshot.uninspectable.count,
      effectiveUID: snapshot.effectiveUID, parents: parents)
  }

  /// Equal in every key of ``socketOrder(_:_:)``.
  static func sameSortKey(_ a: SocketEntry, _ b: SocketEntry) -> Bool {
    !socketOrder(a, b) && !socketOrder(b, a)
  }

  static func socketOrder(_ a: SocketEntry, _ b: SocketEntry) -> Bool {
    if a.local.port != b.local.port { return a.local.port < b.local.port }
    if a.proto != b.proto { return a.proto < b.proto }
    if a.local.address != b.local.address { return a.local.address < b.local.address }
    if a.isListener != b.isListener { return a.isListener }
    if a.remote != b.remote {
      guard let left = a.remote else { return true }
      guard let right = b.remote else { return false }
      return left < right
    }
    return a.id < b.id
  }

  /// Who holds `socket`, whose links are at `range` in `snapshot.references.links` (see
  /// ``SocketHolders/range(of:)``).
  static func owner(of socket: SocketEntry, links range: Range<Int>, in snapshot: SystemSnapshot) -> SocketOwner {
    // Most sockets have one holding process: joined without building the general list.
    if let first = range.first.map({ snapshot.references.links[$0] }),
      snapshot.references.links[range.upperBound - 1].pid == first.pid,
      let process = snapshot.processes[first.pid]
    {
      let fds = snapshot.references.links[range].compactMap { $0.fd >= 0 ? $0.fd : nil }
      return .processes([HolderProcess(process: process, fds: fds)])
    }
    let references = snapshot.references.references(in: range)
    let visible = references.compactMap { reference -> (ProcessRecord, [Int32])? in
      guard let process = snapshot.processes[reference.pid] else { return nil }
      return (process, reference.fds)
    }
    if visible.count == 1 { return .processes([HolderProcess(process: visible[0].0, fds: visible[0].1)]) }
    if !visible.isEmpty { return .processes(holders(visible, processes: snapshot.processes)) }
    if socket.id == 0 { return socket.isListener ? .kernel : .none }
    // As root, the few processes that refused inspection are the likely owners; without
    // root every other user's process does, so naming them would say nothing.
    let candidates = snapshot.uninspectable.filter {
      snapshot.effectiveUID == 0 && socket.uid != nil && $0.value == socket.uid
    }.keys.sorted()
      .prefix(HiddenOwner.candidateLimit).map {
        snapshot.processes[$0] ?? ProcessRecord(pid: $0, ppid: 0, uid: socket.uid, name: "?")
      }
    let reason: HiddenOwner.Reason =
      snapshot.effectiveUID != 0 ? .needsPrivilege : (candidates.isEmpty ? .notVisible : .notInspectable)
    let user = socket.uid.flatMap { snapshot.userNames[$0] }
    return .hidden(HiddenOwner(uid: socket.uid, user: user, reason: reason, candidates: Array(candidates)))
  }

  /// Processes that may hold `socket` besides its visible holders: when each of those is
  /// known to be of another user than the socket's, and processes of that user could not be
  /// inspected. (A holder whose uid could not be read, one exiting mid-read, says nothing.)
  static func unseenHolders(of socket: SocketEntry, owner: SocketOwner, in snapshot: SystemSnapshot) -> HiddenOwner? {
    guard case .processes(let holders) = owner, let uid = socket.uid, !snapshot.uninspectable.isEmpty,
      holders.allSatisfy({ $0.process.uid.map { $0 != uid } ?? false })
    else { return nil }
    let unseen = snapshot.uninspectable.filter { $0.value == uid }.keys.sorted()
    guard !unseen.isEmpty else { return nil }
    let root = snapshot.effectiveUID == 0
    let candidates =
      root
      ? unseen.prefix(HiddenOwner.candidateLimit).map {
        snapshot.processes[$0] ?? ProcessRecord(pid: $0, ppid: 0, uid: uid, name: "?")
      } : []
    return HiddenOwner(
      uid: uid, user: snapshot.userNames[uid], reason: root ? .notInspectable : .needsPrivilege,
      candidates: Array(candidates))
  }

  /// Marks which holder shares the socket with which ancestor holder, and orders parents first.
  static func holders(_ visible: [(ProcessRecord, [Int32])], processes: [PID: ProcessRecord]) -> [HolderProcess] {
    let holderPIDs = Set(visible.map { $0.0.pid })
    var result = visible.map { process, fds in
      HolderProcess(
        process: process, fds: fds.sorted(),
        sharesWith: nearestHolderAncestor(of: process, among: holderPIDs, processes: processes))
    }
    let descendantCounts = result.reduce(into: [PID: Int]()) { counts, holder in
      // Count every holder below each ancestor holder, not only direct children.
      var ancestor = holder.sharesWith
      var steps = 0
      while let current = ancestor, steps < holderPIDs.count {
        counts[current, default: 0] += 1
        ancestor = result.first { $0.process.pid == current }?.sharesWith
        steps += 1
      }
    }
    for index in result.indices {
      result[index].descendantHolders = descendantCounts[result[index].process.pid] ?? 0
    }
    func depth(_ holder: HolderProcess) -> Int {
      var depth = 0
      var ancestor = holder.sharesWith
      while let current = ancestor, depth < holderPIDs.count {
        depth += 1
        ancestor = result.first { $0.process.pid == current }?.sharesWith
      }
      return depth
    }
    return result.sorted { (depth($0), $0.process.pid) < (depth($1), $1.process.pid) }
  }

  static func nearestHolderAncestor(of process: ProcessRecord, among holders: Set<PID>, processes: [PID: ProcessRecord])
    -> PID?
  {
    var parent = process.ppid
    var steps = 0
    while parent > 0, steps < 64 {
      if holders.contains(parent), parent != process.pid { return parent }
      guard let record = processes[parent] else { return nil }
      parent = record.ppid
      steps += 1
    }
    return nil
  }
}
