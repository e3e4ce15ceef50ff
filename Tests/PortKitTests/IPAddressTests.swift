import Testing

@testable import PortKit

@Suite struct IPAddressTests {
  @Test(arguments: [
    ("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "0.0.0.0"), ("255.255.255.255", "255.255.255.255"),
    ("::", "::"), ("::1", "::1"), ("fe80::1%12", "fe80::1"), ("2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
    ("2001:db8::", "2001:db8::"), ("::ffff:1.2.3.4", "::ffff:1.2.3.4"), ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
    ("1:0:0:2:0:0:0:3", "1:0:0:2::3"), ("0:0:1::", "0:0:1::"), ("::2:0:0:0:0:0:0", "0:2::"),
  ])
  func parsesAndPrintsCanonically(text: String, canonical: String) throws {
    let address = try #require(IPAddress(text))
    #expect(address.description == canonical)
    #expect(IPAddress(canonical) == address)
  }

  @Test(arguments: [
    "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-4", "a.b.c.d", ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9",
    "::g", "1.2.3.4%eth0", "fe80::1%", "01234::", " 1.2.3.4", "1:2:3:4:5:6:7::8:9",
  ])
  func rejectsNonAddresses(text: String) {
    #expect(IPAddress(text) == nil)
  }

  @Test func scopes() throws {
    #expect(IPAddress.anyV4.scope == .wildcard)
    #expect(IPAddress.anyV6.scope == .wildcard)
    #expect(try #require(IPAddress("127.3.2.1")).scope == .loopback)
    #expect(IPAddress.loopbackV6.scope == .loopback)
    #expect(try #require(IPAddress("::ffff:127.0.0.1")).scope == .loopback)
    #expect(try #require(IPAddress("fe80::abcd")).scope == .linkLocal)
    #expect(try #require(IPAddress("169.254.1.1")).scope == .linkLocal)
    #expect(try #require(IPAddress("192.168.1.10")).scope == .specific)
    #expect(try #require(IPAddress("2001:db8::1")).scope == .specific)
  }

  @Test func bytesAreInNetworkOrder() throws {
    #expect(try #require(IPAddress("1.2.3.4")).bytes == [1, 2, 3, 4])
    #expect(IPAddress.loopbackV6.bytes == [UInt8](repeating: 0, count: 15) + [1])
  }
}

@Suite struct BindCollisionTests {
  private func socket(_ address: String, v6Only: Bool? = nil) throws -> SocketEntry {
    SocketEntry(
      proto: .tcp, local: Endpoint(address: try #require(IPAddress(address)), port: 3000), state: .listen, id: 1,
      v6Only: v6Only)
  }
  private func ip(_ text: String) throws -> IPAddress { try #require(IPAddress(text)) }

  @Test func equalAndWildcardAddressesCollide() throws {
    #expect(try socket("127.0.0.1").blocksBind(of: ip("127.0.0.1")))
    #expect(try socket("0.0.0.0").blocksBind(of: ip("127.0.0.1")))
    #expect(try socket("127.0.0.1").blocksBind(of: ip("0.0.0.0")))
    #expect(try !socket("127.0.0.1").blocksBind(of: ip("10.0.0.1")))
    #expect(try socket("::1").blocksBind(of: ip("::1")))
    #expect(try socket("::").blocksBind(of: ip("::1")))
  }

  @Test func dualStackWildcardCoversIPv4UnlessV6Only() throws {
    #expect(try socket("::").blocksBind(of: ip("127.0.0.1")))
    #expect(try socket("::", v6Only: false).blocksBind(of: ip("0.0.0.0")))
    #expect(try !socket("::", v6Only: true).blocksBind(of: ip("127.0.0.1")))
    #expect(try !socket("::1").blocksBind(of: ip("127.0.0.1")))
    #expect(try !socket("127.0.0.1").blocksBind(of: ip("::1")))
    #expect(try socket("127.0.0.1").blocksBind(of: ip("::")))
    #expect(try socket("::ffff:127.0.0.1").blocksBind(of: ip("127.0.0.1")))
  }
}

@Suite struct SocketEntryStorageTests {
  @Test func everyFieldRoundTripsThroughThePackedStorage() {
    let v6 = IPAddress("fe80::1:2:3")!
    var entry = SocketEntry(
      proto: .udp, local: Endpoint(address: v6, port: 65535), remote: Endpoint(address: .loopbackV4, port: 1),
      state: .newSynReceived, uid: 4_294_967_295, id: .max, v6Only: false,
      timer: SocketTimer(kind: .zeroWindowProbe, remainingSeconds: 59.99))
    #expect(entry.proto == .udp && entry.local == Endpoint(address: v6, port: 65535))
    #expect(entry.remote == Endpoint(address: .loopbackV4, port: 1))
    #expect(entry.state == .newSynReceived && entry.uid == 4_294_967_295 && entry.id == .max)
    #expect(entry.v6Only == false)
    #expect(entry.timer == SocketTimer(kind: .zeroWindowProbe, remainingSeconds: 59.99))
    entry.local = Endpoint(address: .v4(0xC0A8_0001), port: 80)
    entry.remote = nil
    entry.timer = nil
    entry.uid = nil
    entry.v6Only = nil
    entry.proto = .tcp
    for state in SocketState.allCases {
      entry.state = state
      #expect(entry.state == state)
    }
    #expect(entry.local.description == "192.168.0.1:80" && entry.remote == nil && entry.timer == nil)
    #expect(entry.uid == nil && entry.v6Only == nil && entry.proto == .tcp)
    // Copies compare by value, the boxed peer included.
    let a = SocketEntry(
      proto: .tcp, local: Endpoint(address: .loopbackV6, port: 2), remote: Endpoint(address: .anyV6, port: 3),
      state: .established, id: 9)
    let b = SocketEntry(
      proto: .tcp, local: Endpoint(address: .loopbackV6, port: 2), remote: Endpoint(address: .anyV6, port: 3),
      state: .established, id: 9)
    #expect(a == b && a.hashValue == b.hashValue)
    #expect(Set([a, b, entry]).count == 2)
    // A listing holds tens of thousands of these.
    #expect(MemoryLayout<SocketEntry>.stride <= 48)
  }
}
