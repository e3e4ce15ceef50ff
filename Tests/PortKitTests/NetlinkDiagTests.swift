import Testing

@testable import PortKit

@Suite struct NetlinkDiagTests {
  /// A netlink message as the kernel lays it out: nlmsghdr, inet_diag_msg, attributes.
  private func message(
    type: UInt16 = 20, family: UInt8 = 2, state: UInt8 = 10, timer: UInt8 = 0, sport: UInt16 = 3000,
    dport: UInt16 = 0, src: [UInt8] = [127, 0, 0, 1], dst: [UInt8] = [0, 0, 0, 0], expires: UInt32 = 0,
    uid: UInt32 = 1000, inode: UInt32 = 4242, v6Only: UInt8? = nil
  ) -> [UInt8] {
    var body = [UInt8](repeating: 0, count: 72)
    body[0] = family
    body[1] = state
    body[2] = timer
    body[4] = UInt8(sport >> 8)
    body[5] = UInt8(sport & 0xFF)
    body[6] = UInt8(dport >> 8)
    body[7] = UInt8(dport & 0xFF)
    for (index, byte) in src.enumerated() { body[8 + index] = byte }
    for (index, byte) in dst.enumerated() { body[24 + index] = byte }
    func put(_ value: UInt32, _ offset: Int) {
      for index in 0..<4 { body[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
    }
    put(expires, 52)
    put(uid, 64)
    put(inode, 68)
    if let v6Only { body += [5, 0, 11, 0, v6Only, 0, 0, 0] }
    let length = UInt32(16 + body.count)
    var header = [UInt8](repeating: 0, count: 16)
    for index in 0..<4 { header[index] = UInt8(truncatingIfNeeded: length >> (8 * index)) }
    header[4] = UInt8(type & 0xFF)
    header[5] = UInt8(type >> 8)
    return header + body
  }

  private func parse(_ bytes: [UInt8], proto: TransportProtocol = .tcp) -> NetlinkDiag.Chunk {
    bytes.withUnsafeBytes { NetlinkDiag.parse($0, proto: proto) }
  }

  @Test func requestLayout() {
    let request = NetlinkDiag.dumpRequest(family: .ipv6, proto: .udp, states: 1 << 7, sequence: 9)
    #expect(request.count == 72)
    #expect(request[0] == 72)
    #expect(request[4] == 20)
    #expect(request[6] == 0x01 && request[7] == 0x03)
    #expect(request[8] == 9)
    #expect(request[16] == 10 && request[17] == 17)
    #expect(request[20] == 0x80)
    #expect(NetlinkDiag.states(.tcp, listenersOnly: true) == 1 << 10)
    #expect(NetlinkDiag.states(.udp, listenersOnly: false) == 0xFFFF_FFFF)
  }

  /// The kernel's `inet_diag_bc_run` for the port operations portctl emits: run forward,
  /// take `yes` on success and `no` on failure; accept when exactly at the end.
  private func run(_ program: [UInt8], port: UInt16) -> Bool {
    func half(_ at: Int) -> Int { Int(program[at]) | Int(program[at + 1]) << 8 }
    var offset = 0
    while offset < program.count {
      let code = program[offset]
      let yes = Int(program[offset + 1])
      let no = half(offset + 2)
      let passed: Bool
      switch code {
      case 1: passed = false  // JMP
      case 2: passed = port >= UInt16(half(offset + 6))  // S_GE
      case 3: passed = port <= UInt16(half(offset + 6))  // S_LE
      default: return false
      }
      offset += passed ? yes : no
    }
    return offset == program.count
  }

  @Test func portFilterAcceptsExactlyTheAskedRanges() throws {
    let ranges: [ClosedRange<UInt16>] = [22...22, 3000...3010, 8080...8080, 65535...65535]
    let program = try #require(NetlinkDiag.portFilter(ranges))
    #expect(program.count == 4 * 20 - 4)
    // Every jump is a multiple of 4 and lands on an operation, the end, or 4 bytes past it.
    for port in [0, 1, 21, 22, 23, 2999, 3000, 3005, 3010, 3011, 8079, 8080, 8081, 65534, 65535] as [UInt16] {
      #expect(run(program, port: port) == ranges.contains { $0.contains(port) }, "port \(port)")
    }
    let single = try #require(NetlinkDiag.portFilter([3000...3000]))
    #expect(single == [2, 8, 20, 0, 0, 0, 0xB8, 0x0B, 3, 8, 12, 0, 0, 0, 0xB8, 0x0B])
    #expect(NetlinkDiag.portFilter([]) == nil)
    #expect(NetlinkDiag.portFilter([0...65535]) == nil)
    // The request carries it as INET_DIAG_REQ_BYTECODE after inet_diag_req_v2.
    let request = NetlinkDiag.dumpRequest(
      family: .ipv4, proto: .tcp, states: 1 << 10, sequence: 1, ports: [3000...3001])
    #expect(request.count == 72 + 4 + 16)
    #expect(request[0] == UInt8(request.count))
    #expect(Array(request[72..<76]) == [20, 0, 1, 0])
    #expect(Array(request[76...]) == NetlinkDiag.portFilter([3000...3001]))
    #expect(Array(request[24..<26]) == [0, 0])
  }

  @Test func bothFamiliesInOneTCPRequest() throws {
    // TCPDIAG_GETSOCK and struct inet_diag_req: family 0, sport 4 bytes in (big-endian),
    // states 52 bytes in.
    let request = NetlinkDiag.bothFamiliesRequest(states: 1 << 10, sequence: 5, ports: [3000...3000])
    #expect(request.count == 16 + 60)
    #expect(request[0] == 76 && request[4] == 18 && request[5] == 0)
    #expect(Array(request[6..<8]) == [0x01, 0x03])
    #expect(request[8] == 5)
    #expect(request[16] == 0)
    #expect(Array(request[20..<22]) == [0x0B, 0xB8])
    #expect(Array(request[68..<72]) == [0, 4, 0, 0])
    // Several ranges: the same filter program as the per-family request, after the struct.
    let ranges: [ClosedRange<UInt16>] = [22...22, 8080...8090]
    let filtered = NetlinkDiag.bothFamiliesRequest(states: 0xFFFF_FFFF, sequence: 6, ports: ranges)
    let program = try #require(NetlinkDiag.portFilter(ranges))
    #expect(filtered.count == 76 + 4 + program.count)
    #expect(Array(filtered[76..<80]) == [UInt8(4 + program.count), 0, 1, 0])
    #expect(Array(filtered[80...]) == program)
    #expect(Array(filtered[20..<22]) == [0, 0])
    // Its answers are TCPDIAG_GETSOCK messages holding the same inet_diag_msg, of either family.
    let v6 = [UInt8](repeating: 0, count: 15) + [1]
    let answer = message(type: 18, sport: 3000) + message(type: 18, family: 10, src: v6, v6Only: 1)
    guard case .sockets(let sockets, false) = parse(answer) else {
      Issue.record("not parsed")
      return
    }
    #expect(sockets.map(\.local.port) == [3000, 3000])
    #expect(sockets.map(\.family) == [.ipv4, .ipv6])
    #expect(sockets[1].v6Only == true)
  }

  @Test func onePortGoesInTheRequestItself() {
    // id.idiag_sport, big-endian, 8 bytes into inet_diag_req_v2; no filter program.
    let request = NetlinkDiag.dumpRequest(
      family: .ipv6, proto: .udp, states: 1 << 7, sequence: 2, ports: [3000...3000])
    #expect(request.count == 72)
    #expect(Array(request[24..<26]) == [0x0B, 0xB8])
    // Port 0 there would mean every port: it goes through the filter instead.
    let zero = NetlinkDiag.dumpRequest(family: .ipv4, proto: .tcp, states: 1 << 10, sequence: 3, ports: [0...0])
    #expect(zero.count == 72 + 4 + 16)
    #expect(Array(zero[24..<26]) == [0, 0])
  }

  @Test func queriesMergeTheirPortRanges() {
    let specs = [
      PortSpec(ports: 3005...3010), PortSpec(ports: 3000...3004, proto: .tcp), PortSpec(ports: 53...53, proto: .udp),
      PortSpec(ports: 8080...8080),
    ]
    let query = SocketQuery(specs: specs)
    #expect(query.portRanges(for: .tcp) == [3000...3010, 8080...8080])
    #expect(query.portRanges(for: .udp) == [53...53, 3005...3010, 8080...8080])
    #expect(SocketQuery(specs: nil).portRanges(for: .tcp) == nil)
  }

  @Test func listenerTimeWaitAndIPv6WithV6Only() throws {
    let v6 = [UInt8](repeating: 0, count: 15) + [1]
    let bytes =
      message()
      + message(
        state: 6, timer: 3, sport: 3000, dport: 51000, src: [127, 0, 0, 1], dst: [127, 0, 0, 1], expires: 42500,
        inode: 0)
      + message(family: 10, sport: 8080, src: v6, dst: [UInt8](repeating: 0, count: 16), v6Only: 1)
      + message(type: 3)
    guard case .sockets(let sockets, let finished) = parse(bytes) else {
      Issue.record("expected sockets")
      return
    }
    #expect(finished)
    #expect(sockets.count == 3)
    #expect(sockets[0].local == Endpoint(address: .loopbackV4, port: 3000))
    #expect(sockets[0].state == .listen && sockets[0].remote == nil && sockets[0].uid == 1000 && sockets[0].id == 4242)
    #expect(sockets[0].v6Only == nil)
    #expect(sockets[1].state == .timeWait)
    #expect(sockets[1].remote == Endpoint(address: .loopbackV4, port: 51000))
    #expect(sockets[1].timer == SocketTimer(kind: .timeWait, remainingSeconds: 42.5))
    #expect(sockets[2].local == Endpoint(address: .loopbackV6, port: 8080))
    #expect(sockets[2].v6Only == true)
  }

  @Test func errorsTruncationAndUnfinishedBatches() {
    var error = [UInt8](repeating: 0, count: 20)
    error[0] = 20
    error[4] = 2
    error[16] = 0xFE  // -2: ENOENT
    error[17] = 0xFF
    error[18] = 0xFF
    error[19] = 0xFF
    #expect(parse(error) == .failed(2))
    guard case .sockets(let one, let finished) = parse(message()) else {
      Issue.record("expected sockets")
      return
    }
    #expect(one.map(\.id) == [4242])
    #expect(!finished)
    #expect(parse(Array(message().prefix(40))) == .sockets([], finished: false))
    #expect(parse(message(family: 99)) == .sockets([], finished: false))
    #expect(parse([]) == .sockets([], finished: false))
  }
}
