import Foundation
import Testing

@testable import PortKit

/// Reads a fixture file from the test bundle.
func fixture(_ name: String) throws -> [UInt8] {
  let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
  return Array(try Data(contentsOf: url))
}

@Suite struct ProcNetParserTests {
  // Captured from a real kernel: listeners on 127.0.0.1:43000, [::1]:43001 (v6only),
  // [::]:43002 (dual-stack), 0.0.0.0:43003; an established pair; TIME_WAIT, FIN_WAIT2 and
  // CLOSE_WAIT; a v4-mapped connection; bound and connected UDP.
  @Test func ipv4TcpTableDecodesAddressesPortsStatesAndInodes() throws {
    let entries = ProcNetParser.parse(try fixture("proc-net-tcp.txt"), proto: .tcp, family: .ipv4)
    #expect(entries.count == 8)
    let listener = try #require(entries.first { $0.local.port == 43000 && $0.state == .listen })
    #expect(listener.local.address == .loopbackV4)
    #expect(listener.remote == nil)
    #expect(listener.id == 16711)
    #expect(listener.uid == 0)
    #expect(listener.isListener)
    let wildcard = try #require(entries.first { $0.local.port == 43003 && $0.state == .listen })
    #expect(wildcard.local.address == .anyV4)
    let established = try #require(entries.first { $0.local.port == 43000 && $0.state == .established })
    #expect(established.remote == Endpoint(address: .loopbackV4, port: 0x98D6))
    let timeWait = try #require(entries.first { $0.state == .timeWait })
    #expect(timeWait.id == 0)
    #expect(timeWait.timer == SocketTimer(kind: .timeWait, remainingSeconds: Double(0x1752) / 100))
    #expect(entries.contains { $0.state == .finWait2 && $0.id == 0 })
    #expect(entries.contains { $0.state == .closeWait && $0.id == 16719 })
    #expect(!timeWait.isListener)
  }

  @Test func ipv6TableDecodesWordsInHostOrder() throws {
    let entries = ProcNetParser.parse(try fixture("proc-net-tcp6.txt"), proto: .tcp, family: .ipv6)
    let loopback = try #require(entries.first { $0.local.port == 43001 })
    #expect(loopback.local.address == .loopbackV6)
    #expect(loopback.local.description == "[::1]:43001")
    let dual = try #require(entries.first { $0.local.port == 43002 && $0.state == .listen })
    #expect(dual.local.address == .anyV6)
    let mapped = try #require(entries.first { $0.state == .established && $0.local.port == 43002 })
    #expect(mapped.local.address.description == "::ffff:127.0.0.1")
    #expect(mapped.local.address.ipv4Equivalent == .loopbackV4)
  }

  @Test func udpTablesMapUnconnectedToListeners() throws {
    let v4 = ProcNetParser.parse(try fixture("proc-net-udp.txt"), proto: .udp, family: .ipv4)
    #expect(v4.count == 2)
    let bound = try #require(v4.first { $0.local.port == 43053 })
    #expect(bound.state == .unconnected)
    #expect(bound.isListener)
    let connected = try #require(v4.first { $0.local.port == 43055 })
    #expect(connected.state == .established)
    #expect(!connected.isListener)
    #expect(connected.remote?.port == 43053)
    let v6 = ProcNetParser.parse(try fixture("proc-net-udp6.txt"), proto: .udp, family: .ipv6)
    #expect(v6.map(\.local) == [Endpoint(address: .anyV6, port: 43054)])
  }

  @Test(arguments: [
    ("01", SocketState.established), ("02", .synSent), ("03", .synReceived), ("04", .finWait1), ("05", .finWait2),
    ("06", .timeWait), ("07", .close), ("08", .closeWait), ("09", .lastAck), ("0A", .listen), ("0B", .closing),
    ("0C", .newSynReceived), ("0D", .unknown), ("FF", .unknown),
  ])
  func everyTcpState(code: String, state: SocketState) throws {
    let line = "   7: 0100007F:0BB8 0200000A:C350 \(code) 00000000:00000000 00:00000000 00000000  1000        0 777 1"
    let entry = try #require(ProcNetParser.parseLine(line, proto: .tcp, family: .ipv4))
    #expect(entry.state == state)
    #expect(entry.uid == 1000)
    #expect(entry.local == Endpoint(address: .loopbackV4, port: 3000))
    #expect(entry.remote?.address.description == "10.0.0.2")
    #expect(entry.remote?.port == 50000)
  }

  @Test(arguments: [
    "",
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
    "   0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0",  // truncated
    "   0: 0100007F:0BB8 00000000:0000",
    "   0: 0100007F 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12",
    "   0: 0100007G:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12",
    "   0: 0100007F:1FFFF 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12",
    "   0: 0100007F:0BB8 00000000:0000 A 00000000:00000000 00:00000000 00000000  1000        0 12",
    "   0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  -1        0 12",
    "   0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  99999999999 0 12",
    "   0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 x12",
    "0 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12",
    "   0: 00000000000000000000000001000000:0BB8 00000000:0000 0A 0:0 00:00000000 0 0 0 12",
  ])
  func malformedLinesAreSkipped(line: String) {
    #expect(ProcNetParser.parseLine(line, proto: .tcp, family: .ipv4) == nil)
  }

  @Test func truncatedTableKeepsTheCompleteLines() throws {
    var bytes = try fixture("proc-net-tcp.txt")
    bytes.removeLast(60)  // cut the last line short
    let entries = ProcNetParser.parse(bytes, proto: .tcp, family: .ipv4)
    #expect(entries.count == 7)
    #expect(ProcNetParser.parse([UInt8](), proto: .tcp, family: .ipv4).isEmpty)
    #expect(ProcNetParser.parse(Array("garbage\n\u{0}\u{1}\n".utf8), proto: .udp, family: .ipv6).isEmpty)
  }

  @Test func crlfAndTabsAreWhitespace() throws {
    let line = "\t0:\t0100007F:0BB8\t00000000:0000\t0A\t00000000:00000000\t00:00000000\t00000000\t5\t0\t42\r"
    let entry = try #require(ProcNetParser.parseLine(line, proto: .tcp, family: .ipv4))
    #expect(entry.id == 42)
    #expect(entry.uid == 5)
  }
}

@Suite struct ProcfsParserTests {
  @Test func statWithSpacesAndParenthesesInTheName() throws {
    let text =
      "4242 (my (weird) name) S 4200 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"
    let stat = try #require(ProcfsParsers.stat(Array(text.utf8)))
    #expect(stat.name == "my (weird) name")
    #expect(stat.state == "S")
    #expect(stat.ppid == 4200)
    #expect(stat.startTicks == 987654)
    #expect(!stat.isKernelThread)
  }

  @Test func kernelThreadFlag() throws {
    let text = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0 18446744073709551615"
    let stat = try #require(ProcfsParsers.stat(Array(text.utf8)))
    #expect(stat.isKernelThread)
    #expect(stat.ppid == 0)
  }

  @Test(arguments: [
    "", "4242", "4242 (name", "4242 name) S 1", "4242 (x) S 1 2 3",
    "4242 (x) S notanumber 1 1 0 -1 0 0 0 0 0 0 0 0 0 0 0 0 0 5",
  ])
  func oddStatIsRejected(text: String) {
    #expect(ProcfsParsers.stat(Array(text.utf8)) == nil)
  }

  @Test func statusEffectiveUID() {
    let status = "Name:\tnginx\nState:\tS (sleeping)\nUid:\t0\t33\t33\t33\nGid:\t0\t0\t0\t0\n"
    #expect(ProcfsParsers.effectiveUID(status: Array(status.utf8)) == 33)
    #expect(ProcfsParsers.effectiveUID(status: Array("Name:\tx\n".utf8)) == nil)
    #expect(ProcfsParsers.effectiveUID(status: Array("Uid:\tabc\n".utf8)) == nil)
    // Only a line that starts with the key counts; odd values are refused, not wrapped.
    #expect(ProcfsParsers.effectiveUID(status: Array("NotUid:\t1\t2\nUid:\t3\t4\t4\t4".utf8)) == 4)
    #expect(ProcfsParsers.effectiveUID(status: Array("Uid:\t0\n".utf8)) == nil)
    #expect(ProcfsParsers.effectiveUID(status: Array("Uid:\t0\t4294967296\n".utf8)) == nil)
    #expect(ProcfsParsers.effectiveUID(status: Array("Uid:\t0\t-1\n".utf8)) == nil)
    #expect(ProcfsParsers.effectiveUID(status: [0xFF, 0x0A, 0x55, 0x69, 0x64, 0x3A, 0x09, 0x35, 0x09, 0x37]) == 7)
  }

  @Test func commandLineSplitsAtNul() {
    #expect(
      ProcfsParsers.commandLine(Array("node\0server.js\0--port\03000\0".utf8)) == [
        "node", "server.js", "--port", "3000",
      ])
    #expect(
      ProcfsParsers.commandLine(Array("nginx: master process /usr/sbin/nginx".utf8)) == [
        "nginx: master process /usr/sbin/nginx"
      ])
    #expect(ProcfsParsers.commandLine([]) == [])
    #expect(ProcfsParsers.commandLine([0, 0]) == [])
    #expect(ProcfsParsers.commandLine(Array("a\0\0b\0".utf8)) == ["a", "", "b"])
  }

  @Test func bootTime() {
    #expect(ProcfsParsers.bootTime(Array("cpu 1 2 3\nbtime 1763800000\nprocesses 5\n".utf8)) == 1_763_800_000)
    #expect(ProcfsParsers.bootTime(Array("cpu 1 2 3\n".utf8)) == nil)
    #expect(ProcfsParsers.bootTime(Array("btime 17x\n".utf8)) == nil)
    #expect(ProcfsParsers.bootTime(Array("xbtime 5\nbtime 6".utf8)) == 6)
  }

  @Test(arguments: [
    ("socket:[12345]", UInt64?.some(12345)), ("socket:[0]", 0), ("socket:[]", nil), ("socket:[12a]", nil),
    ("pipe:[12345]", nil), ("/dev/null", nil), ("socket:[99999999999999999999999]", nil), ("socket:[1", nil),
    ("anon_inode:[eventfd]", nil),
  ])
  func socketLinkText(text: String, inode: UInt64?) {
    let bytes = Array(text.utf8)
    let parsed = bytes.withUnsafeBufferPointer { ProcfsParsers.socketInode(linkText: $0) }
    #expect(parsed == inode)
  }
}
