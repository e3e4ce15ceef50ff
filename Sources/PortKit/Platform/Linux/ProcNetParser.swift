/// Parses the kernel's socket tables as `/proc/net/{tcp,tcp6,udp,udp6}` print them.
///
/// Each line: `sl local rem st tx:rx tr:when retrnsmt uid timeout inode …`, addresses in hex.
/// The kernel prints each 32-bit word of an address as the host reads it from memory, so the
/// bytes of the word are in network order only after `UInt32(bigEndian:)`; ports are plain
/// hex numbers. Lines that do not have that shape are skipped.
enum ProcNetParser {
  /// Clock ticks per second in `tm->when` (`USER_HZ`, 100 on every Linux architecture).
  static let ticksPerSecond = 100.0

  /// Parses a whole table. `family` says whether addresses have 8 or 32 hex digits.
  static func parse(
    _ bytes: some Collection<UInt8>, proto: TransportProtocol, family: AddressFamily
  ) -> [SocketEntry] {
    var entries: [SocketEntry] = []
    var fields: [ArraySlice<UInt8>] = []
    fields.reserveCapacity(12)
    let array = Array(bytes)
    var lineStart = array.startIndex
    while lineStart < array.endIndex {
      let lineEnd = array[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? array.endIndex
      fields.removeAll(keepingCapacity: true)
      splitFields(array[lineStart..<lineEnd], into: &fields)
      if let entry = entry(fields, proto: proto, family: family) { entries.append(entry) }
      lineStart = lineEnd + 1
    }
    return entries
  }

  /// Parses one line; `nil` for the header and for malformed lines.
  static func parseLine(_ line: some StringProtocol, proto: TransportProtocol, family: AddressFamily)
    -> SocketEntry?
  {
    var fields: [ArraySlice<UInt8>] = []
    splitFields(Array(line.utf8)[...], into: &fields)
    return entry(fields, proto: proto, family: family)
  }

  static func splitFields(_ line: ArraySlice<UInt8>, into fields: inout [ArraySlice<UInt8>]) {
    var index = line.startIndex
    while index < line.endIndex {
      while index < line.endIndex, line[index] == 0x20 || line[index] == 0x09 || line[index] == 0x0D { index += 1 }
      let start = index
      while index < line.endIndex, line[index] != 0x20, line[index] != 0x09, line[index] != 0x0D { index += 1 }
      if start < index { fields.append(line[start..<index]) }
    }
  }

  static func entry(_ fields: [ArraySlice<UInt8>], proto: TransportProtocol, family: AddressFamily) -> SocketEntry? {
    guard fields.count >= 10, fields[0].last == UInt8(ascii: ":"),
      let local = endpoint(fields[1], family: family),
      let remote = endpoint(fields[2], family: family),
      fields[3].count == 2, let stateCode = hex(fields[3]),
      let uid = decimal(fields[7]), uid <= UInt64(UInt32.max),
      let inode = decimal(fields[9])
    else { return nil }
    let state = SocketState(linuxCode: UInt8(stateCode), protocol: proto)
    let peer = remote.port == 0 && remote.address.isWildcard ? nil : remote
    return SocketEntry(
      proto: proto, local: local, remote: peer, state: state, uid: UInt32(uid), id: inode,
      timer: timer(fields[5]))
  }

  /// `tr:when`: timer kind and ticks until it fires.
  static func timer(_ field: ArraySlice<UInt8>) -> SocketTimer? {
    guard let colon = field.firstIndex(of: UInt8(ascii: ":")),
      let kindCode = hex(field[..<colon]), let ticks = hex(field[(colon + 1)...])
    else { return nil }
    let kind: SocketTimer.Kind
    switch kindCode {
    case 1: kind = .retransmit
    case 2: kind = .keepalive
    case 3: kind = .timeWait
    case 4: kind = .zeroWindowProbe
    default: return nil
    }
    return SocketTimer(kind: kind, remainingSeconds: Double(ticks) / ticksPerSecond)
  }

  /// `0100007F:0BB8` → 127.0.0.1:3000.
  static func endpoint(_ field: ArraySlice<UInt8>, family: AddressFamily) -> Endpoint? {
    let digits = family == .ipv4 ? 8 : 32
    guard field.count == digits + 5, field[field.startIndex + digits] == UInt8(ascii: ":"),
      let port = hex(field[(field.startIndex + digits + 1)...]), port <= 0xFFFF
    else { return nil }
    var words: [UInt32] = []
    words.reserveCapacity(digits / 8)
    var start = field.startIndex
    while start < field.startIndex + digits {
      guard let word = hex(field[start..<(start + 8)]) else { return nil }
      words.append(UInt32(bigEndian: UInt32(truncatingIfNeeded: word)))
      start += 8
    }
    let address: IPAddress
    if family == .ipv4 {
      address = .v4(words[0])
    } else {
      address = .v6(
        high: UInt64(words[0]) << 32 | UInt64(words[1]),
        low: UInt64(words[2]) << 32 | UInt64(words[3]))
    }
    return Endpoint(address: address, port: UInt16(port))
  }

  static func hex(_ digits: ArraySlice<UInt8>) -> UInt64? {
    guard !digits.isEmpty, digits.count <= 16 else { return nil }
    var value: UInt64 = 0
    for byte in digits {
      let nibble: UInt8
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte - UInt8(ascii: "0")
      case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = byte - UInt8(ascii: "A") + 10
      case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - UInt8(ascii: "a") + 10
      default: return nil
      }
      value = value << 4 | UInt64(nibble)
    }
    return value
  }

  static func decimal(_ digits: ArraySlice<UInt8>) -> UInt64? {
    guard !digits.isEmpty, digits.count <= 19 else { return nil }
    var value: UInt64 = 0
    for byte in digits {
      guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
      value = value * 10 + UInt64(byte - UInt8(ascii: "0"))
    }
    return value
  }
}
