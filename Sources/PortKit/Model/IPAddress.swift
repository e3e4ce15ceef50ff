/// An IPv4 or IPv6 address, parsed and printed in plain Swift so that every platform's
/// tool output (procfs hex, `lsof`, `netstat`) reads into the same value.
public enum IPAddress: Hashable, Sendable, Comparable {
  /// An IPv4 address; `a.b.c.d` is `a << 24 | b << 16 | c << 8 | d`.
  case v4(UInt32)
  /// An IPv6 address as two 64-bit halves in network order (`high` holds bytes 0–7).
  case v6(high: UInt64, low: UInt64)

  /// The IPv4 wildcard, `0.0.0.0`.
  public static let anyV4 = IPAddress.v4(0)
  /// The IPv6 wildcard, `::`.
  public static let anyV6 = IPAddress.v6(high: 0, low: 0)
  /// `127.0.0.1`.
  public static let loopbackV4 = IPAddress.v4(0x7F00_0001)
  /// `::1`.
  public static let loopbackV6 = IPAddress.v6(high: 0, low: 1)

  /// The address family.
  public var family: AddressFamily {
    switch self {
    case .v4: .ipv4
    case .v6: .ipv6
    }
  }

  /// The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), or the address
  /// itself when it is IPv4; `nil` for other IPv6 addresses.
  public var ipv4Equivalent: IPAddress? {
    switch self {
    case .v4: return self
    case .v6(let high, let low):
      guard high == 0, low >> 32 == 0xFFFF else { return nil }
      return .v4(UInt32(truncatingIfNeeded: low))
    }
  }

  /// True for `0.0.0.0` and `::`.
  public var isWildcard: Bool { self == .anyV4 || self == .anyV6 }

  /// What kind of address this is, as shown to users.
  public var scope: AddressScope {
    if isWildcard { return .wildcard }
    if let v4 = ipv4Equivalent, case .v4(let raw) = v4 {
      if raw >> 24 == 127 { return .loopback }
      if raw >> 16 == 0xA9FE { return .linkLocal }
      return .specific
    }
    if self == .loopbackV6 { return .loopback }
    if case .v6(let high, _) = self, high >> 54 == 0x3FA { return .linkLocal }  // fe80::/10
    return .specific
  }

  /// Parses a literal: dotted IPv4 (`127.0.0.1`) or IPv6 (`::1`, `fe80::1%12`, `::ffff:1.2.3.4`).
  /// A zone suffix (`%eth0`, `%12`) is accepted and dropped. Returns `nil` for anything else.
  public init?(_ text: some StringProtocol) {
    var body = Substring(text)
    if let percent = body.firstIndex(of: "%") {
      guard body.contains(":"), body.index(after: percent) < body.endIndex else { return nil }
      body = body[..<percent]
    }
    if body.contains(":") {
      guard let v6 = Self.parseV6(body) else { return nil }
      self = v6
    } else {
      guard let v4 = Self.parseV4(body) else { return nil }
      self = .v4(v4)
    }
  }

  private static func parseV4(_ text: Substring) -> UInt32? {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4 else { return nil }
    var value: UInt32 = 0
    for part in parts {
      guard (1...3).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }),
        let octet = UInt32(part), octet <= 255
      else { return nil }
      value = value << 8 | octet
    }
    return value
  }

  private static func parseV6(_ text: Substring) -> IPAddress? {
    // Split around a single "::" if present.
    var head: [Substring] = []
    var tail: [Substring] = []
    var compressed = false
    if let start = doubleColon(in: text) {
      compressed = true
      let before = text[..<start]
      let after = text[text.index(start, offsetBy: 2)...]
      if doubleColon(in: after) != nil { return nil }
      head = before.isEmpty ? [] : before.split(separator: ":", omittingEmptySubsequences: false)
      tail = after.isEmpty ? [] : after.split(separator: ":", omittingEmptySubsequences: false)
    } else {
      head = text.split(separator: ":", omittingEmptySubsequences: false)
    }
    var groups: [UInt16] = []
    func append(_ parts: [Substring], allowV4Tail: Bool) -> Bool {
      for (index, part) in parts.enumerated() {
        if allowV4Tail, index == parts.count - 1, part.contains(".") {
          guard let v4 = parseV4(part) else { return false }
          groups.append(UInt16(v4 >> 16))
          groups.append(UInt16(v4 & 0xFFFF))
          continue
        }
        guard (1...4).contains(part.count), part.allSatisfy(\.isHexDigit),
          let group = UInt16(part, radix: 16)
        else { return false }
        groups.append(group)
      }
      return true
    }
    guard append(head, allowV4Tail: !compressed) else { return nil }
    let headCount = groups.count
    guard append(tail, allowV4Tail: true) else { return nil }
    if compressed {
      guard groups.count <= 7 else { return nil }
      let zeros = [UInt16](repeating: 0, count: 8 - groups.count)
      groups.insert(contentsOf: zeros, at: headCount)
    }
    guard groups.count == 8 else { return nil }
    var high: UInt64 = 0
    var low: UInt64 = 0
    for group in groups[0..<4] { high = high << 16 | UInt64(group) }
    for group in groups[4..<8] { low = low << 16 | UInt64(group) }
    return .v6(high: high, low: low)
  }

  private static func doubleColon(in text: Substring) -> Substring.Index? {
    var index = text.startIndex
    while index < text.endIndex {
      let next = text.index(after: index)
      if text[index] == ":", next < text.endIndex, text[next] == ":" { return index }
      index = next
    }
    return nil
  }

  /// The sixteen (IPv6) or four (IPv4) bytes of the address in network order.
  public var bytes: [UInt8] {
    switch self {
    case .v4(let raw):
      return [
        UInt8(raw >> 24), UInt8(truncatingIfNeeded: raw >> 16), UInt8(truncatingIfNeeded: raw >> 8),
        UInt8(truncatingIfNeeded: raw),
      ]
    case .v6(let high, let low):
      return (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
        + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
    }
  }
}

extension IPAddress: CustomStringConvertible {
  /// Dotted quad for IPv4; RFC 5952 form for IPv6 (lower case, longest zero run compressed,
  /// IPv4-mapped addresses as `::ffff:a.b.c.d`).
  public var description: String {
    switch self {
    case .v4(let raw):
      return "\(raw >> 24).\(raw >> 16 & 0xFF).\(raw >> 8 & 0xFF).\(raw & 0xFF)"
    case .v6(let high, let low):
      if high == 0, low >> 32 == 0xFFFF {
        return "::ffff:" + IPAddress.v4(UInt32(truncatingIfNeeded: low)).description
      }
      let groups =
        (0..<4).map { UInt16(truncatingIfNeeded: high >> (48 - 16 * $0)) }
        + (0..<4).map { UInt16(truncatingIfNeeded: low >> (48 - 16 * $0)) }
      // Longest run of two or more zero groups; the first one wins a tie.
      var bestStart = -1
      var bestLength = 1
      var index = 0
      while index < 8 {
        guard groups[index] == 0 else {
          index += 1
          continue
        }
        var end = index
        while end < 8, groups[end] == 0 { end += 1 }
        if end - index > bestLength {
          bestStart = index
          bestLength = end - index
        }
        index = end
      }
      func hex(_ slice: ArraySlice<UInt16>) -> String {
        slice.map { String($0, radix: 16) }.joined(separator: ":")
      }
      guard bestStart >= 0 else { return hex(groups[...]) }
      return hex(groups[..<bestStart]) + "::" + hex(groups[(bestStart + bestLength)...])
    }
  }
}

/// IPv4 or IPv6.
public enum AddressFamily: String, Sendable, Hashable, Codable, CaseIterable {
  case ipv4
  case ipv6
}

/// What an address means for who can reach a socket bound to it.
public enum AddressScope: String, Sendable, Hashable, Codable {
  /// `0.0.0.0` or `::`: every address of the machine.
  case wildcard
  /// `127.0.0.0/8`, `::1`: this machine only.
  case loopback
  /// `169.254.0.0/16`, `fe80::/10`.
  case linkLocal
  /// One address of one interface.
  case specific
}
