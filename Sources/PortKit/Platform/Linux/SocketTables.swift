#if os(Linux)
import Glibc

/// A way to read the kernel's socket tables.
public protocol SocketTableReader: Sendable {
  /// The sockets `query` may want: every one it matches, and possibly more (callers filter
  /// again). Readers narrow by protocol, state and port as far as their source allows.
  func sockets(for query: SocketQuery) throws(PortKitError) -> [SocketEntry]
}

extension SocketTableReader {
  /// The sockets of `protocols` on every port; with `listenersOnly`, just TCP listeners and
  /// unconnected UDP.
  public func sockets(protocols: Set<TransportProtocol>, listenersOnly: Bool) throws(PortKitError) -> [SocketEntry] {
    try sockets(for: SocketQuery(specs: nil, protocols: protocols, listenersOnly: listenersOnly))
  }
}

/// Through netlink sock_diag: one dump for TCP (both families at once) and one per family for
/// UDP, the state filter and the asked ports applied by the kernel (a listeners-only query
/// never walks the connection hash; `who 3000` gets back only port 3000's sockets). Knows
/// IPV6_V6ONLY, which `/proc/net` does not show.
public struct NetlinkSocketTables: SocketTableReader {
  /// Whether TCP is asked for both families in one dump (the original request), before once
  /// per family.
  public var tcpInOneDump: Bool

  /// A reader of the live kernel's tables; `tcpInOneDump: false` asks for TCP once per
  /// family, as it is asked of a kernel that refuses the one-dump request.
  public init(tcpInOneDump: Bool = true) {
    self.tcpInOneDump = tcpInOneDump
  }

  /// The sockets `query` may want, read through netlink `sock_diag`.
  public func sockets(for query: SocketQuery) throws(PortKitError) -> [SocketEntry] {
    let protocols = query.wantedProtocols
    let listenersOnly = query.listenersOnly
    let fd = socket(16 /* AF_NETLINK */, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 4 /* SOCK_DIAG */)
    guard fd >= 0 else {
      throw PortKitError(.socketTablesUnreadable, "netlink sock_diag is not available (errno \(errno)).", errno: errno)
    }
    defer { close(fd) }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 8)
    defer { buffer.deallocate() }
    var entries: [SocketEntry] = []
    var sequence: UInt32 = 1
    for proto in TransportProtocol.allCases where protocols.contains(proto) {
      let states = NetlinkDiag.states(proto, listenersOnly: listenersOnly)
      let ports = query.portRanges(for: proto)
      if proto == .tcp, tcpInOneDump {
        // Both families in one pass over the kernel's tables; a kernel that refuses the
        // request is asked once per family.
        sequence += 1
        let request = NetlinkDiag.bothFamiliesRequest(states: states, sequence: sequence, ports: ports)
        if case .answered(let sockets) = try dump(request, proto: proto, fd: fd, buffer: buffer) {
          entries += sockets
          continue
        }
      }
      for family in AddressFamily.allCases {
        sequence += 1
        let request = NetlinkDiag.dumpRequest(
          family: family, proto: proto, states: states, sequence: sequence, ports: ports)
        switch try dump(request, proto: proto, fd: fd, buffer: buffer) {
        case .answered(let sockets): entries += sockets
        // A family the kernel lacks (IPv6 disabled) answers ENOENT or EAFNOSUPPORT: skip it.
        case .refused(let code) where code == ENOENT || code == EAFNOSUPPORT || code == EPROTONOSUPPORT: continue
        case .refused(let code):
          throw PortKitError(.socketTablesUnreadable, "netlink sock_diag failed (errno \(code)).", errno: code)
        }
      }
    }
    return entries
  }

  /// What the kernel said to one dump request.
  enum Answer {
    /// Every socket the dump held.
    case answered([SocketEntry])
    /// An error message (the errno), with nothing kept of what came before it.
    case refused(Int32)
  }

  /// Sends `request` on `fd` and reads its answer into `buffer` until the dump is done. A
  /// request the kernel does not take is an answer (`refused`); a socket that cannot send or
  /// receive is an error.
  private func dump(
    _ request: [UInt8], proto: TransportProtocol, fd: Int32, buffer: UnsafeMutableRawBufferPointer
  ) throws(PortKitError) -> Answer {
    let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    guard sent == request.count else {
      throw PortKitError(
        .socketTablesUnreadable, "netlink sock_diag refused the request (errno \(errno)).", errno: errno)
    }
    var sockets: [SocketEntry] = []
    while true {
      let count = recv(fd, buffer.baseAddress, buffer.count, 0)
      if count < 0, errno == EINTR { continue }
      guard count > 0 else {
        throw PortKitError(.socketTablesUnreadable, "netlink sock_diag answer failed (errno \(errno)).", errno: errno)
      }
      switch NetlinkDiag.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), proto: proto) {
      case .sockets(let batch, let finished):
        sockets += batch
        if finished { return .answered(sockets) }
      case .failed(let code):
        return .refused(code)
      }
    }
  }
}

/// Through `/proc/net/{tcp,tcp6,udp,udp6}`: everywhere procfs is, but the kernel walks the
/// whole connection hash for every read.
public struct ProcNetSocketTables: SocketTableReader {
  /// The procfs tree whose `net/` tables are read.
  public var reader: ProcfsReader

  /// A reader of `reader`'s `net/` tables.
  public init(reader: ProcfsReader) {
    self.reader = reader
  }

  /// The sockets `query` may want, read from `/proc/net`.
  public func sockets(for query: SocketQuery) throws(PortKitError) -> [SocketEntry] {
    var all = try reader.sockets(protocols: query.wantedProtocols)
    all.removeAll { !query.matches($0) }
    return all
  }
}

/// Tries each reader in turn; the first that answers wins.
public struct FallbackSocketTables: SocketTableReader {
  /// The readers, tried in order.
  public var readers: [any SocketTableReader]

  /// Tries `readers` in order.
  public init(_ readers: [any SocketTableReader]) {
    self.readers = readers
  }

  /// The first answer of a reader that does not fail.
  public func sockets(for query: SocketQuery) throws(PortKitError) -> [SocketEntry] {
    var lastError = PortKitError(.socketTablesUnreadable, "No way to read the socket tables worked.")
    for reader in readers {
      do {
        return try reader.sockets(for: query)
      } catch {
        lastError = error
      }
    }
    throw lastError
  }
}
#endif
