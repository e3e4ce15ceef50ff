#if canImport(Glibc) || canImport(Darwin)
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Bind probes through the BSD socket calls (Linux and macOS).
struct SocketBinder: PortBinder {
  var ipv6: IPv6Support

  /// `ipv6`: how this host binds `[::]`; read from the system when not given.
  init(ipv6: IPv6Support? = nil) {
    self.ipv6 = ipv6 ?? Self.hostIPv6()
  }

  func tryBind(_ endpoint: Endpoint, proto: TransportProtocol, reuseAddress: Bool) -> BindOutcome {
    tryBind(endpoint, proto: proto, reuseAddress: reuseAddress, v6Only: true)
  }

  func tryBind(_ endpoint: Endpoint, proto: TransportProtocol, reuseAddress: Bool, v6Only: Bool)
    -> BindOutcome
  {
    let family = endpoint.address.family == .ipv4 ? AF_INET : AF_INET6
    let fd = socket(family, Self.socketType(proto), 0)
    guard fd >= 0 else { return errno == EAFNOSUPPORT ? .familyUnsupported : .failed(errno: errno) }
    defer { close(fd) }
    var one: Int32 = 1
    if reuseAddress {
      _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    }
    let result: Int32
    switch endpoint.address {
    case .v4(let raw):
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
      // Set either way: the host default (bindv6only) must not decide what is probed.
      var flag: Int32 = v6Only ? 1 : 0
      _ = setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &flag, socklen_t(MemoryLayout<Int32>.size))
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

  private static func socketType(_ proto: TransportProtocol) -> Int32 {
    #if canImport(Glibc)
    Int32(proto == .tcp ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    #else
    proto == .tcp ? SOCK_STREAM : SOCK_DGRAM
    #endif
  }

  /// This host's IPv6: no IPv6 when an IPv6 socket cannot be made (EAFNOSUPPORT) or, on
  /// Linux, when this network namespace has no IPv6 address at all (`/proc/net/if_inet6`
  /// empty: `disable_ipv6`, or no interface up); `[::]` is dual-stack unless
  /// `net.ipv6.bindv6only` is 1.
  static func hostIPv6() -> IPv6Support {
    let fd = socket(AF_INET6, socketType(.udp), 0)
    guard fd >= 0 else { return IPv6Support(available: false, v6OnlyByDefault: false) }
    close(fd)
    #if os(Linux)
    let addresses = readSmallFile("/proc/net/if_inet6")
    let available = addresses.map { !$0.allSatisfy { $0 == 0x20 || $0 == 0x0A } } ?? true
    let bindV6Only = readSmallFile("/proc/sys/net/ipv6/bindv6only").map { $0.first == UInt8(ascii: "1") } ?? false
    return IPv6Support(available: available, v6OnlyByDefault: bindV6Only)
    #else
    // macOS: net.inet6.ip6.v6only defaults to 0 (dual-stack).
    var value: Int32 = 0
    var size = MemoryLayout<Int32>.size
    let v6Only = sysctlbyname("net.inet6.ip6.v6only", &value, &size, nil, 0) == 0 && value != 0
    return IPv6Support(available: true, v6OnlyByDefault: v6Only)
    #endif
  }

  #if os(Linux)
  /// Up to 4 KiB of a file; `nil` when it cannot be opened.
  private static func readSmallFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    var total = 0
    while total < buffer.count {
      let count = buffer[total...].withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if count < 0, errno == EINTR { continue }
      if count <= 0 { break }
      total += count
    }
    return Array(buffer[..<total])
  }
  #endif
}
#endif
