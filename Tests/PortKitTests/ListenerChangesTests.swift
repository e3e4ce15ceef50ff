import Synchronization
import Testing

@testable import PortKit

private let loopback = IPAddress("127.0.0.1")!
private let anyV6 = IPAddress("::")!

private func key(_ port: UInt16, _ proto: TransportProtocol = .tcp, _ address: IPAddress = loopback)
  -> WatchedListener.Key
{
  WatchedListener.Key(proto: proto, local: Endpoint(address: address, port: port))
}

private func holder(_ pid: PID, started: Double = 100, name: String = "node") -> WatchedListener.Holder {
  WatchedListener.Holder(pid: pid, startTime: started, name: name)
}

@Suite struct ListenerChangesTests {
  @Test func startingStateIsPresentThenReady() {
    let a = WatchedListener(key: key(5000), holders: [holder(7)])
    let b = WatchedListener(key: key(3000), holders: [holder(8)])
    let events = ListenerChanges.start(with: [a, b], at: 12.5)
    #expect(events.map(\.kind) == [.present, .present, .ready])
    #expect(events.map { $0.listener?.key.local.port } == [3000, 5000, nil])
    #expect(events.allSatisfy { $0.time == 12.5 })
    #expect(ListenerChanges.start(with: [], at: 1).map(\.kind) == [.ready])
  }

  @Test func appearsAndCloses() {
    let a = WatchedListener(key: key(3000), holders: [holder(7)])
    let opened = ListenerChanges.changes(from: [], to: [a], at: 2)
    #expect(opened == [PortWatchEvent(kind: .listening, time: 2, listener: a)])
    let closed = ListenerChanges.changes(from: [a], to: [], at: 3)
    // A close carries the holders last seen.
    #expect(closed == [PortWatchEvent(kind: .closed, time: 3, listener: a)])
    #expect(ListenerChanges.changes(from: [a], to: [a], at: 4).isEmpty)
  }

  @Test func anotherHolderOnTheSameAddressIsAChange() {
    let before = WatchedListener(key: key(3000), holders: [holder(7)])
    let after = WatchedListener(key: key(3000), holders: [holder(9)])
    #expect(
      ListenerChanges.changes(from: [before], to: [after], at: 5) == [
        PortWatchEvent(kind: .changed, time: 5, listener: after, previous: before)
      ])
  }

  @Test func aReusedPidIsAnotherHolder() {
    // Same pid, later start time: the old process exited and the pid went to a new one.
    let before = WatchedListener(key: key(3000), holders: [holder(7, started: 100)])
    let after = WatchedListener(key: key(3000), holders: [holder(7, started: 160)])
    #expect(ListenerChanges.changes(from: [before], to: [after], at: 5).map(\.kind) == [.changed])
  }

  @Test func detailsThatChangeWhileTheHoldersStayAreNoChange() {
    // A process that retitles itself, or opens a second SO_REUSEPORT socket on the address.
    let before = WatchedListener(key: key(3000), holders: [holder(7, name: "node")], sockets: 1)
    let after = WatchedListener(
      key: key(3000), holders: [WatchedListener.Holder(pid: 7, startTime: 100, name: "next-server")], sockets: 2)
    #expect(ListenerChanges.changes(from: [before], to: [after], at: 5).isEmpty)
  }

  @Test func addedOrLostHoldersAndHiddenOwnersAreChanges() {
    let one = WatchedListener(key: key(3000), holders: [holder(7)])
    let two = WatchedListener(key: key(3000), holders: [holder(7), holder(8)])
    #expect(ListenerChanges.changes(from: [one], to: [two], at: 1).map(\.kind) == [.changed])
    #expect(ListenerChanges.changes(from: [two], to: [one], at: 1).map(\.kind) == [.changed])
    let hidden = WatchedListener(
      key: key(3000), holders: [], hidden: WatchedListener.HiddenHolder(uid: 0, user: "root"))
    let otherHidden = WatchedListener(
      key: key(3000), holders: [], hidden: WatchedListener.HiddenHolder(uid: 1000, user: "alice"))
    #expect(ListenerChanges.changes(from: [one], to: [hidden], at: 1).map(\.kind) == [.changed])
    #expect(ListenerChanges.changes(from: [hidden], to: [otherHidden], at: 1).map(\.kind) == [.changed])
    #expect(ListenerChanges.changes(from: [hidden], to: [hidden], at: 1).isEmpty)
  }

  @Test func keysAreProtocolAndEndpoint() {
    // Same port: TCP and UDP, 127.0.0.1 and [::] are four listeners.
    let listeners = [
      WatchedListener(key: key(53, .tcp), holders: [holder(1)]),
      WatchedListener(key: key(53, .udp), holders: [holder(1)]),
      WatchedListener(key: key(53, .tcp, anyV6), holders: [holder(1)]),
      WatchedListener(key: key(53, .udp, anyV6), holders: [holder(1)]),
    ]
    let events = ListenerChanges.changes(from: [], to: listeners, at: 1)
    #expect(events.count == 4)
    #expect(Set(events.compactMap { $0.listener?.key }).count == 4)
    let changed = ListenerChanges.changes(
      from: listeners, to: [WatchedListener(key: key(53, .udp), holders: [holder(2)])], at: 2)
    // Port, then protocol, then address: tcp 127.0.0.1, tcp [::], udp 127.0.0.1, udp [::].
    #expect(changed.map(\.kind) == [.closed, .closed, .changed, .closed])
    #expect(changed[2].listener?.key == key(53, .udp))
  }

  @Test func eventsComeInPortOrder() {
    let before = [
      WatchedListener(key: key(9000), holders: [holder(1)]), WatchedListener(key: key(80), holders: [holder(2)]),
    ]
    let after = [
      WatchedListener(key: key(443), holders: [holder(3)]), WatchedListener(key: key(80), holders: [holder(4)]),
    ]
    let events = ListenerChanges.changes(from: before, to: after, at: 1)
    #expect(events.map(\.kind) == [.changed, .listening, .closed])
    #expect(events.map { $0.listener?.key.local.port } == [80, 443, 9000])
  }

  @Test func listenersFromASnapshotMergeReusePortSockets() {
    // Two SO_REUSEPORT sockets on one address (pids 10 and 11), a hidden one, a kernel one,
    // and a TIME_WAIT socket that is no listener.
    let sockets = [
      SocketEntry(proto: .tcp, local: Endpoint(address: loopback, port: 3000), state: .listen, uid: 0, id: 1),
      SocketEntry(proto: .tcp, local: Endpoint(address: loopback, port: 3000), state: .listen, uid: 0, id: 2),
      SocketEntry(proto: .tcp, local: Endpoint(address: loopback, port: 4000), state: .listen, uid: 33, id: 3),
      SocketEntry(proto: .tcp, local: Endpoint(address: loopback, port: 2049), state: .listen, uid: 0, id: 0),
      SocketEntry(
        proto: .tcp, local: Endpoint(address: loopback, port: 5000),
        remote: Endpoint(address: loopback, port: 40000), state: .timeWait, id: 0),
    ]
    let processes: [PID: ProcessRecord] = [
      10: ProcessRecord(pid: 10, ppid: 1, uid: 0, user: "root", name: "a", startTime: 5),
      11: ProcessRecord(pid: 11, ppid: 1, uid: 0, user: "root", name: "b", startTime: 6),
    ]
    let snapshot = SystemSnapshot(
      sockets: sockets,
      references: SocketHolders(links: [.init(id: 2, pid: 11, fd: 3), .init(id: 1, pid: 10, fd: 4)]),
      processes: processes, effectiveUID: 1000, takenAt: 9, userNames: [33: "www-data"])
    let query = SocketQuery(specs: nil, protocols: [.tcp], listenersOnly: false)
    let listeners = ListenerChanges.listeners(in: snapshot, query: query)
    #expect(listeners.map(\.key.local.port) == [2049, 3000, 4000])
    #expect(listeners[0].kernel && listeners[0].holders.isEmpty)
    #expect(listeners[1].sockets == 2)
    #expect(listeners[1].holders.map(\.pid) == [10, 11])
    #expect(listeners[1].holders.map(\.startTime) == [5, 6])
    #expect(listeners[2].hidden == WatchedListener.HiddenHolder(uid: 33, user: "www-data"))
  }
}

/// A socket source that plays back a script of snapshots, one per read, then fails.
final class PlaybackSource: SystemSource, Sendable {
  private let script: Mutex<[Result<[SocketEntry], PortKitError>]>
  private let reads = Atomic(0)
  let queries = Mutex<[SocketQuery]>([])

  init(_ script: [Result<[SocketEntry], PortKitError>]) {
    self.script = Mutex(script)
  }

  var readCount: Int { reads.load(ordering: .relaxed) }

  func snapshot(for query: SocketQuery) async throws(PortKitError) -> SystemSnapshot {
    queries.withLock { $0.append(query) }
    let turn = reads.add(1, ordering: .relaxed).oldValue
    let next = script.withLock { $0.isEmpty ? nil : $0.removeFirst() }
    guard let next else { throw PortKitError(.socketTablesUnreadable, "The script has ended.") }
    let sockets = try next.get()
    var references = SocketHolders()
    var processes: [PID: ProcessRecord] = [:]
    var links: [SocketHolders.Link] = []
    for socket in sockets {
      // The holder's pid is the socket id in these scripts.
      let pid = PID(socket.id)
      links.append(.init(id: socket.id, pid: pid, fd: 3))
      processes[pid] = ProcessRecord(pid: pid, ppid: 1, name: "p\(pid)", startTime: 1)
    }
    references = SocketHolders(links: links)
    return SystemSnapshot(
      sockets: sockets.filter(query.matches), references: references, processes: processes, effectiveUID: 0,
      takenAt: Double(turn))
  }
}

func listeningSocket(port: UInt16, pid: UInt64) -> SocketEntry {
  SocketEntry(proto: .tcp, local: Endpoint(address: loopback, port: port), state: .listen, id: pid)
}

func watchSystem(_ source: any SystemSource) -> System {
  System(
    backend: .procfs, source: source, control: nil, binder: nil, runner: SubprocessRunner(),
    host: HostFacts(effectiveUID: 0, now: { 0 }))
}

@Suite struct PortWatchingTests {
  @Test func pollsTurnIntoEventsInOrder() async throws {
    let source = PlaybackSource([
      .success([listeningSocket(port: 3000, pid: 7)]),
      .success([listeningSocket(port: 3000, pid: 7)]),
      .success([listeningSocket(port: 3000, pid: 7), listeningSocket(port: 4000, pid: 8)]),
      .success([listeningSocket(port: 3000, pid: 9)]),
      .success([]),
    ])
    let specs = try PortSpec.parseList("3000,4000")
    var seen: [String] = []
    do {
      for try await event in PortWatching(system: watchSystem(source)).events(
        for: specs, protocols: [.tcp], interval: .milliseconds(10))
      {
        let holders = event.listener?.holders.map { "\($0.pid)" }.joined(separator: "+") ?? ""
        let was = event.previous.map { " was " + $0.holders.map { "\($0.pid)" }.joined(separator: "+") } ?? ""
        seen.append("\(Int(event.time)) \(event.kind.rawValue) \(event.listener?.key.local.port ?? 0) \(holders)\(was)")
      }
      Issue.record("the sequence ended without the read error")
    } catch {
      // The sixth read fails: the sequence ends with that error, not with "closed" events.
      #expect(error.code == .socketTablesUnreadable)
    }
    #expect(
      seen == [
        "0 present 3000 7", "0 ready 0 ", "2 listening 4000 8", "3 changed 3000 9 was 7", "3 closed 4000 8",
        "4 closed 3000 9",
      ])
    // Every poll asks for listeners of the watched ports only, with summary details.
    let queries = source.queries.withLock { $0 }
    #expect(queries.count == 6)
    #expect(queries.allSatisfy { $0.specs == specs && $0.listenersOnly && $0.detail == .summary })
    #expect(queries.allSatisfy { $0.portRanges(for: .tcp) == [3000...3000, 4000...4000] })
  }

  @Test func aFailedFirstReadIsAnErrorNotAnEmptyState() async throws {
    let source = PlaybackSource([.failure(PortKitError(.permissionDenied, "Denied."))])
    var iterator = PortWatching(system: watchSystem(source)).events(interval: .milliseconds(10)).makeAsyncIterator()
    await #expect(throws: PortKitError.self) { _ = try await iterator.next() }
    // Ended: no further poll.
    #expect(try await iterator.next() == nil)
    #expect(source.readCount == 1)
  }

  @Test func cancellationEndsTheSequenceCleanly() async throws {
    // A listener that never changes: only the cancellation ends this watch.
    let source = PlaybackSource(Array(repeating: .success([listeningSocket(port: 3000, pid: 7)]), count: 100_000))
    // An hour between polls: a full run's blocking tests can hold the cooperative threads for
    // tens of seconds, and no second poll may come before the cancellation does.
    let events = PortWatching(system: watchSystem(source)).events(interval: .seconds(3600))
    let task = Task { () async throws -> [PortWatchEvent.Kind] in
      var kinds: [PortWatchEvent.Kind] = []
      for try await event in events { kinds.append(event.kind) }
      return kinds
    }
    while source.readCount < 1 { try await Task.sleep(for: .milliseconds(5)) }
    try await Task.sleep(for: .milliseconds(50))
    task.cancel()
    // The hour's sleep is cut short: the sequence ends (no error) with the starting state only.
    #expect(try await task.value == [.present, .ready])
    #expect(source.readCount == 1)
  }
}

/// A source with a cheap read: the table alone and a holder check, both scripted, and a
/// count of the full snapshots taken.
final class CheapReadSource: SystemSource, Sendable {
  /// The sockets every read sees; the holder check's answer.
  let state: Mutex<(sockets: [SocketEntry], check: HolderCheck?)>
  private let snapshots = Atomic(0)
  private let cheapReads = Atomic(0)

  init(sockets: [SocketEntry], check: HolderCheck?) {
    state = Mutex((sockets, check))
  }

  var snapshotCount: Int { snapshots.load(ordering: .relaxed) }
  var cheapReadCount: Int { cheapReads.load(ordering: .relaxed) }

  func snapshot(for query: SocketQuery) async throws(PortKitError) -> SystemSnapshot {
    snapshots.add(1, ordering: .relaxed)
    let sockets = state.withLock { $0.sockets }
    let links = sockets.map { SocketHolders.Link(id: $0.id, pid: PID($0.id), fd: 3) }
    var processes: [PID: ProcessRecord] = [:]
    for link in links { processes[link.pid] = ProcessRecord(pid: link.pid, ppid: 1, name: "p", startTime: 1) }
    return SystemSnapshot(
      sockets: sockets, references: SocketHolders(links: links), processes: processes, effectiveUID: 0, takenAt: 0)
  }

  func socketsOnly(for query: SocketQuery) async throws(PortKitError) -> [SocketEntry]? {
    cheapReads.add(1, ordering: .relaxed)
    return state.withLock { $0.sockets }
  }

  func holderCheck(_ references: SocketHolders, previous: HolderCheck?) async -> HolderCheck? {
    state.withLock { $0.check }
  }
}

@Suite struct WatchCheapPollTests {
  /// Iterates `events` on a task of its own until cancelled; what it saw.
  func watch(_ source: CheapReadSource, while body: () async throws -> Void) async throws -> [PortWatchEvent.Kind] {
    // No full read on a timer: only a change the cheap poll sees takes a snapshot.
    let events = PortWatching(system: watchSystem(source)).events(
      interval: .milliseconds(5), fullReadEvery: .seconds(3600))
    let task = Task { () async throws -> [PortWatchEvent.Kind] in
      var kinds: [PortWatchEvent.Kind] = []
      for try await event in events { kinds.append(event.kind) }
      return kinds
    }
    try await body()
    task.cancel()
    return try await task.value
  }

  /// Waits for `condition`, bounded by 300 s: blocking end-to-end tests in the same process
  /// can hold both cooperative threads for tens of seconds, and the polls wait with them.
  func waitFor(_ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(300)
    while !condition(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(2)) }
    #expect(condition())
  }

  @Test func unchangedTableAndHoldersTakeNoSnapshot() async throws {
    let source = CheapReadSource(sockets: [listeningSocket(port: 3000, pid: 7)], check: HolderCheck(children: [7: []]))
    let kinds = try await watch(source) {
      try await waitFor { source.cheapReadCount >= 20 }
    }
    // The first poll's snapshot only: nineteen polls and more read the table alone.
    #expect(source.snapshotCount == 1)
    #expect(source.cheapReadCount >= 19)
    #expect(kinds == [.present, .ready])
  }

  @Test func aForkOrALostLinkTakesASnapshot() async throws {
    let source = CheapReadSource(sockets: [listeningSocket(port: 3000, pid: 7)], check: HolderCheck(children: [7: []]))
    _ = try await watch(source) {
      try await waitFor { source.cheapReadCount >= 3 }
      // The holder forks a child (which shares its sockets): another snapshot.
      source.state.withLock { $0.check = HolderCheck(children: [7: [8]]) }
      try await waitFor { source.snapshotCount >= 2 }
      let settled = source.snapshotCount
      try await waitFor { source.cheapReadCount >= 10 }
      // A link that no longer stands (nil): a snapshot at every poll until it does.
      source.state.withLock { $0.check = nil }
      try await waitFor { source.snapshotCount >= settled + 3 }
    }
  }

  @Test func anotherSocketOnTheSameAddressTakesASnapshot() async throws {
    // A respawn: the same address, a new socket (id 9, held by pid 9).
    let source = CheapReadSource(sockets: [listeningSocket(port: 3000, pid: 7)], check: HolderCheck(children: [7: []]))
    let kinds = try await watch(source) {
      try await waitFor { source.cheapReadCount >= 3 }
      source.state.withLock { $0.sockets = [listeningSocket(port: 3000, pid: 9)] }
      try await waitFor { source.snapshotCount >= 2 }
      try await waitFor { source.cheapReadCount >= 8 }
    }
    #expect(kinds == [.present, .ready, .changed])
  }
}
