/// TCP or UDP.
public enum TransportProtocol: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
  case tcp
  case udp

  /// TCP before UDP.
  public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// An address and a port.
public struct Endpoint: Hashable, Sendable, Comparable {
  /// The IP address.
  public var address: IPAddress
  /// The port.
  public var port: UInt16

  /// `address`:`port`.
  public init(address: IPAddress, port: UInt16) {
    self.address = address
    self.port = port
  }

  /// By address, then port.
  public static func < (lhs: Self, rhs: Self) -> Bool {
    (lhs.port, lhs.address) < (rhs.port, rhs.address)
  }
}

extension Endpoint: CustomStringConvertible {
  /// `127.0.0.1:3000`, `[::1]:3000`.
  public var description: String {
    switch address {
    case .v4: "\(address):\(port)"
    case .v6: "[\(address)]:\(port)"
    }
  }
}

/// The state of a socket, with the names `ss` and the kernel use.
public enum SocketState: String, Sendable, Hashable, Codable, CaseIterable {
  case listen = "LISTEN"
  /// A bound UDP socket with no peer: the UDP counterpart of a listener.
  case unconnected = "UNCONN"
  case established = "ESTABLISHED"
  case synSent = "SYN_SENT"
  case synReceived = "SYN_RECV"
  case finWait1 = "FIN_WAIT1"
  case finWait2 = "FIN_WAIT2"
  case timeWait = "TIME_WAIT"
  case close = "CLOSE"
  case closeWait = "CLOSE_WAIT"
  case lastAck = "LAST_ACK"
  case closing = "CLOSING"
  case newSynReceived = "NEW_SYN_RECV"
  case unknown = "UNKNOWN"

  /// Linux `include/net/tcp_states.h` numbering, as printed in `/proc/net/{tcp,udp}`.
  /// UDP reuses it: 7 (`TCP_CLOSE`) is an unconnected socket, 1 a connected one.
  public init(linuxCode: UInt8, protocol proto: TransportProtocol) {
    switch (linuxCode, proto) {
    case (7, .udp): self = .unconnected
    case (10, .udp): self = .listen
    case (1, _): self = .established
    case (2, .tcp): self = .synSent
    case (3, .tcp): self = .synReceived
    case (4, .tcp): self = .finWait1
    case (5, .tcp): self = .finWait2
    case (6, .tcp): self = .timeWait
    case (7, .tcp): self = .close
    case (8, .tcp): self = .closeWait
    case (9, .tcp): self = .lastAck
    case (10, .tcp): self = .listen
    case (11, .tcp): self = .closing
    case (12, .tcp): self = .newSynReceived
    default: self = .unknown
    }
  }
}

/// What the kernel's timer on a socket is doing (from `/proc/net/tcp`'s `tr` and `tm->when`).
public struct SocketTimer: Hashable, Sendable, Codable {
  /// Which kernel timer it is.
  public enum Kind: String, Sendable, Hashable, Codable {
    case retransmit, keepalive, timeWait, zeroWindowProbe
  }
  /// Which kernel timer it is.
  public var kind: Kind
  /// Seconds until the timer fires.
  public var remainingSeconds: Double

  /// A `kind` timer with `remainingSeconds` left.
  public init(kind: Kind, remainingSeconds: Double) {
    self.kind = kind
    self.remainingSeconds = remainingSeconds
  }
}

/// One socket from the kernel's tables.
///
/// Stored in 48 bytes (a listing can hold tens of thousands): the local address as two
/// words, small fields packed into flags, and the peer, which listeners lack, out of line.
public struct SocketEntry: Hashable, Sendable {
  private var localHigh: UInt64
  private var localLow: UInt64
  /// The identity that joins the socket with its holders: the inode on Linux, or an id the
  /// backend assigns. 0 means no process can hold it (TIME_WAIT and other orphans).
  public var id: UInt64
  private var peer: Peer?
  private var rawUID: UInt32
  private var timerMilliseconds: UInt32
  private var localPort: UInt16
  private var flags: UInt8
  private var stateIndex: UInt8

  private enum Flag {
    static let udp: UInt8 = 1
    static let localV6: UInt8 = 2
    static let hasUID: UInt8 = 4
    static let knowsV6Only: UInt8 = 8
    static let v6Only: UInt8 = 16
    /// Bits 5–7: 0 for no timer, else the timer kind's position plus one.
    static let timerShift: UInt8 = 5
  }

  /// The peer, boxed: shared by copies, never mutated.
  private final class Peer: Sendable {
    let endpoint: Endpoint
    init(_ endpoint: Endpoint) { self.endpoint = endpoint }
  }

  /// A socket as a table lists it; `id` is its inode (0 when unknown).
  public init(
    proto: TransportProtocol, local: Endpoint, remote: Endpoint? = nil, state: SocketState,
    uid: UInt32? = nil, id: UInt64, v6Only: Bool? = nil, timer: SocketTimer? = nil
  ) {
    localHigh = 0
    localLow = 0
    self.id = id
    peer = nil
    rawUID = 0
    timerMilliseconds = 0
    localPort = 0
    flags = 0
    stateIndex = 0
    self.proto = proto
    self.local = local
    self.remote = remote
    self.state = state
    self.uid = uid
    self.v6Only = v6Only
    self.timer = timer
  }

  private func has(_ flag: UInt8) -> Bool { flags & flag != 0 }
  private mutating func set(_ flag: UInt8, _ on: Bool) { flags = on ? flags | flag : flags & ~flag }

  /// TCP or UDP.
  public var proto: TransportProtocol {
    get { has(Flag.udp) ? .udp : .tcp }
    set { set(Flag.udp, newValue == .udp) }
  }

  /// The local address and port.
  public var local: Endpoint {
    get {
      let address: IPAddress =
        has(Flag.localV6) ? .v6(high: localHigh, low: localLow) : .v4(UInt32(truncatingIfNeeded: localLow))
      return Endpoint(address: address, port: localPort)
    }
    set {
      switch newValue.address {
      case .v4(let raw):
        (localHigh, localLow) = (0, UInt64(raw))
        set(Flag.localV6, false)
      case .v6(let high, let low):
        (localHigh, localLow) = (high, low)
        set(Flag.localV6, true)
      }
      localPort = newValue.port
    }
  }

  /// The peer; `nil` for listeners and unconnected UDP sockets.
  public var remote: Endpoint? {
    get { peer?.endpoint }
    set { peer = newValue.map(Peer.init) }
  }

  /// The TCP state (UDP: `listen` when bound, `established` when connected).
  public var state: SocketState {
    get { Self.states[Int(stateIndex)] }
    set { stateIndex = UInt8(Self.states.firstIndex(of: newValue) ?? Self.states.count - 1) }
  }
  private static let states = SocketState.allCases

  /// The socket's owning uid as the kernel records it; `nil` when the backend does not say.
  public var uid: UInt32? {
    get { has(Flag.hasUID) ? rawUID : nil }
    set {
      rawUID = newValue ?? 0
      set(Flag.hasUID, newValue != nil)
    }
  }

  /// `IPV6_V6ONLY` for IPv6 sockets when the backend knows it; `nil` when unknown.
  public var v6Only: Bool? {
    get { has(Flag.knowsV6Only) ? has(Flag.v6Only) : nil }
    set {
      set(Flag.knowsV6Only, newValue != nil)
      set(Flag.v6Only, newValue == true)
    }
  }

  /// The kernel's timer, to the millisecond (up to 49 days).
  public var timer: SocketTimer? {
    get {
      let kind = Int(flags >> Flag.timerShift)
      guard kind > 0, kind <= Self.timerKinds.count else { return nil }
      return SocketTimer(kind: Self.timerKinds[kind - 1], remainingSeconds: Double(timerMilliseconds) / 1000)
    }
    set {
      flags &= (1 << Flag.timerShift) - 1
      guard let newValue else {
        timerMilliseconds = 0
        return
      }
      let kind = Self.timerKinds.firstIndex(of: newValue.kind) ?? 0
      flags |= UInt8(kind + 1) << Flag.timerShift
      let milliseconds = (newValue.remainingSeconds * 1000).rounded()
      timerMilliseconds =
        milliseconds.isFinite ? UInt32(max(0, min(milliseconds, Double(UInt32.max)))) : 0
    }
  }
  private static let timerKinds: [SocketTimer.Kind] = [.retransmit, .keepalive, .timeWait, .zeroWindowProbe]

  /// The same socket with the same fields.
  public static func == (lhs: Self, rhs: Self) -> Bool {
    lhs.localHigh == rhs.localHigh && lhs.localLow == rhs.localLow && lhs.id == rhs.id
      && lhs.rawUID == rhs.rawUID && lhs.timerMilliseconds == rhs.timerMilliseconds
      && lhs.localPort == rhs.localPort && lhs.flags == rhs.flags && lhs.stateIndex == rhs.stateIndex
      && lhs.remote == rhs.remote
  }

  /// Hashes the fields `==` compares.
  public func hash(into hasher: inout Hasher) {
    hasher.combine(localHigh)
    hasher.combine(localLow)
    hasher.combine(id)
    hasher.combine(rawUID)
    hasher.combine(timerMilliseconds)
    hasher.combine(localPort)
    hasher.combine(flags)
    hasher.combine(stateIndex)
    hasher.combine(remote)
  }

  /// The family of the local address.
  public var family: AddressFamily { local.address.family }

  /// A TCP listener or a bound, unconnected UDP socket: what a server holds.
  public var isListener: Bool {
    switch proto {
    case .tcp: state == .listen
    case .udp: state == .unconnected || state == .listen
    }
  }

  /// True when a bind of `address` on this socket's port and protocol would collide with
  /// this socket's local address: equal addresses, a wildcard covering the other, and an
  /// IPv6 wildcard that also accepts IPv4 (dual-stack, unless `IPV6_V6ONLY` is known set).
  public func blocksBind(of address: IPAddress) -> Bool {
    Self.addressesCollide(local.address, v6Only: v6Only, address)
  }

  static func addressesCollide(_ held: IPAddress, v6Only: Bool?, _ asked: IPAddress) -> Bool {
    let heldV4 = held.ipv4Equivalent
    let askedV4 = asked.ipv4Equivalent
    if held == asked { return true }
    if let heldV4, let askedV4 {
      return heldV4 == askedV4 || heldV4 == .anyV4 || askedV4 == .anyV4
    }
    // At least one side is a genuine IPv6 address.
    let heldDualStack = held == .anyV6 && v6Only != true
    switch (heldV4, askedV4) {
    case (nil, nil):  // both IPv6
      return held == .anyV6 || asked == .anyV6
    case (nil, .some):  // IPv6 socket, IPv4 bind
      return heldDualStack
    case (.some, nil):  // IPv4 socket, IPv6 bind: only a dual-stack wildcard bind collides
      return asked == .anyV6
    case (.some, .some):
      return false
    }
  }
}
