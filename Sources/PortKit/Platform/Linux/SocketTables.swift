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

/// Through netlink sock_diag: one dump per protocol and family, the state filter and the
/// asked ports applied by the kernel (a listeners-only query never walks the connection
/// hash; `who 3000` gets back only port 3000's sockets). Knows IPV6_V6ONLY, which
/// `/proc/net` does not show.
public struct NetlinkSocketTables: SocketTableReader {
  /// A reader of the live kernel's tables.
  public init() {}

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
      for family in AddressFamily.allCases {
        let request = NetlinkDiag.dumpRequest(
          family: family, proto: proto, states: NetlinkDiag.states(proto, listenersOnly: listenersOnly),
          sequence: sequence, ports: query.portRanges(for: proto))
        sequence += 1
        let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == request.count else {
          throw PortKitError(
            .socketTablesUnreadable, "netlink sock_diag refused the request (errno \(errno)).", errno: errno)
        }
        receive: while true {
          let count = recv(fd, buffer.baseAddress, buffer.count, 0)
          if count < 0, errno == EINTR { continue }
          guard count > 0 else {
            throw PortKitError(
              .socketTablesUnreadable, "netlink sock_diag answer failed (errno \(errno)).", errno: errno)
          }
          switch NetlinkDiag.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), proto: proto) {
          case .sockets(let batch, let finished):
            entries += batch
            if finished { break receive }
          case .failed(let code):
            // A family the kernel lacks (IPv6 disabled) answers ENOENT or EAFNOSUPPORT: skip it.
            if code == ENOENT || code == EAFNOSUPPORT || code == EPROTONOSUPPORT { break receive }
            throw PortKitError(.socketTablesUnreadable, "netlink sock_diag failed (errno \(code)).", errno: code)
          }
        }
      }
    }
    return entries
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
