#if os(Linux)
import Foundation
import Testing

@Suite(.serialized) struct WhoTests {
  @Test func tcpOnLoopbackNamesTheHolder() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let result = try portctl("who", "\(holder.port)")
    #expect(result.status == 0, "\(result.stderr)")
    let lines = result.stdout.split(separator: "\n").map(String.init)
    #expect(lines.first?.hasPrefix("PROTO  LOCAL") == true)
    let row = try #require(lines.first { $0.contains("127.0.0.1:\(holder.port)") })
    #expect(row.hasPrefix("tcp "))
    #expect(row.contains(" LISTEN "))
    #expect(row.contains(" \(holder.pid) "))
    #expect(row.contains("port-holder tcp:127.0.0.1:0"))
    // Details: executable and working directory for the same pid.
    #expect(lines.contains { $0.hasPrefix("\(holder.pid) ") && $0.contains(Products.holder.path) })
    #expect(!result.stdout.contains("\u{1B}["), "no colour when stdout is not a terminal")
  }

  @Test func defaultCommandAndColonFormAreWho() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let bare = try portctl("\(holder.port)", "--json")
    #expect(bare.status == 0)
    #expect(try bare.json().sockets.pids == [Int(holder.pid)])
    let colon = try portctl("who", ":\(holder.port)", "--json")
    #expect(try colon.json().sockets.pids == [Int(holder.pid)])
  }

  @Test func jsonDocumentCarriesEveryField() throws {
    let spawned = Date()
    let holder = try Holder("tcp:127.0.0.1:0")
    let result = try portctl("who", "\(holder.port)", "--json")
    #expect(result.status == 0)
    #expect(result.stderr.isEmpty)
    let document = try result.json()
    #expect(document["schemaVersion"] as? Int == 1)
    #expect(document["command"] as? String == "who")
    #expect(document["exitCode"] as? Int == 0)
    #expect(document["held"] as? Bool == true)
    #expect(document["error"] is NSNull)
    let query = try #require((document["query"] as? [[String: Any]])?.first)
    #expect(query["firstPort"] as? Int == Int(holder.port))
    let socket = try #require(document.sockets.first)
    #expect(document.sockets.count == 1)
    #expect(socket["protocol"] as? String == "tcp")
    #expect(socket["family"] as? String == "ipv4")
    #expect(socket["localAddress"] as? String == "127.0.0.1")
    #expect(socket["localPort"] as? Int == Int(holder.port))
    #expect(socket["addressScope"] as? String == "loopback")
    #expect(socket["state"] as? String == "LISTEN")
    #expect(socket["listening"] as? Bool == true)
    #expect(socket["owner"] as? String == "processes")
    #expect(socket["uid"] as? Int == Int(geteuid()))
    #expect((socket["id"] as? Int ?? 0) > 0)
    let process = try #require((socket["processes"] as? [[String: Any]])?.first)
    #expect(process["pid"] as? Int == Int(holder.pid))
    #expect(process["ppid"] as? Int == Int(getpid()))
    #expect(process["uid"] as? Int == Int(geteuid()))
    #expect(process["name"] as? String == "port-holder")
    #expect(process["executable"] as? String == Products.holder.path)
    #expect(process["cwd"] as? String == FileManager.default.currentDirectoryPath)
    #expect((process["commandLine"] as? [String])?.dropFirst() == ["tcp:127.0.0.1:0", "--lifeline"])
    #expect(process["role"] as? String == "sole")
    #expect(process["sharesWith"] is NSNull)
    #expect((process["fds"] as? [Int])?.count == 1)
    // Started after `spawned`. The start time is the boot time (/proc/stat's btime, whole
    // seconds) plus clock ticks, so it may read up to a second (and a tick) early.
    let uptime = try #require(process["uptimeSeconds"] as? Double)
    let since = Date().timeIntervalSince(spawned)
    #expect(uptime >= 0 && uptime <= since + 1.01, "uptime \(uptime) s, started \(since) s ago")
    #expect((process["startTime"] as? String)?.hasSuffix("Z") == true)
  }

  /// STARTED is local time: the C library's zone (`TZ`), not the UTC that FoundationEssentials
  /// alone would give.
  @Test(arguments: [("IST-5:30", 19_800), ("EST+5", -18_000), ("UTC0", 0)])
  func startedColumnIsInTheLocalZone(zone: String, offset: Int) throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let json = try portctl("who", "127.0.0.1:\(holder.port)", "--json").json()
    let socket = try #require((json["sockets"] as? [[String: Any]])?.first)
    let process = try #require((socket["processes"] as? [[String: Any]])?.first)
    let startTime = try #require(process["startTime"] as? String)
    let utc = try #require(ISO8601DateFormatter().date(from: startTime))
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(secondsFromGMT: offset)
    formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
    let expected = formatter.string(from: utc)
    let text = try portctl("who", "127.0.0.1:\(holder.port)", environment: ["TZ": zone])
    let row = try #require(text.stdout.split(separator: "\n").first { $0.hasPrefix("\(holder.pid) ") })
    #expect(row.contains(expected), "STARTED in \(zone) should be \(expected): \(row)")
  }

  @Test func ipv6OnlyLoopback() throws {
    let holder = try Holder("tcp:[::1]:0", "--v6only")
    let result = try portctl("who", "[::1]:\(holder.port)", "--json")
    #expect(result.status == 0)
    let socket = try #require(try result.json().sockets.first)
    #expect(socket["family"] as? String == "ipv6")
    #expect(socket["localAddress"] as? String == "::1")
    #expect(try result.json().sockets.pids == [Int(holder.pid)])
    // ::1 does not collide with 127.0.0.1.
    let v4 = try portctl("who", "127.0.0.1:\(holder.port)")
    #expect(v4.status == 1)
    #expect(v4.stdout == "nothing listening on 127.0.0.1:\(holder.port)\n")
  }

  @Test func dualStackWildcardBlocksIPv4Addresses() throws {
    let holder = try Holder("tcp:[::]:0")
    let plain = try portctl("who", "\(holder.port)")
    #expect(plain.status == 0)
    #expect(plain.stdout.contains("[::]:\(holder.port)"))
    for spec in ["127.0.0.1:\(holder.port)", "0.0.0.0:\(holder.port)", "[::1]:\(holder.port)"] {
      let result = try portctl("who", spec, "--json")
      #expect(result.status == 0, "\(spec)")
      #expect(try result.json().sockets.pids == [Int(holder.pid)], "\(spec)")
      #expect(try result.json().sockets.first?["addressScope"] as? String == "wildcard")
    }
  }

  @Test func udpIsFoundWithEitherQualifier() throws {
    let holder = try Holder("udp:0.0.0.0:0")
    for spec in ["\(holder.port)", "udp:\(holder.port)", "\(holder.port)/udp"] {
      let result = try portctl("who", spec, "--json")
      #expect(result.status == 0, "\(spec)")
      let socket = try #require(try result.json().sockets.first)
      #expect(socket["protocol"] as? String == "udp")
      #expect(socket["state"] as? String == "UNCONN")
      #expect(try result.json().sockets.pids == [Int(holder.pid)])
    }
    let tcp = try portctl("who", "tcp:\(holder.port)")
    #expect(tcp.status == 1)
    let onlyTCP = try portctl("who", "\(holder.port)", "--tcp")
    #expect(onlyTCP.status == 1)
  }

  @Test func forkedChildrenAreAllListedWithTheParentMarked() throws {
    let holder = try Holder("tcp:127.0.0.1:0", "--fork", "2")
    try #require(holder.children.count == 2)
    let result = try portctl("who", "\(holder.port)", "--json")
    #expect(result.status == 0)
    let processes = try #require(try result.json().sockets.first?["processes"] as? [[String: Any]])
    #expect(processes.map { $0["pid"] as? Int } == [Int(holder.pid)] + holder.children.sorted().map(Int.init))
    #expect(processes.map { $0["role"] as? String } == ["parent", "child", "child"])
    #expect(processes.dropFirst().allSatisfy { $0["sharesWith"] as? Int == Int(holder.pid) })
    #expect(processes.dropFirst().allSatisfy { $0["ppid"] as? Int == Int(holder.pid) })

    let text = try portctl("who", "\(holder.port)")
    for child in holder.children { #expect(text.stdout.contains("└ \(child) ")) }
    let children = holder.children.sorted().map(String.init).joined(separator: ", ")
    #expect(text.stdout.contains("\(children) share the socket with their parent \(holder.pid)"))
  }

  @Test func reusePortGroupListsBothProcesses() throws {
    let first = try Holder("tcp:127.0.0.1:0", "--reuseport")
    let second = try Holder("tcp:127.0.0.1:\(first.port)", "--reuseport")
    let result = try portctl("who", "\(first.port)", "--json")
    #expect(result.status == 0)
    let sockets = try result.json().sockets
    #expect(sockets.count == 2)
    #expect(Set(sockets.pids) == [Int(first.pid), Int(second.pid)])
    #expect(sockets.allSatisfy { $0["localPort"] as? Int == Int(first.port) })
  }

  @Test func severalPortsRangesAndLists() throws {
    let a = try Holder("tcp:127.0.0.1:0")
    let b = try Holder("udp:127.0.0.1:0")
    let free = try unusedPort()
    let result = try portctl("who", "\(a.port),\(b.port)", "\(free)", "--json")
    #expect(result.status == 0)
    #expect(Set(try result.json().sockets.pids) == [Int(a.pid), Int(b.pid)])
    let text = try portctl("who", "\(a.port)", "\(free)")
    #expect(text.status == 0)
    #expect(text.stdout.hasSuffix("nothing listening on \(free)\n"))
    let low = min(a.port, b.port)
    let high = max(a.port, b.port)
    let range = try portctl("who", "\(low)-\(high)", "--json")
    #expect(Set(try range.json().sockets.pids).isSuperset(of: [Int(a.pid), Int(b.pid)]))
  }

  @Test func freePortExitsOne() throws {
    let port = try unusedPort()
    let result = try portctl("who", "\(port)")
    #expect(result.status == 1)
    #expect(result.stdout == "nothing listening on \(port)\n")
    let json = try portctl("who", "\(port)", "--json")
    #expect(json.status == 1)
    #expect(try json.json()["held"] as? Bool == false)
    #expect(try json.json()["exitCode"] as? Int == 1)
    #expect(try json.json().sockets.isEmpty)
  }

  @Test func quietPrintsNothing() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let held = try portctl("who", "\(holder.port)", "-q")
    #expect(held.status == 0)
    #expect(held.stdout.isEmpty && held.stderr.isEmpty)
    let free = try portctl("who", "\(try unusedPort())", "--quiet")
    #expect(free.status == 1)
    #expect(free.stdout.isEmpty && free.stderr.isEmpty)
  }

  @Test func allAddsConnections() throws {
    let holder = try Holder("tcp:127.0.0.1:0", "--self-connect")
    let listeners = try portctl("who", "\(holder.port)", "--json")
    #expect(try listeners.json().sockets.map { $0["state"] as? String } == ["LISTEN"])
    let all = try portctl("who", "\(holder.port)", "--all", "--json")
    let states = try all.json().sockets.map { $0["state"] as? String }
    #expect(states == ["LISTEN", "ESTABLISHED"])
    let established = try #require(try all.json().sockets.last)
    #expect(established["remoteAddress"] as? String == "127.0.0.1")
    #expect(established["remotePort"] is Int)
    let text = try portctl("who", "\(holder.port)", "-a")
    #expect(text.stdout.contains("REMOTE"))
    #expect(text.stdout.contains("ESTABLISHED"))
  }

  @Test func timeWaitAloneDoesNotHoldThePort() throws {
    let holder = try Holder("tcp:127.0.0.1:0", "--time-wait")
    let listeners = try portctl("who", "\(holder.port)")
    #expect(listeners.status == 1)
    #expect(listeners.stdout == "nothing listening on \(holder.port)\n")
    let all = try portctl("who", "\(holder.port)", "--all", "--json")
    #expect(all.status == 1)
    let document = try all.json()
    #expect(document["held"] as? Bool == false)
    let socket = try #require(document.sockets.first)
    #expect(document.sockets.count == 1)
    #expect(socket["state"] as? String == "TIME_WAIT")
    #expect(socket["owner"] as? String == "none")
    #expect(socket["id"] as? Int == 0)
    let timer = try #require(socket["timer"] as? [String: Any])
    #expect(timer["kind"] as? String == "timeWait")
    let remaining = try #require(timer["remainingSeconds"] as? Double)
    #expect(remaining > 0 && remaining <= 60)
    let text = try portctl("who", "\(holder.port)", "--all")
    #expect(text.status == 1)
    #expect(text.stdout.contains("TIME_WAIT"))
    #expect(text.stdout.contains("(no process; "))
    #expect(
      text.stdout.contains(
        "nothing holds \(holder.port): only 1 TIME_WAIT socket remains, owned by no process; it closes by itself"))
  }

  @Test(arguments: [
    ("0", "port 0"), ("65536", "above the highest port"), ("-1", "not negative"), ("abc", "not a port number"),
    ("3010-3000", "runs backwards"), ("", "empty"), ("[::1", "closing ']'"), ("65530-65540", "above the highest port"),
    ("300.1.1.1:80", "not an IP address"), ("--bogus", "unknown option '--bogus'"),
  ])
  func badSpecsExit64NamingTheToken(spec: String, reason: String) throws {
    let result = try portctl("who", spec)
    #expect(result.status == 64)
    #expect(result.stdout.isEmpty)
    #expect(result.stderr.contains(reason), "\(result.stderr)")
    if !spec.hasPrefix("--") {
      #expect(result.stderr.contains("'\(spec)'"))
      #expect(result.stderr.contains("Accepted forms: 3000, :3000, 3000-3010"))
    }
    let json = try portctl("who", spec, "--json")
    #expect(json.status == 64)
    let document = try json.json()
    #expect(document["exitCode"] as? Int == 64)
    let error = try #require(document["error"] as? [String: Any])
    #expect(error["code"] as? String == "usage")
    #expect((error["message"] as? String)?.contains(reason) == true)
  }

  @Test func missingPortIsAUsageError() throws {
    let result = try portctl("who")
    #expect(result.status == 64)
    #expect(result.stderr.contains("missing port"))
  }

  /// Bare `portctl` lists the listeners, as `portctl list` does.
  @Test func barePortctlLists() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let bare = try portctl([])
    #expect(bare.status == 0, "\(bare.stderr)")
    #expect(bare.stdout.hasPrefix("PROTO  LOCAL"))
    let row = try #require(bare.stdout.split(separator: "\n").first { $0.contains("127.0.0.1:\(holder.port) ") })
    #expect(row.contains("\(holder.pid)"))
  }

  /// A mistyped subcommand is read as a port spec, and refused with the command it most
  /// likely meant; a word near no command gets no guess.
  @Test(arguments: [("lsit", "list"), ("chek", "check"), ("explian", "explain"), ("fre", "free"), ("whi", "who")])
  func mistypedCommandGetsASuggestion(typed: String, meant: String) throws {
    let result = try portctl(typed, "3000")
    #expect(result.status == 64)
    #expect(result.stderr.contains("Did you mean `portctl \(meant)`?"), "\(result.stderr)")
  }

  @Test func wordNearNoCommandGetsNoGuess() throws {
    let result = try portctl("xyzzy")
    #expect(result.status == 64)
    #expect(result.stderr.contains("'xyzzy' is not a port number"))
    #expect(!result.stderr.contains("Did you mean"))
  }
}
#endif
