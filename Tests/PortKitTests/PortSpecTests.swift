import Testing

@testable import PortKit

@Suite struct PortSpecTests {
  private func one(_ text: String) throws -> PortSpec {
    let specs = try PortSpec.parseList(text)
    try #require(specs.count == 1)
    return specs[0]
  }

  @Test func plainPortAndColonForm() throws {
    #expect(try one("3000") == PortSpec(ports: 3000...3000, text: "3000"))
    #expect(try one(":3000").ports == 3000...3000)
    #expect(try one(":3000").address == nil)
    #expect(try one("1").ports == 1...1)
    #expect(try one("65535").ports == 65535...65535)
  }

  @Test func rangesAndLists() throws {
    #expect(try one("3000-3010").ports == 3000...3010)
    #expect(try one("1-65535").ports == 1...65535)
    #expect(try one("3000-3000").ports == 3000...3000)
    let list = try PortSpec.parseList("3000,8080,5000-5010")
    #expect(list.map(\.ports) == [3000...3000, 8080...8080, 5000...5010])
    #expect(list.map(\.text) == ["3000", "8080", "5000-5010"])
  }

  @Test func protocolQualifiers() throws {
    #expect(try one("udp:53").proto == .udp)
    #expect(try one("53/udp").proto == .udp)
    #expect(try one("tcp:80").proto == .tcp)
    #expect(try one("80/tcp").proto == .tcp)
    #expect(try one("UDP:53").proto == .udp)
    #expect(try one("3000").proto == nil)
    #expect(
      try one("udp:[::1]:5353")
        == PortSpec(ports: 5353...5353, proto: .udp, address: .loopbackV6, text: "udp:[::1]:5353"))
    #expect(try one("127.0.0.1:3000-3010/tcp").ports == 3000...3010)
  }

  @Test func addressQualifiers() throws {
    #expect(try one("127.0.0.1:3000").address == .loopbackV4)
    #expect(try one("[::1]:3000").address == .loopbackV6)
    #expect(try one("0.0.0.0:3000").address == .anyV4)
    #expect(try one("[::]:3000").address == .anyV6)
    #expect(try one("[fe80::1%eth0]:3000").address == IPAddress("fe80::1"))
  }

  @Test(arguments: [
    ("0", "port 0"), ("65536", "above the highest port"), ("-1", "not negative"), ("abc", "not a port number"),
    ("3010-3000", "runs backwards"), ("", "empty"), ("[::1", "closing ']'"), ("70000-70010", "above the highest port"),
    ("3000-70000", "above the highest port"), ("1.2.3:80", "not an IP address"),
    ("example.com:80", "not an IP address"),
    ("localhost:3000", "127.0.0.1:3000 or [::1]:3000"), ("::1:80", "brackets"), ("[::1]", "':PORT'"),
    ("[1.2.3.4]:80", "not an IPv6 address"), ("[::1]80", "':PORT'"), ("3000,,8080", "empty item"), (",", "empty item"),
    ("tcp:", "missing port"), ("3000-", "missing port"), ("99999999999999999999", "above the highest port"),
    ("+80", "not a port number"), ("sctp:80", "not an IP address"), ("3000/quic", "not a port number"),
    ("127.0.0.1:", "missing port"), ("   ", "empty"),
  ])
  func refusesBadInputNamingTheToken(text: String, reason: String) {
    do {
      _ = try PortSpec.parseList(text)
      Issue.record("accepted '\(text)'")
    } catch {
      #expect(error.description.contains("'\(text)'"), "\(error)")
      #expect(error.description.contains(reason), "\(error)")
      #expect(error.description.contains(PortSpec.acceptedForms))
    }
  }

  @Test func matchingHonoursPortProtocolAndAddress() throws {
    let listener = SocketEntry(
      proto: .tcp, local: Endpoint(address: .anyV6, port: 3000), state: .listen, id: 9)
    #expect(try one("3000").matches(listener))
    #expect(try one("2990-3005").matches(listener))
    #expect(try !one("3001").matches(listener))
    #expect(try !one("udp:3000").matches(listener))
    #expect(try one("127.0.0.1:3000").matches(listener))
    #expect(try one("[::1]:3000").matches(listener))
  }
}
