#if os(Linux)
import Foundation
import Testing

/// `find` you can trust: no port a browser refuses, a stable port per key, and a host
/// without IPv6.
@Suite(.serialized) struct FindTrustTests {
  /// Chrome's and Firefox's lists, as the tests know them (a few of each).
  static let browserRefuses: Set<Int> = [5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080]

  @Test func neverPrintsABrowserRestrictedPortByDefault() throws {
    let x11 = try portctl("find", "--from", "6000", "--json")
    #expect(x11.status == 0, "\(x11.stderr)")
    let document = try x11.json()
    let first = try #require((document["ports"] as? [Int])?.first)
    #expect(first != 6000)
    #expect((document["skipped"] as? [String: Int])?["browser-restricted"] ?? 0 >= 1)
    let irc = try portctl("find", "--from", "6665")
    let port = try #require(Int(irc.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    #expect(!(6665...6669).contains(port))
    #expect(port >= 6670)
    // A thousand ports from 5800 on (past 6000, 6566, 6665-6669, 6679, 6697): none of
    // them one a browser refuses.
    let many = try portctl("find", "--from", "5800", "--count", "1000")
    let ports = many.stdout.split(separator: "\n").compactMap { Int($0) }
    #expect(ports.count == 1000)
    #expect(Self.browserRefuses.isDisjoint(with: ports), "\(Self.browserRefuses.intersection(ports))")
    #expect(ports.contains { $0 > 6700 }, "the search did not pass the restricted ports")
  }

  @Test func anExplicitRangeMayPrintARestrictedPort() throws {
    // Only when nothing on this machine holds 6000 (an X server would).
    guard canBind(6000), canBindLoopback(6000) else { return }
    let result = try portctl("find", "--range", "6000-6000")
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout == "6000\n")
  }

  @Test func stableGivesTheSamePortForAKeyAndTheNextFreeOneWhenItIsTaken() throws {
    let key = "/srv/project-\(getpid())"
    let first = try portctl("find", "--stable", key)
    #expect(first.status == 0, "\(first.stderr)")
    let port = try #require(UInt16(first.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    #expect(try portctl("find", "--stable", key).stdout == first.stdout)
    // Other keys usually land elsewhere: of five, at least one does.
    var others: Set<String> = []
    for index in 0..<5 { others.insert(try portctl("find", "--stable", "\(key)-\(index)").stdout) }
    #expect(others.contains { $0 != first.stdout })
    // --count: the stable port, then the free ones after it.
    let three = try portctl("find", "--stable", key, "--count", "3")
    #expect(three.stdout.hasPrefix(first.stdout))
    #expect(three.stdout.split(separator: "\n").count == 3)
    // Held by a real process: the next free port, exactly what a search from it finds.
    let holder = try Holder("tcp:0.0.0.0:\(port)")
    let taken = try portctl("find", "--stable", key)
    let next = try portctl("find", "--from", "\(port)")
    #expect(taken.status == 0)
    #expect(taken.stdout != first.stdout)
    #expect(taken.stdout == next.stdout)
    holder.stop()
    holder.process.waitUntilExit()
    #expect(eventually { try! portctl("find", "--stable", key).stdout == first.stdout })
  }

  @Test func stableStaysInsideTheRangeAndRefusesRandomAndFrom() throws {
    let result = try portctl("find", "--stable", "web", "--range", "20000-20999", "--json")
    let document = try result.json()
    let port = try #require((document["ports"] as? [Int])?.first)
    #expect((20000...20999).contains(port))
    #expect(document["stableKey"] as? String == "web")
    #expect(
      (try portctl("find", "--stable", "web", "--range", "20000-20999", "--json").json()["ports"] as? [Int]) == [port])
    let random = try portctl("find", "--stable", "web", "--random")
    #expect(random.status == 64)
    #expect(random.stderr.contains("--stable and --random exclude each other"))
    #expect(try portctl("find", "--stable", "web", "--from", "4000").status == 64)
  }

  static let canUnshare = isRoot && Programs.installed("/usr/bin/unshare", "/usr/sbin/ip")

  /// A network namespace with IPv6 disabled: find (default search, --stable) checks
  /// 0.0.0.0 alone and finds ports, instead of none.
  @Test(.enabled(if: canUnshare, "needs root, unshare and ip: a network namespace without IPv6"))
  func withoutIPv6FindChecksIPv4Only() throws {
    let script = """
      set -u
      ip link set lo up
      echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
      echo 1 > /proc/sys/net/ipv6/conf/lo/disable_ipv6
      echo "inet6: $(wc -l < /proc/net/if_inet6)"
      "\(Products.portctl.path)" find --count 2; echo "status=$?"
      "\(Products.portctl.path)" find --stable somekey; echo "status=$?"
      "\(Products.portctl.path)" find --stable somekey; echo "status=$?"
      """
    let result = try run(URL(fileURLWithPath: "/usr/bin/unshare"), ["--net", "sh", "-c", script])
    let lines = result.stdout.split(separator: "\n").map(String.init)
    #expect(lines.first == "inet6: 0", "\(result.stdout) \(result.stderr)")
    #expect(lines.filter { $0.hasPrefix("status=") } == ["status=0", "status=0", "status=0"], "\(result.stdout)")
    let ports = lines.compactMap { Int($0) }
    #expect(ports.count == 4, "\(result.stdout)")
    #expect(ports.count == 4 && ports[0] == 3000 && ports[1] == 3001 && ports[2] == ports[3], "\(ports)")
  }
}
#endif
