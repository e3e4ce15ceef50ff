#if os(Linux)
import Foundation
import Testing

@testable import PortKit

/// Sockets left without a live holder after the descriptor walk are re-checked against the
/// table and looked for again, instead of being dropped (a hand-off) or shown with a hidden
/// owner (a socket that closed mid-scan).
@Suite struct SettleTests {
  typealias Findings = LinuxSystemSource.Findings

  private func listener(_ id: UInt64, port: UInt16 = 3000, uid: UInt32 = 1000) -> SocketEntry {
    SocketEntry(proto: .tcp, local: Endpoint(address: .loopbackV4, port: port), state: .listen, uid: uid, id: id)
  }

  private func record(_ pid: PID) -> ProcessRecord {
    ProcessRecord(pid: pid, ppid: 1, uid: 1000, name: "server")
  }

  private func scan(_ links: [SocketHolders.Link]) -> ProcfsReader.ReferenceScan {
    var scan = ProcfsReader.ReferenceScan()
    scan.references = SocketHolders(links: links)
    return scan
  }

  /// The walk found the old server; it exited before its details were read, and its
  /// successor holds the socket now: the second walk finds the successor.
  @Test func handOffKeepsTheSocketAndFindsTheSuccessor() {
    var findings = Findings(
      sockets: [listener(5001)], references: SocketHolders(links: [.init(id: 5001, pid: 100, fd: 3)]),
      processes: [:], uninspectable: [:])
    var walks: [[UInt64]] = []
    LinuxSystemSource.settle(
      &findings, rounds: 3, maySee: { _ in true }, present: { _ in [5001] },
      walk: { ids in
        walks.append(ids)
        return scan([.init(id: 5001, pid: 200, fd: 3)])
      },
      details: { $0 == 200 ? record(200) : nil })
    #expect(findings.sockets.map(\.id) == [5001])
    #expect(findings.references[5001]?.map(\.pid) == [200])
    #expect(findings.processes[200]?.pid == 200)
    #expect(findings.processes[100] == nil)
    #expect(walks == [[5001]])
  }

  /// An exiting process lets go of its descriptor table before its sockets close: a socket
  /// still in the table after the walks is read again after short pauses, and dropped once it
  /// closes, instead of being shown with a hidden owner.
  @Test func aSocketOfAnExitingProcessIsGivenAMomentToClose() {
    var findings = Findings(sockets: [listener(5001)], references: SocketHolders(), processes: [:], uninspectable: [:])
    var reads = 0
    var pauses: [Duration] = []
    LinuxSystemSource.settle(
      &findings, rounds: 3, maySee: { _ in true },
      present: { _ in
        reads += 1
        return reads <= 3 ? [5001] : []
      },
      walk: { _ in scan([]) }, details: { _ in nil }, pause: { pauses.append($0) })
    #expect(findings.sockets.isEmpty)
    #expect(pauses == Array(LinuxSystemSource.lingerPauses.prefix(2)))
  }

  /// A socket whose user has processes portctl could not inspect is explained by them: it is
  /// kept at once, without pauses (a hidden owner, not an exiting one).
  @Test func aSocketExplainedByAnUninspectableProcessIsNotWaitedFor() {
    var findings = Findings(
      sockets: [listener(5001, uid: 0)], references: SocketHolders(), processes: [:], uninspectable: [1: 0])
    var pauses: [Duration] = []
    LinuxSystemSource.settle(
      &findings, rounds: 3, maySee: { _ in true }, present: { _ in [5001] }, walk: { _ in scan([]) },
      details: { _ in nil }, pause: { pauses.append($0) })
    #expect(findings.sockets.map(\.id) == [5001])
    #expect(pauses.isEmpty)
  }

  /// A socket no walk explains and that is gone from the table closed mid-scan: dropped,
  /// never shown with a hidden owner, and not looked for.
  @Test func socketGoneFromTheTableIsDropped() {
    var findings = Findings(
      sockets: [listener(5001), listener(5002, port: 3001)],
      references: SocketHolders(links: [.init(id: 5002, pid: 300, fd: 4)]), processes: [300: record(300)],
      uninspectable: [:])
    var walked = false
    LinuxSystemSource.settle(
      &findings, rounds: 3, maySee: { _ in true }, present: { _ in [5002] },
      walk: { _ in
        walked = true
        return scan([])
      }, details: { _ in nil })
    #expect(findings.sockets.map(\.id) == [5002])
    #expect(!walked)
  }

  /// Still in the table but found by no walk: kept (its owner is hidden), after one walk
  /// that found nothing and a last look at the table.
  @Test func socketStillThereAfterEveryRoundStays() {
    var findings = Findings(sockets: [listener(5001)], references: SocketHolders(), processes: [:], uninspectable: [:])
    var reads = 0
    var walks = 0
    LinuxSystemSource.settle(
      &findings, rounds: 3, maySee: { _ in true },
      present: { _ in
        reads += 1
        return [5001]
      },
      walk: { _ in
        walks += 1
        return scan([])
      }, details: { _ in nil })
    #expect(findings.sockets.map(\.id) == [5001])
    #expect(walks == 1)
    // Two reads around the walk, then one after each lingering pause.
    #expect(reads == 2 + LinuxSystemSource.lingerPauses.count)
  }

  /// While walks keep finding holders (a chain of hand-offs), the rest is looked for again,
  /// `rounds` times at most, and the table is read after the last walk.
  @Test func walksGoOnWhileTheyFindHolders() {
    var findings = Findings(
      sockets: [listener(5001), listener(5002, port: 3001)], references: SocketHolders(), processes: [:],
      uninspectable: [:])
    var walks: [[UInt64]] = []
    var reads = 0
    LinuxSystemSource.settle(
      &findings, rounds: 3, maySee: { _ in true },
      present: { _ in
        reads += 1
        return [5001, 5002]
      },
      walk: { ids in
        walks.append(ids)
        // The first walk finds 5001's holder only; later ones find nothing new.
        return walks.count == 1 ? scan([.init(id: 5001, pid: 200, fd: 3)]) : scan([])
      },
      details: { record($0) })
    #expect(walks == [[5001, 5002], [5002]])
    #expect(reads == 3 + LinuxSystemSource.lingerPauses.count)
    #expect(findings.references[5001]?.map(\.pid) == [200])
    #expect(findings.sockets.map(\.id) == [5001, 5002])
  }

  /// An unreadable table never turns a socket into "free"; another user's socket (which
  /// this process could not see anyway) is checked for existence but not walked for.
  @Test func unreadableTableKeepsSocketsAndInvisibleOnesAreNotWalked() {
    var findings = Findings(sockets: [listener(5001)], references: SocketHolders(), processes: [:], uninspectable: [:])
    LinuxSystemSource.settle(
      &findings, rounds: 3, maySee: { _ in true }, present: { _ in nil }, walk: { _ in scan([]) },
      details: { _ in nil })
    #expect(findings.sockets.map(\.id) == [5001])

    var other = Findings(
      sockets: [listener(6001, uid: 0)], references: SocketHolders(), processes: [:], uninspectable: [:])
    var walked = false
    LinuxSystemSource.settle(
      &other, rounds: 3, maySee: { $0.uid == 1000 }, present: { _ in [6001] },
      walk: { _ in
        walked = true
        return scan([])
      }, details: { _ in nil })
    #expect(other.sockets.map(\.id) == [6001])
    #expect(!walked)
  }

  /// `PID/task/TID/fd` is walked when asked: a thread with its own table holds the socket.
  @Test func threadTablesAreWalkedWhenAsked() throws {
    let tree = try FixtureProcfs()
    defer { tree.remove() }
    try tree.process(
      400, ppid: 1, name: "server", uid: 1000, commandLine: ["server"], startTicks: 10, fds: [0: "/dev/null"])
    try tree.link("400/task/400/fd/0", to: "/dev/null")
    try tree.link("400/task/401/fd/5", to: "socket:[7001]")
    let reader = ProcfsReader(root: tree.root.path)
    #expect(reader.references(to: [7001]).references.isEmpty)
    let scan = reader.references(to: [7001], threadsToo: true)
    #expect(scan.references[7001] == [SocketReference(pid: 400, fds: [5])])
  }
}
#endif
