#if os(Linux)
import Foundation
import PortKit
import Testing

/// The fast paths against the plain ones, on real sockets of every kind.
@Suite(.serialized) struct KernelTablesTests {
  struct Row: Hashable, CustomStringConvertible {
    var proto: TransportProtocol
    var local: String
    var remote: String
    var state: SocketState
    var uid: UInt32?
    var id: UInt64
    var description: String {
      "\(proto) \(local) \(remote) \(state.rawValue) uid \(uid.map(String.init) ?? "-") #\(id)"
    }

    init(_ entry: SocketEntry) {
      proto = entry.proto
      local = entry.local.description
      remote = entry.remote?.description ?? "*"
      state = entry.state
      uid = entry.uid
      id = entry.id
    }
  }

  @Test func netlinkAnswersWhatProcNetSays() throws {
    let v4 = try Holder("tcp:127.0.0.1:0", "udp:127.0.0.1:0", "--self-connect")
    let v6only = try Holder("tcp:[::1]:0", "udp:[::]:0", "--v6only")
    let dual = try Holder("tcp:[::]:0")
    let timeWait = try Holder("tcp:127.0.0.1:0", "--time-wait")
    let ports = Set(v4.ports + v6only.ports + dual.ports + timeWait.ports)
    func ours(_ entries: [SocketEntry]) -> Set<Row> {
      Set(entries.filter { ports.contains($0.local.port) || ports.contains($0.remote?.port ?? 0) }.map(Row.init))
    }
    let netlink = try NetlinkSocketTables().sockets(protocols: [.tcp, .udp], listenersOnly: false)
    let procNet = try ProcNetSocketTables(reader: ProcfsReader()).sockets(
      protocols: [.tcp, .udp], listenersOnly: false)
    let fromNetlink = ours(netlink)
    #expect(fromNetlink == ours(procNet))
    // Every kind is there: listeners v4/v6/dual-stack, UDP, an established pair, TIME_WAIT.
    let states = Set(fromNetlink.map(\.state))
    #expect(states.isSuperset(of: [.listen, .unconnected, .established, .timeWait]))
    #expect(fromNetlink.count >= 8)
    // Netlink also knows IPV6_V6ONLY, which /proc/net does not show.
    let v6 = netlink.filter { $0.family == .ipv6 && ports.contains($0.local.port) && $0.isListener }
    #expect(v6.first { $0.local.port == dual.port }?.v6Only == false)
    #expect(v6.first { $0.local.port == v6only.ports[0] && $0.proto == .tcp }?.v6Only == true)
    #expect(v6.first { $0.local.port == v6only.ports[1] && $0.proto == .udp }?.v6Only == true)
    #expect(netlink.filter { $0.family == .ipv4 }.allSatisfy { $0.v6Only == nil })
    // TCP asked once per family (a kernel that refuses the one-dump request) says the same.
    let perFamily = try NetlinkSocketTables(tcpInOneDump: false).sockets(protocols: [.tcp, .udp], listenersOnly: false)
    #expect(ours(perFamily) == fromNetlink)
    #expect(
      Set(perFamily.filter { ports.contains($0.local.port) }.map { "\($0.local) \(String(describing: $0.v6Only))" })
        == Set(netlink.filter { ports.contains($0.local.port) }.map { "\($0.local) \(String(describing: $0.v6Only))" }))
    // Listeners only: the kernel filters by state.
    let listeners = try NetlinkSocketTables().sockets(protocols: [.tcp, .udp], listenersOnly: true)
    #expect(listeners.allSatisfy { $0.isListener })
    #expect(ours(listeners) == ours(procNet.filter(\.isListener)))
  }

  @Test func kernelPortFilterAnswersWhatAFullDumpNarrowedByPortSays() throws {
    let a = try Holder("tcp:127.0.0.1:0", "udp:[::]:0", "--self-connect")
    let b = try Holder("tcp:[::]:0", "udp:127.0.0.1:0")
    let c = try Holder("tcp:127.0.0.1:0", "--time-wait")
    let everything = try NetlinkSocketTables().sockets(protocols: [.tcp, .udp], listenersOnly: false)
    let low = min(a.ports[0], b.ports[0])
    let cases: [[PortSpec]] = [
      [PortSpec(ports: a.ports[0]...a.ports[0])],
      [PortSpec(ports: a.ports[1]...a.ports[1], proto: .udp), PortSpec(ports: b.port...b.port, proto: .tcp)],
      [PortSpec(ports: low...low), PortSpec(ports: b.ports[1]...b.ports[1]), PortSpec(ports: c.port...c.port)],
      [PortSpec(ports: 1...(min(a.ports[0], b.ports[0]))), PortSpec(ports: c.port...65535)],
    ]
    for specs in cases {
      for (listenersOnly, oneDump) in [(true, true), (false, true), (true, false), (false, false)] {
        let query = SocketQuery(specs: specs, listenersOnly: listenersOnly)
        let filtered = try NetlinkSocketTables(tcpInOneDump: oneDump).sockets(for: query)
        // The kernel sent nothing outside the asked ports and protocols...
        #expect(filtered.allSatisfy { socket in specs.contains { $0.matches(socket) } })
        // ...and left none of ours out (other tests open sockets meanwhile).
        let ours = Set(a.ports + b.ports + c.ports)
        func mine(_ list: [SocketEntry]) -> Set<Row> {
          Set(list.filter { ours.contains($0.local.port) && query.matches($0) }.map(Row.init))
        }
        #expect(mine(filtered) == mine(everything), "\(specs), one TCP dump: \(oneDump)")
        #expect(!mine(filtered).isEmpty)
      }
    }
    #expect(try NetlinkSocketTables().sockets(for: SocketQuery(specs: cases[0])).count >= 1)
  }

  @Test func parallelWalkFindsWhatASingleThreadFinds() throws {
    let forked = try Holder("tcp:127.0.0.1:0", "udp:[::]:0", "--fork", "3")
    let plain = try Holder("tcp:[::1]:0", "--self-connect")
    let tables = try NetlinkSocketTables().sockets(protocols: [.tcp, .udp], listenersOnly: false)
    let wanted = Set(tables.map(\.id).filter { $0 != 0 })
    let reader = ProcfsReader()
    let single = reader.references(to: wanted, threads: 1)
    let parallel = reader.references(to: wanted, threads: 4)
    // Other tests start and stop holders meanwhile: compare what our holders hold.
    let ours = Set([forked.pid, plain.pid] + forked.children)
    func mine(_ scan: ProcfsReader.ReferenceScan) -> [SocketHolders.Link] {
      scan.references.links.filter { ours.contains($0.pid) }
    }
    #expect(mine(single) == mine(parallel))
    #expect(mine(single).count >= 2 * 4 + 3)
    #expect(single.uninspectable.keys.sorted() == parallel.uninspectable.keys.sorted())
    // The inherited listener has all four holders, in pid order.
    let listener = try #require(tables.first { $0.local.port == forked.ports[0] && $0.isListener })
    let holders = parallel.references[listener.id]?.map(\.pid)
    #expect(holders == ([forked.pid] + forked.children).sorted())
    let connection = tables.filter { $0.state == .established && $0.local.port == plain.port }
    #expect(connection.count == 1, "the connection the listener accepted: \(connection)")
    #expect(connection.allSatisfy { parallel.references[$0.id]?.map(\.pid) == [plain.pid] })
  }

  @Test func sourceFallsBackToProcNetWhenNetlinkIsUnavailable() async throws {
    struct Refused: SocketTableReader {
      func sockets(for query: SocketQuery) throws(PortKitError) -> [SocketEntry] {
        throw PortKitError(.socketTablesUnreadable, "netlink refused (test)", errno: EACCES)
      }
    }
    let holder = try Holder("tcp:127.0.0.1:0", "--fork", "1")
    let reader = ProcfsReader()
    let fallback = LinuxSystemSource(
      reader: reader, tables: FallbackSocketTables([Refused(), ProcNetSocketTables(reader: reader)]))
    let query = SocketQuery(specs: [PortSpec(ports: holder.port...holder.port, text: "\(holder.port)")])
    let report = PortInspector.report(from: try await fallback.snapshot(for: query), query: query)
    #expect(report.sockets.flatMap(\.owner.holders).map(\.process.pid) == [holder.pid] + holder.children)
    let normal = PortInspector.report(from: try await LinuxSystemSource().snapshot(for: query), query: query)
    #expect(normal.sockets.map(\.socket.id) == report.sockets.map(\.socket.id))
    let nothing = LinuxSystemSource(reader: reader, tables: FallbackSocketTables([Refused(), Refused()]))
    await #expect(throws: PortKitError.self) { try await nothing.snapshot(for: query) }
  }
}
#endif
