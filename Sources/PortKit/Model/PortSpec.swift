/// One port or range of ports asked about, optionally narrowed to a protocol and an address.
///
/// The grammar, shared by every command: `3000`, `:3000`, `3000-3010`, `3000,8080`,
/// `udp:53`, `53/udp`, `tcp:80`, `127.0.0.1:3000`, `[::1]:3000`, `0.0.0.0:3000`,
/// and combinations such as `udp:[::1]:5353` or `127.0.0.1:3000-3010/tcp`.
public struct PortSpec: Hashable, Sendable {
  /// The ports, `first...last`, both in 1...65535.
  public var ports: ClosedRange<UInt16>
  /// `nil` means TCP and UDP.
  public var proto: TransportProtocol?
  /// `nil` means any address. With an address, the spec matches every socket whose local
  /// address would collide with a bind there (see ``SocketEntry/blocksBind(of:)``).
  public var address: IPAddress?
  /// The text this spec was parsed from.
  public var text: String

  /// A spec of `ports`, narrowed to `proto` and `address` when given; `text` defaults to the first port.
  public init(
    ports: ClosedRange<UInt16>, proto: TransportProtocol? = nil, address: IPAddress? = nil, text: String? = nil
  ) {
    self.ports = ports
    self.proto = proto
    self.address = address
    self.text = text ?? "\(ports.lowerBound)"
  }

  /// The forms accepted, for error messages and help.
  public static let acceptedForms =
    "3000, :3000, 3000-3010, 3000,8080, udp:53, 53/udp, tcp:80, 127.0.0.1:3000, [::1]:3000"

  /// True when the socket is on one of these ports, of this protocol, and (with an address)
  /// collides with a bind on that address.
  public func matches(_ socket: SocketEntry) -> Bool {
    guard ports.contains(socket.local.port) else { return false }
    if let proto, proto != socket.proto { return false }
    if let address, !socket.blocksBind(of: address) { return false }
    return true
  }

  /// Parses one command-line argument, which may hold several comma-separated specs.
  public static func parseList(_ argument: String) throws(PortSpecError) -> [PortSpec] {
    if argument.isEmpty { throw PortSpecError(token: argument, reason: "empty port spec") }
    let items = argument.split(separator: ",", omittingEmptySubsequences: false)
    if items.count > 1, items.contains(where: { $0.trimmingSpaces().isEmpty }) {
      throw PortSpecError(token: argument, reason: "empty item in a comma-separated list")
    }
    return try items.map { (item) throws(PortSpecError) -> PortSpec in try PortSpec(parsing: item) }
  }

  /// Parses one spec (no commas).
  public init(parsing item: some StringProtocol) throws(PortSpecError) {
    let token = String(item)
    func fail(_ reason: String) -> PortSpecError { PortSpecError(token: token, reason: reason) }
    var body = Substring(token.trimmingSpaces())
    if body.isEmpty { throw fail("empty port spec") }

    var proto: TransportProtocol?
    for candidate in TransportProtocol.allCases {
      let lower = body.lowercased()
      if lower.hasPrefix(candidate.rawValue + ":") {
        proto = candidate
        body = body.dropFirst(candidate.rawValue.count + 1)
        break
      }
      if lower.hasSuffix("/" + candidate.rawValue) {
        proto = candidate
        body = body.dropLast(candidate.rawValue.count + 1)
        break
      }
    }

    var address: IPAddress?
    var portText: Substring
    if body.hasPrefix("[") {
      guard let close = body.firstIndex(of: "]") else {
        throw fail("IPv6 address is missing its closing ']'")
      }
      let literal = body[body.index(after: body.startIndex)..<close]
      guard let parsed = IPAddress(literal), parsed.family == .ipv6 else {
        throw fail("'\(literal)' is not an IPv6 address")
      }
      address = parsed
      let rest = body[body.index(after: close)...]
      guard rest.hasPrefix(":"), rest.count > 1 else {
        throw fail("expected ':PORT' after the address, as in [::1]:3000")
      }
      portText = rest.dropFirst()
    } else if let colon = body.lastIndex(of: ":") {
      let host = body[..<colon]
      portText = body[body.index(after: colon)...]
      if host.contains(":") {
        throw fail("put an IPv6 address in brackets, as in [::1]:3000")
      }
      if !host.isEmpty {
        guard let parsed = IPAddress(host), parsed.family == .ipv4 else {
          if host.lowercased() == "localhost" {
            throw fail("give an IP address: 127.0.0.1:\(portText) or [::1]:\(portText)")
          }
          throw fail("'\(host)' is not an IP address")
        }
        address = parsed
      }
    } else {
      portText = body
    }

    let ports: ClosedRange<UInt16>
    if let dash = portText.dropFirst().firstIndex(of: "-") {
      let low = try Self.port(portText[..<dash], in: token)
      let high = try Self.port(portText[portText.index(after: dash)...], in: token)
      guard low <= high else { throw fail("range runs backwards (\(low) > \(high))") }
      ports = low...high
    } else {
      let port = try Self.port(portText, in: token)
      ports = port...port
    }
    self.init(ports: ports, proto: proto, address: address, text: token)
  }

  private static func port(_ text: Substring, in token: String) throws(PortSpecError) -> UInt16 {
    guard !text.isEmpty else { throw PortSpecError(token: token, reason: "missing port number") }
    let digits = text.first == "-" ? text.dropFirst() : text
    guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
      throw PortSpecError(token: token, reason: "'\(text)' is not a port number")
    }
    if text.first == "-" {
      throw PortSpecError(token: token, reason: "ports are 1-65535, not negative")
    }
    guard digits.count <= 5, let value = Int(digits), value <= 65535 else {
      throw PortSpecError(token: token, reason: "\(digits) is above the highest port, 65535")
    }
    guard value >= 1 else {
      throw PortSpecError(token: token, reason: "port 0 means 'any port' to the kernel; ask for 1-65535")
    }
    return UInt16(value)
  }
}

extension PortSpec: CustomStringConvertible {
  /// The text it was parsed from.
  public var description: String { text }
}

/// A port spec that could not be parsed.
public struct PortSpecError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The offending token, as typed.
  public var token: String
  /// Why it was refused.
  public var reason: String

  /// `token` could not be read, for `reason`.
  public init(token: String, reason: String) {
    self.token = token
    self.reason = reason
  }

  /// A full sentence for the user.
  public var description: String {
    "invalid port spec '\(token)': \(reason). Accepted forms: \(PortSpec.acceptedForms)"
  }
}

extension StringProtocol {
  func trimmingSpaces() -> Substring {
    var slice = Substring(self)
    while let first = slice.first, first.isWhitespace { slice.removeFirst() }
    while let last = slice.last, last.isWhitespace { slice.removeLast() }
    return slice
  }
}
