import Testing

@testable import PortKit

/// Browser-restricted ports and stable ports, on a fake binder.
@Suite struct PortFinderTrustTests {
  private func finder(busy: Set<UInt16> = [], reservations: PortReservations = PortReservations(proto: .tcp))
    -> PortFinder
  {
    PortFinder(
      probe: BindProbe(binder: PortFinderTests.FakeBinder(busy: busy)), reservations: reservations,
      privileges: BindPrivileges(unprivilegedPortStart: 1024, mayBindPrivileged: false, reason: nil))
  }

  @Test func browserRestrictedPortsAreSkippedUnlessTheRangeAsksForThem() {
    let (ports, skipped) = finder().find(.init(range: 5998...6002, from: 5998, count: 5))
    #expect(ports == [5998, 5999, 6001, 6002])
    #expect(skipped == [.browserRestricted: 1])
    let (irc, ircSkipped) = finder().find(.init(range: 6660...6700, from: 6665, count: 1))
    #expect(irc == [6670])
    #expect(ircSkipped == [.browserRestricted: 5])
    let (asked, _) = finder().find(.init(range: 6000...6000, count: 1, explicitRange: true))
    #expect(asked == [6000])
  }

  @Test func bothBrowsersListsAreIncluded() {
    // Chromium's kRestrictedPorts: 10080 (Amanda), 6697 (IRC over TLS); Firefox's
    // gBadPortList adds 4190 (sieve) and 6679.
    for port: UInt16 in [1, 6000, 6665, 6669, 6697, 10080, 4190, 6679, 5060, 2049] {
      #expect(BrowserRestrictedPorts.contains(port), "\(port)")
    }
    for port: UInt16 in [3000, 5173, 6670, 8080, 10081] { #expect(!BrowserRestrictedPorts.contains(port), "\(port)") }
  }

  @Test func theStableHashIsFNV1aAndFixed() {
    // The published FNV-1a 64-bit test vectors.
    #expect(PortFinder.fnv1a([]) == 0xcbf2_9ce4_8422_2325)
    #expect(PortFinder.fnv1a(Array("a".utf8)) == 0xaf63_dc4c_8601_ec8c)
    #expect(PortFinder.fnv1a(Array("foobar".utf8)) == 0x8594_4171_f739_67e8)
  }

  @Test func aStableKeyStartsAtItsPortAndMovesOnWhenItIsTaken() throws {
    let request = PortFinder.Request(range: 20000...20009, count: 1, stableKey: "/home/alice/shop")
    let start = try #require(finder().stableStart(for: "/home/alice/shop", request))
    #expect(finder().find(request).ports == [start])
    #expect(finder().find(request).ports == [start])
    // Taken: the next free one after it, wrapping within the range.
    let next = start == 20009 ? 20000 : start + 1
    #expect(finder(busy: [start]).find(request).ports == [next])
    // --count: the free ports from the start on.
    var three = request
    three.count = 3
    #expect(finder().find(three).ports.first == start)
    #expect(finder().find(three).ports.count == 3)
    // Keys spread over the range: ten keys do not all land on one port.
    let starts = Set((0..<10).compactMap { finder().stableStart(for: "project-\($0)", request) })
    #expect(starts.count > 1)
    // The start is a port find would print: never one passed over before any bind.
    let wide = PortFinder.Request(range: 5990...6010, count: 1, stableKey: "x")
    for key in (0..<50).map({ "key-\($0)" }) {
      let port = try #require(finder().stableStart(for: key, wide))
      #expect(port != 6000)
    }
  }
}

/// What `run` gives the program.
@Suite struct PortHandoffTests {
  @Test func everyPlaceholderIsReplacedAndTheVariableIsSetOnce() {
    #expect(
      PortHandoff.substitute(["serve", "--port={port}", "http://localhost:{port}/{port}", "{PORT}"], port: 4321)
        == ["serve", "--port=4321", "http://localhost:4321/4321", "{PORT}"])
    #expect(
      PortHandoff.environment(["HOME=/root", "PORT=80", "PORTS=1", "APP_PORT=2"], variable: "PORT", port: 4321)
        == ["HOME=/root", "PORTS=1", "APP_PORT=2", "PORT=4321"])
  }

  @Test func aSignalsEndIsStatus128PlusItsNumber() {
    #expect(ChildExit.exited(code: 3).status == 3)
    #expect(ChildExit.signalled(signal: 15).status == 143)
    #expect(ChildExit.signalled(signal: 9).status == 137)
  }
}
