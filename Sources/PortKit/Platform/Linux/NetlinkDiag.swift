/// The sock_diag netlink protocol (NETLINK_SOCK_DIAG, `inet_diag_req_v2` requests and
/// `inet_diag_msg` answers), built and parsed as bytes in plain Swift so that it is tested
/// on recorded answers. Layouts from `linux/netlink.h` and `linux/inet_diag.h`.
enum NetlinkDiag {
  static let sockDiagByFamily: UInt16 = 20  // SOCK_DIAG_BY_FAMILY
  static let tcpDiagGetSock: UInt16 = 18  // TCPDIAG_GETSOCK, the original inet_diag request
  static let done: UInt16 = 3  // NLMSG_DONE
  static let error: UInt16 = 2  // NLMSG_ERROR
  static let request: UInt16 = 0x01  // NLM_F_REQUEST
  static let dump: UInt16 = 0x300  // NLM_F_ROOT | NLM_F_MATCH
  static let headerSize = 16  // struct nlmsghdr
  static let requestSize = 56  // struct inet_diag_req_v2
  static let originalRequestSize = 60  // struct inet_diag_req
  static let messageSize = 72  // struct inet_diag_msg
  static let attributeV6Only: UInt16 = 11  // INET_DIAG_SKV6ONLY
  static let bytecodeAttribute: UInt16 = 1  // INET_DIAG_REQ_BYTECODE

  /// `AF_INET`/`AF_INET6` as the kernel numbers them on Linux.
  static func familyNumber(_ family: AddressFamily) -> UInt8 { family == .ipv4 ? 2 : 10 }
  static func protocolNumber(_ proto: TransportProtocol) -> UInt8 { proto == .tcp ? 6 : 17 }

  /// The state bits to ask for: listeners (TCP LISTEN, UDP unconnected) or everything.
  static func states(_ proto: TransportProtocol, listenersOnly: Bool) -> UInt32 {
    guard listenersOnly else { return 0xFFFF_FFFF }
    return proto == .tcp ? 1 << 10 : 1 << 7
  }

  /// One dump request: header and `inet_diag_req_v2`, little-endian as on every Linux
  /// portctl runs on (the kernel reads host order). With `ports`, the kernel answers only
  /// sockets whose local port is in one of the ranges: one port goes in the request's
  /// `id.idiag_sport`, which the kernel compares as it walks its tables (half the cost of
  /// running a filter program on each of 20 000 listeners); more go in an
  /// `INET_DIAG_REQ_BYTECODE` attribute.
  static func dumpRequest(
    family: AddressFamily, proto: TransportProtocol, states: UInt32, sequence: UInt32,
    ports: [ClosedRange<UInt16>]? = nil
  ) -> [UInt8] {
    // inet_diag_req_v2: family, protocol, ext, pad, states, then id (sport first).
    message(type: sockDiagByFamily, size: requestSize, sequence: sequence, ports: ports, sportOffset: 8) { put in
      put(familyNumber(family), 0)
      put(protocolNumber(proto), 1)
      put(states, 4)
    }
  }

  /// One dump of TCP sockets of both families: the original `TCPDIAG_GETSOCK` request
  /// (`struct inet_diag_req`), which the kernel answers with IPv4 and IPv6 sockets alike
  /// (`AF_UNSPEC`) in one pass over its tables, where `inet_diag_req_v2` asks for one family
  /// and so walks every listener on the machine once per family. Ports as in
  /// ``dumpRequest(family:proto:states:sequence:ports:)``; the answers are
  /// `TCPDIAG_GETSOCK` messages holding the same `inet_diag_msg`.
  static func bothFamiliesRequest(states: UInt32, sequence: UInt32, ports: [ClosedRange<UInt16>]? = nil) -> [UInt8] {
    // inet_diag_req: family, src_len, dst_len, ext (all 0), id (sport first), states, dbs.
    message(type: tcpDiagGetSock, size: originalRequestSize, sequence: sequence, ports: ports, sportOffset: 4) {
      put in put(states, 52)
    }
  }

  /// A netlink header of `type` and a request body of `size` bytes that `fill` writes (at
  /// offsets into the body), the asked port at `sportOffset` or the ports' filter after it.
  private static func message(
    type: UInt16, size: Int, sequence: UInt32, ports: [ClosedRange<UInt16>]?, sportOffset: Int,
    fill: ((any FixedWidthInteger, Int) -> Void) -> Void
  ) -> [UInt8] {
    // Port 0 in the field means any port, so it is asked through the filter.
    let single = ports.flatMap { $0.count == 1 && $0[0].count == 1 && $0[0].lowerBound != 0 ? $0[0].lowerBound : nil }
    let filter = single == nil ? ports.flatMap(portFilter) ?? [] : []
    let attribute = filter.isEmpty ? 0 : 4 + filter.count
    var bytes = [UInt8](repeating: 0, count: headerSize + size + attribute)
    func put(_ value: some FixedWidthInteger, at offset: Int) {
      withUnsafeBytes(of: value) { raw in for (index, byte) in raw.enumerated() { bytes[offset + index] = byte } }
    }
    if !filter.isEmpty {
      let start = headerSize + size
      put(UInt16(attribute), at: start)
      put(bytecodeAttribute, at: start + 2)
      bytes.replaceSubrange((start + 4)..<bytes.count, with: filter)
    }
    put(UInt32(bytes.count), at: 0)
    put(type, at: 4)
    put(request | dump, at: 6)
    put(sequence, at: 8)
    fill { value, offset in put(value, at: headerSize + offset) }
    if let single { put(single.bigEndian, at: headerSize + sportOffset) }
    return bytes
  }

  /// The most ranges put in one filter; a query with more is filtered after the dump.
  static let maximumFilterRanges = 256

  /// `inet_diag_bc_op` programs (`linux/inet_diag.h`, checked by the kernel's
  /// `inet_diag_bc_audit`): for each range `S_GE low`, `S_LE high`, each falling through
  /// on success and jumping to the next range on failure, then a `JMP` to the end (accept).
  /// Running off the end accepts; jumping 4 bytes past it rejects. `nil` when the ranges
  /// cannot narrow anything (none, too many, or all ports).
  static func portFilter(_ ranges: [ClosedRange<UInt16>]) -> [UInt8]? {
    guard !ranges.isEmpty, ranges.count <= maximumFilterRanges, !ranges.contains(where: { $0 == 0...65535 })
    else { return nil }
    let geCode: UInt8 = 2  // INET_DIAG_BC_S_GE
    let leCode: UInt8 = 3  // INET_DIAG_BC_S_LE
    let jumpCode: UInt8 = 1  // INET_DIAG_BC_JMP
    let total = ranges.count * 20 - 4
    var program: [UInt8] = []
    program.reserveCapacity(total)
    func op(_ code: UInt8, yes: Int, no: Int) {
      program += [code, UInt8(yes)]
      program += withUnsafeBytes(of: UInt16(no).littleEndian, Array.init)
    }
    func operand(_ port: UInt16) {
      program += [0, 0]
      program += withUnsafeBytes(of: port.littleEndian, Array.init)
    }
    for (index, range) in ranges.enumerated() {
      let last = index == ranges.count - 1
      let remaining = total - program.count
      // On failure: the next range (20 bytes on), or past the end for the last one.
      op(geCode, yes: 8, no: last ? remaining + 4 : 20)
      operand(range.lowerBound)
      op(leCode, yes: 8, no: last ? remaining - 8 + 4 : 12)
      operand(range.upperBound)
      if !last { op(jumpCode, yes: 4, no: remaining - 16) }
    }
    return program
  }

  /// What one `recv` held.
  enum Chunk: Hashable, Sendable {
    /// Sockets, and whether more messages follow.
    case sockets([SocketEntry], finished: Bool)
    /// The kernel refused the request (the errno).
    case failed(Int32)
  }

  /// Parses the netlink messages in one received buffer.
  static func parse(_ bytes: UnsafeRawBufferPointer, proto: TransportProtocol) -> Chunk {
    var sockets: [SocketEntry] = []
    var offset = 0
    while offset + headerSize <= bytes.count {
      let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
      let type = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self)
      guard length >= headerSize, offset + length <= bytes.count else { break }
      switch type {
      case done:
        return .sockets(sockets, finished: true)
      case error:
        let code =
          length >= headerSize + 4 ? bytes.loadUnaligned(fromByteOffset: offset + headerSize, as: Int32.self) : -1
        if code != 0 { return .failed(-code) }
      case sockDiagByFamily, tcpDiagGetSock:
        if let entry = socket(
          UnsafeRawBufferPointer(rebasing: bytes[(offset + headerSize)..<(offset + length)]), proto: proto)
        {
          sockets.append(entry)
        }
      default:
        break
      }
      offset += (length + 3) & ~3
    }
    return .sockets(sockets, finished: false)
  }

  /// One `inet_diag_msg` and its attributes.
  static func socket(_ body: UnsafeRawBufferPointer, proto: TransportProtocol) -> SocketEntry? {
    guard body.count >= messageSize else { return nil }
    let familyByte = body[0]
    guard familyByte == 2 || familyByte == 10 else { return nil }
    let family: AddressFamily = familyByte == 2 ? .ipv4 : .ipv6
    let state = SocketState(linuxCode: body[1], protocol: proto)
    let timerKind = body[2]
    func port(_ offset: Int) -> UInt16 { UInt16(body[offset]) << 8 | UInt16(body[offset + 1]) }
    func address(_ offset: Int) -> IPAddress {
      if family == .ipv4 {
        return .v4(
          UInt32(body[offset]) << 24 | UInt32(body[offset + 1]) << 16 | UInt32(body[offset + 2]) << 8
            | UInt32(body[offset + 3]))
      }
      var high: UInt64 = 0
      var low: UInt64 = 0
      for index in 0..<8 { high = high << 8 | UInt64(body[offset + index]) }
      for index in 8..<16 { low = low << 8 | UInt64(body[offset + index]) }
      return .v6(high: high, low: low)
    }
    // id: sport(4) dport(6) src(8..24) dst(24..40) if(40) cookie(44); then expires(52)
    // rqueue(56) wqueue(60) uid(64) inode(68), all offsets into inet_diag_msg.
    let local = Endpoint(address: address(8), port: port(4))
    let remoteEndpoint = Endpoint(address: address(24), port: port(6))
    let remote = remoteEndpoint.port == 0 && remoteEndpoint.address.isWildcard ? nil : remoteEndpoint
    let expires = body.loadUnaligned(fromByteOffset: 52, as: UInt32.self)
    let uid = body.loadUnaligned(fromByteOffset: 64, as: UInt32.self)
    let inode = body.loadUnaligned(fromByteOffset: 68, as: UInt32.self)
    var v6Only: Bool?
    var offset = messageSize
    while offset + 4 <= body.count {
      let length = Int(body.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
      let type = body.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self)
      guard length >= 4, offset + length <= body.count else { break }
      if type & 0x3FFF == attributeV6Only, length >= 5 { v6Only = body[offset + 4] != 0 }
      offset += (length + 3) & ~3
    }
    let kind: SocketTimer.Kind? =
      switch timerKind {
      case 1: .retransmit
      case 2: .keepalive
      case 3: .timeWait
      case 4: .zeroWindowProbe
      default: nil
      }
    return SocketEntry(
      proto: proto, local: local, remote: remote, state: state, uid: uid, id: UInt64(inode),
      v6Only: family == .ipv6 ? v6Only : nil,
      timer: kind.map { SocketTimer(kind: $0, remainingSeconds: Double(expires) / 1000) })
  }
}
