#if canImport(Glibc) || canImport(Darwin)
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Bind probes through the BSD socket calls (Linux and macOS).
public struct SocketBinder: PortBinder {
  public init() {}

  public func tryBind(_ endpoint: Endpoint, proto: TransportProtocol, reuseAddress: Bool) -> BindOutcome {
    let family = endpoint.address.family == .ipv4 ? AF_INET : AF_INET6
    #if canImport(Glibc)
    let type = Int32(proto == .tcp ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    #else
    let type = proto == .tcp ? SOCK_STREAM : SOCK_DGRAM
    #endif
    let fd = socket(family, type, 0)
    guard fd >= 0 else { return errno == EAFNOSUPPORT ? .familyUnsupported : .failed(errno: errno) }
    defer { close(fd) }
    var one: Int32 = 1
    if reuseAddress {
      _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    }
    let result: Int32
    switch endpoint.address {
    case .v4(let raw):
      // Each family alone: an IPv6 probe must not also claim IPv4.
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      #if canImport(Darwin)
      address.sin_len = UInt8(MemoryLayout<sockaddr_in>.size)
      #endif
      address.sin_port = endpoint.port.bigEndian
      address.sin_addr.s_addr = raw.bigEndian
      result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
      }
    case .v6:
      _ = setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
      var address = sockaddr_in6()
      address.sin6_family = sa_family_t(AF_INET6)
      #if canImport(Darwin)
      address.sin6_len = UInt8(MemoryLayout<sockaddr_in6>.size)
      #endif
      address.sin6_port = endpoint.port.bigEndian
      let bytes = endpoint.address.bytes
      withUnsafeMutableBytes(of: &address.sin6_addr) { raw in
        for index in 0..<min(16, raw.count) { raw[index] = bytes[index] }
      }
      result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
        }
      }
    }
    if result == 0 { return .bindable }
    switch errno {
    case EADDRINUSE: return .inUse
    case EACCES, EPERM: return .permissionDenied
    case EADDRNOTAVAIL: return .addressUnavailable
    case EAFNOSUPPORT: return .familyUnsupported
    case let code: return .failed(errno: code)
    }
  }
}
#endif
