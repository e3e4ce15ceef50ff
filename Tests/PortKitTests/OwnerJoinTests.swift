import Foundation
import Testing

@testable import PortKit

#if os(Linux)
/// A procfs tree in a temporary directory, built the way the kernel lays it out.
struct FixtureProcfs {
  let root: URL

  init() throws {
    root = FileManager.default.temporaryDirectory.appendingPathComponent("procfs-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: root.appendingPathComponent("net"), withIntermediateDirectories: true)
  }

  func write(_ path: String, _ text: String) throws {
    let url = root.appendingPathComponent(path)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(text.utf8).write(to: url)
  }

  func link(_ path: String, to target: String) throws {
    let url = root.appendingPathComponent(path)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: url.path, withDestinationPath: target)
  }

  /// A process directory with stat, status, cmdline, exe, cwd and descriptors.
  func process(
    _ pid: PID, ppid: PID, name: String, uid: UInt32, commandLine: [String], startTicks: UInt64,
    fds: [Int32: String]
  ) throws {
    try write(
      "\(pid)/stat",
      "\(pid) (\(name)) S \(ppid) \(pid) \(pid) 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 \(startTicks) 0 0 18446744073709551615\n"
    )
    try write("\(pid)/status", "Name:\t\(name)\nUid:\t\(uid)\t\(uid)\t\(uid)\t\(uid)\n")
    try write("\(pid)/cmdline", commandLine.map { $0 + "\0" }.joined())
    try link("\(pid)/exe", to: "/usr/bin/\(name)")
    try link("\(pid)/cwd", to: "/srv/\(name)")
    try FileManager.default.createDirectory(
      at: root.appendingPathComponent("\(pid)/fd"), withIntermediateDirectories: true)
    for (fd, target) in fds { try link("\(pid)/fd/\(fd)", to: target) }
  }

  func remove() { try? FileManager.default.removeItem(at: root) }
}

@Suite struct OwnerJoinTests {
  static let names: @Sendable (UInt32) -> String? = { [0: "root", 1000: "alice"][$0] }

  private func makeTree() throws -> FixtureProcfs {
    let tree = try FixtureProcfs()
    let header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    try tree.write(
      "net/tcp",
      header
        + "   0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 5001 1 0 100 0 0 10 0\n"
        + "   1: 0100007F:0BB8 0100007F:D2F2 06 00000000:00000000 03:00000D5A 00000000     0        0 0 3 0\n"
        + "   2: 00000000:0801 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 0 1 0\n"
        + "   3: this line is garbage\n")
    try tree.write(
      "net/tcp6",
      header
        + "   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5002 1 0\n"
    )
    try tree.write(
      "net/udp",
      header + "  10: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 5003 2 0 0\n"
    )
    // net/udp6 is missing, as on a kernel without IPv6: skipped, not an error.
    try tree.write("stat", "cpu  1 2 3 4\nbtime 1700000000\n")
    try tree.process(
      100, ppid: 1, name: "node", uid: 1000, commandLine: ["node", "server.js"], startTicks: 500,
      fds: [0: "/dev/null", 3: "socket:[5001]", 4: "socket:[5003]", 5: "pipe:[77]", 6: "socket:[9999]"])
    try tree.process(
      101, ppid: 100, name: "node", uid: 1000, commandLine: ["node", "worker.js"], startTicks: 600,
      fds: [3: "socket:[5001]"])
    // 102 vanished between the descriptor walk and the details: no stat file.
    try tree.link("102/fd/7", to: "socket:[5003]")
    // 103 has no fd directory; "self" and "abc" are not processes.
    try tree.write("103/stat", "103 (x) S 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")
    try tree.link("self", to: "100")
    try tree.write("abc/fd/1", "")
    return tree
  }

  @Test func joinsSocketsWithEveryHolderOnAFixtureTree() async throws {
    let tree = try makeTree()
    defer { tree.remove() }
    let source = LinuxSystemSource(reader: ProcfsReader(root: tree.root.path, userName: Self.names))
    let query = SocketQuery()
    let report = PortInspector.report(from: try await source.snapshot(for: query), query: query)

    #expect(report.sockets.map(\.socket.local.port) == [53, 2049, 3000, 8080])
    let web = try #require(report.sockets.first { $0.socket.local.port == 3000 })
    let holders = web.owner.holders
    #expect(holders.map(\.process.pid) == [100, 101])
    #expect(holders[0].role == .parent)
    #expect(holders[0].descendantHolders == 1)
    #expect(holders[1].role == .child)
    #expect(holders[1].sharesWith == 100)
    #expect(holders[0].fds == [3])
    let node = holders[0].process
    #expect(node.name == "node")
    #expect(node.ppid == 1)
    #expect(node.uid == 1000)
    #expect(node.user == "alice")
    #expect(node.commandLine == ["node", "server.js"])
    #expect(node.executable == "/usr/bin/node")
    #expect(node.workingDirectory == "/srv/node")
    #expect(node.startTime == 1_700_000_000 + 500 / Syscalls.clockTicksPerSecond)

    // UDP 53: the vanished process 102 is dropped, 100 remains.
    let dns = try #require(report.sockets.first { $0.socket.local.port == 53 })
    #expect(dns.owner.holders.map(\.process.pid) == [100])
    #expect(dns.owner.holders[0].fds == [4])

    // tcp6 8080 has an inode but no visible process: hidden, with its uid and user.
    let hidden = try #require(report.sockets.first { $0.socket.local.port == 8080 })
    guard case .hidden(let owner) = hidden.owner else {
      Issue.record("8080 should have a hidden owner, got \(hidden.owner)")
      return
    }
    #expect(owner.uid == 0)
    #expect(owner.user == "root")
    #expect(owner.reason == (Syscalls.effectiveUID == 0 ? .notVisible : .needsPrivilege))

    // A listener with inode 0 is held by the kernel (nfsd on 2049), never free.
    let nfs = try #require(report.sockets.first { $0.socket.local.port == 2049 })
    #expect(nfs.owner == .kernel)
    #expect(report.isHeld)
  }

  @Test func allStatesAddsTimeWaitWithNoOwner() async throws {
    let tree = try makeTree()
    defer { tree.remove() }
    let source = LinuxSystemSource(reader: ProcfsReader(root: tree.root.path, userName: Self.names))
    let query = SocketQuery(specs: try PortSpec.parseList("3000"), listenersOnly: false)
    let report = PortInspector.report(from: try await source.snapshot(for: query), query: query)
    #expect(report.sockets.map(\.socket.state) == [.listen, .timeWait])
    #expect(report.sockets[1].owner == SocketOwner.none)
    #expect(report.sockets[1].socket.timer?.kind == .timeWait)
  }

  @Test func linuxReservationsFromSysctls() async throws {
    let tree = try makeTree()
    defer { tree.remove() }
    try tree.write("sys/net/ipv4/ip_local_port_range", "32768\t60999\n")
    try tree.write("sys/net/ipv4/ip_local_reserved_ports", "8080,9000-9010,bogus,7-3\n")
    let source = LinuxSystemSource(reader: ProcfsReader(root: tree.root.path, userName: Self.names))
    let reservations = await source.reservations(for: .tcp)
    #expect(reservations.ephemeral == 32768...60999)
    #expect(reservations.reservedForExplicitBinds.map(\.ports) == [8080...8080, 9000...9010])
    #expect(reservations.excluded.isEmpty)
    let empty = LinuxSystemSource(reader: ProcfsReader(root: "/nonexistent", userName: Self.names))
    #expect(await empty.reservations(for: .udp) == PortReservations(proto: .udp))
  }

  @Test func missingProcfsIsAnErrorNotAnEmptyAnswer() async {
    let source = LinuxSystemSource(reader: ProcfsReader(root: "/nonexistent-procfs", userName: Self.names))
    await #expect(throws: PortKitError.self) { try await source.snapshot(for: SocketQuery()) }
  }
}
#endif

@Suite struct InspectorTests {
  private func listener(_ port: UInt16, id: UInt64, uid: UInt32 = 0, proto: TransportProtocol = .tcp) -> SocketEntry {
    SocketEntry(
      proto: proto, local: Endpoint(address: .anyV4, port: port), state: proto == .tcp ? .listen : .unconnected,
      uid: uid, id: id)
  }
  private func process(_ pid: PID, _ ppid: PID) -> ProcessRecord {
    ProcessRecord(pid: pid, ppid: ppid, uid: 1000, user: "alice", name: "nginx")
  }

  @Test func hiddenOwnerWithoutPrivilegeNamesTheUserAndSudo() {
    let snapshot = SystemSnapshot(
      sockets: [listener(80, id: 7, uid: 0)], uninspectable: [812: 0], effectiveUID: 1000, takenAt: 0,
      userNames: [0: "root"])
    let report = PortInspector.report(from: snapshot, query: SocketQuery())
    #expect(report.isHeld)
    #expect(report.hasHiddenOwners)
    #expect(report.uninspectableCount == 1)
    guard case .hidden(let owner) = report.sockets[0].owner else {
      Issue.record("expected hidden")
      return
    }
    #expect(owner.reason == .needsPrivilege)
    #expect(owner.advice == "owner hidden: held by root (uid 0); run with sudo to see the process")
  }

  @Test func rootWithUninspectableProcessesNamesThemAsCandidates() {
    let snapshot = SystemSnapshot(
      sockets: [listener(2024, id: 7, uid: 0)],
      processes: [
        1: ProcessRecord(pid: 1, ppid: 0, uid: 0, name: "init-agent", commandLine: ["/agent", "--addr", ":2024"])
      ],
      uninspectable: [1: 0, 300: 1000], effectiveUID: 0, takenAt: 0, userNames: [0: "root"])
    let report = PortInspector.report(from: snapshot, query: SocketQuery())
    guard case .hidden(let owner) = report.sockets[0].owner else {
      Issue.record("expected hidden")
      return
    }
    #expect(owner.reason == .notInspectable)
    #expect(owner.candidates.map(\.pid) == [1])
    #expect(owner.advice.contains("even as root portctl may not inspect process 1 (init-agent), which likely holds it"))
    // Without root, candidates would be every other user's process: none are named.
    var unprivileged = snapshot
    unprivileged.effectiveUID = 1000
    guard case .hidden(let hidden) = PortInspector.report(from: unprivileged, query: SocketQuery()).sockets[0].owner
    else {
      Issue.record("expected hidden without root too")
      return
    }
    #expect(hidden.reason == .needsPrivilege)
    #expect(hidden.candidates.isEmpty)
  }

  @Test func inheritanceThroughANonHolderIntermediateAndSiblingOrder() {
    // 10 (holder) → 20 (closed its copy) → 30 (holder); 10 → 11 (holder).
    let snapshot = SystemSnapshot(
      sockets: [listener(80, id: 7)],
      references: [
        7: [
          SocketReference(pid: 30, fds: [3]), SocketReference(pid: 11, fds: [3]),
          SocketReference(pid: 10, fds: [6, 3]),
        ]
      ],
      processes: [10: process(10, 1), 11: process(11, 10), 20: process(20, 10), 30: process(30, 20)],
      effectiveUID: 0, takenAt: 0)
    let holders = PortInspector.report(from: snapshot, query: SocketQuery()).sockets[0].owner.holders
    #expect(holders.map(\.process.pid) == [10, 11, 30])
    #expect(holders.map(\.role) == [.parent, .child, .child])
    #expect(holders.map(\.sharesWith) == [nil, 10, 10])
    #expect(holders[0].descendantHolders == 2)
    #expect(holders[0].fds == [3, 6])
  }

  @Test func separateReusePortSocketsAreEachSole() {
    let snapshot = SystemSnapshot(
      sockets: [listener(80, id: 7), listener(80, id: 8)],
      references: [7: [SocketReference(pid: 10, fds: [3])], 8: [SocketReference(pid: 11, fds: [3])]],
      processes: [10: process(10, 1), 11: process(11, 1)], effectiveUID: 0, takenAt: 0)
    let report = PortInspector.report(from: snapshot, query: SocketQuery())
    #expect(report.sockets.count == 2)
    #expect(report.sockets.flatMap(\.owner.holders).map(\.role) == [.sole, .sole])
  }

  @Test func queryFiltersProtocolStateAndDuplicates() throws {
    let closing = SocketEntry(proto: .tcp, local: Endpoint(address: .loopbackV4, port: 80), state: .closeWait, id: 9)
    let snapshot = SystemSnapshot(
      sockets: [listener(80, id: 7), listener(80, id: 7), listener(53, id: 8, proto: .udp), closing],
      effectiveUID: 0, takenAt: 0)
    let listeners = PortInspector.report(from: snapshot, query: SocketQuery(specs: try PortSpec.parseList("80")))
    #expect(listeners.sockets.map(\.socket.id) == [7])
    let all = PortInspector.report(
      from: snapshot, query: SocketQuery(specs: try PortSpec.parseList("1-100"), listenersOnly: false))
    #expect(all.sockets.map(\.socket.id) == [8, 7, 9])
    let udp = PortInspector.report(from: snapshot, query: SocketQuery(protocols: [.udp]))
    #expect(udp.sockets.map(\.socket.id) == [8])
  }

  @Test func holdersTableGroupsByPidAndFindsBySocket() {
    let holders = SocketHolders(links: [
      .init(id: 9, pid: 5, fd: 4), .init(id: 7, pid: 11, fd: 3), .init(id: 7, pid: 10, fd: 6),
      .init(id: 7, pid: 10, fd: 3), .init(id: 7, pid: 10, fd: 3), .init(id: 12, pid: 2, fd: -1),
    ])
    #expect(holders.links.count == 5)
    #expect(holders[7] == [SocketReference(pid: 10, fds: [3, 6]), SocketReference(pid: 11, fds: [3])])
    #expect(holders[9] == [SocketReference(pid: 5, fds: [4])])
    #expect(holders[12] == [SocketReference(pid: 2, fds: [])])
    #expect(holders[8] == nil && holders[0] == nil && holders[13] == nil)
    #expect(holders.pids == [2, 5, 10, 11] && holders.ids == [7, 9, 12])
    // The dictionary form says the same.
    let same: SocketHolders = [
      7: [SocketReference(pid: 11, fds: [3]), SocketReference(pid: 10, fds: [6, 3])],
      9: [SocketReference(pid: 5, fds: [4])], 12: [SocketReference(pid: 2, fds: [])],
    ]
    #expect(same == holders)
    var pruned = holders
    pruned.removeAll { $0 == 10 || $0 == 5 }
    #expect(pruned[7] == [SocketReference(pid: 11, fds: [3])] && pruned[9] == nil)
    #expect(SocketHolders().isEmpty && SocketHolders()[7] == nil)
  }

  @Test func listingOrdersDeduplicatesAndJoinsOnRead() {
    let closing = SocketEntry(proto: .tcp, local: Endpoint(address: .loopbackV4, port: 80), state: .closeWait, id: 0)
    let snapshot = SystemSnapshot(
      sockets: [
        listener(8080, id: 3), listener(80, id: 7), listener(53, id: 8, proto: .udp), listener(80, id: 7), closing,
        closing, listener(80, id: 2),
      ],
      references: [7: [SocketReference(pid: 10, fds: [3])], 3: [SocketReference(pid: 11, fds: [5])]],
      processes: [10: process(10, 1), 11: process(11, 1)], effectiveUID: 0, takenAt: 0)
    var listing = SocketListing(snapshot: snapshot, query: SocketQuery(listenersOnly: false))
    #expect(listing.map(\.socket.local.port) == [53, 80, 80, 80, 8080])
    #expect(listing.map(\.socket.id) == [8, 2, 7, 0, 3])
    #expect(listing[2].owner.holders.map(\.process.pid) == [10])
    #expect(listing[3].owner == .none && listing[0].owner.holdsPort)
    // The same order and owners as the report built from it.
    #expect(Array(listing) == PortInspector.report(from: snapshot, query: SocketQuery(listenersOnly: false)).sockets)
    listing.narrow { !$0.owner.holders.isEmpty }
    #expect(listing.map(\.socket.id) == [7, 3])
  }
}
