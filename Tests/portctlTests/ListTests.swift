#if os(Linux)
import Foundation
import Testing

@Suite(.serialized) struct ListTests {
  @Test func listsEveryListenerSortedByPort() throws {
    let tcp = try Holder("tcp:127.0.0.1:0")
    let udp = try Holder("udp:[::1]:0")
    let result = try portctl("list", "--json")
    #expect(result.status == 0)
    let document = try result.json()
    #expect(document["command"] as? String == "list")
    #expect(document["query"] is NSNull)
    let ports = document.sockets.compactMap { $0["localPort"] as? Int }
    #expect(ports == ports.sorted())
    #expect(document.sockets.allSatisfy { $0["listening"] as? Bool == true })
    let pids = document.sockets.pids
    #expect(pids.contains(Int(tcp.pid)) && pids.contains(Int(udp.pid)))
    let text = try portctl("list")
    #expect(text.stdout.contains("127.0.0.1:\(tcp.port)"))
    #expect(text.stdout.contains("[::1]:\(udp.port)"))
  }

  @Test func aCrowdOfHoldersEachGetsItsOwnSocket() throws {
    // 120 holders: their details are read on several threads (one per core).
    let crowd = try Holder("--crowd", "120", "--sockets", "1", "--files", "1")
    #expect(crowd.ports.count == 120 && crowd.children.count == 120)
    let document = try portctl("list", "--json").json()
    var found = 0
    for (index, (port, child)) in zip(crowd.ports, crowd.children).enumerated() {
      let address = "127.1.\(index / 250).\(1 + index % 250)"
      let sockets = document.sockets.filter {
        $0["localAddress"] as? String == address && $0["localPort"] as? Int == Int(port)
      }
      #expect(sockets.count == 1, "\(address):\(port)")
      guard let socket = sockets.first, let processes = socket["processes"] as? [[String: Any]] else { continue }
      #expect(processes.compactMap { $0["pid"] as? Int } == [Int(child)], "\(address):\(port)")
      #expect(processes.first?["ppid"] as? Int == Int(crowd.pid))
      found += 1
    }
    #expect(found == 120)
  }

  @Test func textTableAlignsColumnsAndMarksInheritedHolders() throws {
    // Working in `/`, outside any project: no PROJECT column (ProjectTests covers it).
    let forked = try Holder(
      ["tcp:127.0.0.1:0", "udp:[::1]:0", "--fork", "2"], launcher: ["/usr/bin/env", "-C", "/", Products.holder.path])
    let text = try portctl("list", "--pid", "\(forked.pid)")
    #expect(text.status == 0)
    let lines = text.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let header = try #require(lines.first)
    #expect(header.split(separator: " ") == ["PROTO", "LOCAL", "STATE", "PID", "PPID", "USER", "UPTIME", "COMMAND"])
    // Each socket: the parent's row, then one "└ child" row per child, columns aligned
    // under the header (the PID column starts where "PID" does).
    let pidColumn = try #require(header.firstRange(of: "PID")).lowerBound.utf16Offset(in: header)
    for (proto, local, state) in [
      ("tcp", "127.0.0.1:\(forked.ports[0])", "LISTEN"), ("udp", "[::1]:\(forked.ports[1])", "UNCONN"),
    ] {
      let row = try #require(lines.firstIndex { $0.hasPrefix(proto) && $0.contains(" \(local) ") })
      #expect(
        lines[row].split(separator: " ").prefix(4) == [
          Substring(proto), Substring(local), Substring(state), Substring("\(forked.pid)"),
        ])
      #expect(String(lines[row].utf8.dropFirst(pidColumn))?.hasPrefix("\(forked.pid) ") == true)
      for (offset, child) in forked.children.sorted().enumerated() {
        let line = lines[row + 1 + offset]
        #expect(line.hasPrefix(" "), "continuation rows leave the socket columns blank")
        #expect(line.split(separator: " ").prefix(3) == ["└", Substring("\(child)"), Substring("\(forked.pid)")])
        #expect(String(line.unicodeScalars.dropFirst(pidColumn)).hasPrefix("└ \(child) "))
      }
    }
    let children = forked.children.sorted().map(String.init).joined(separator: ", ")
    #expect(
      text.stdout.contains("\(children) share 2 sockets with their parent \(forked.pid)"))
    #expect(!text.stdout.contains("\u{1B}["), "no colour when standard output is not a terminal")
  }

  @Test func protocolFilters() throws {
    let tcp = try Holder("tcp:127.0.0.1:0")
    let udp = try Holder("udp:127.0.0.1:0")
    let onlyTCP = try portctl("list", "--tcp", "--json").json().sockets
    #expect(onlyTCP.allSatisfy { $0["protocol"] as? String == "tcp" })
    #expect(onlyTCP.pids.contains(Int(tcp.pid)) && !onlyTCP.pids.contains(Int(udp.pid)))
    let onlyUDP = try portctl("list", "--udp", "--json").json().sockets
    #expect(onlyUDP.allSatisfy { $0["protocol"] as? String == "udp" })
    #expect(onlyUDP.pids.contains(Int(udp.pid)) && !onlyUDP.pids.contains(Int(tcp.pid)))
  }

  @Test func pidFilterKeepsTheSocketsThatPidHolds() throws {
    let holder = try Holder("tcp:127.0.0.1:0", "udp:127.0.0.1:0", "--fork", "1")
    let other = try Holder("tcp:127.0.0.1:0")
    let child = try #require(holder.children.first)
    let result = try portctl("list", "--pid", "\(child)", "--json")
    #expect(result.status == 0)
    let sockets = try result.json().sockets
    #expect(Set(sockets.compactMap { $0["localPort"] as? Int }) == Set(holder.ports.map(Int.init)))
    #expect(!sockets.pids.contains(Int(other.pid)))
    // Both holders of each socket are shown: the parent too.
    #expect(Set(sockets.pids) == [Int(holder.pid), Int(child)])
  }

  @Test func processFilterMatchesTheName() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let hit = try portctl("list", "--process", "PORT-HOLD", "--json")
    #expect(hit.status == 0)
    #expect(try hit.json().sockets.pids.contains(Int(holder.pid)))
    #expect(
      try hit.json().sockets.allSatisfy { socket in
        (socket["processes"] as? [[String: Any]] ?? []).contains { $0["name"] as? String == "port-holder" }
      })
    let miss = try portctl("list", "--process", "no-such-program-here")
    #expect(miss.status == 1)
    #expect(miss.stdout == "no sockets matched\n")
  }

  @Test func userFilterTakesANameOrAUid() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let uid = geteuid()
    let name = try #require(getpwuid(uid).map { String(cString: $0.pointee.pw_name) })
    for user in [name, "\(uid)"] {
      let result = try portctl("list", "--user", user, "--json")
      #expect(result.status == 0)
      #expect(try result.json().sockets.pids.contains(Int(holder.pid)), "--user \(user)")
    }
    let nobody = try portctl("list", "--user", "4000000000", "--json")
    #expect(nobody.status == 1)
    #expect(try nobody.json().sockets.isEmpty)
  }

  @Test func allIncludesConnections() throws {
    let holder = try Holder("tcp:127.0.0.1:0", "--self-connect")
    let listeners = try portctl("list", "--pid", "\(holder.pid)", "--json").json().sockets
    #expect(listeners.map { $0["state"] as? String } == ["LISTEN"])
    let all = try portctl("list", "--pid", "\(holder.pid)", "--all", "--json").json().sockets
    #expect(all.filter { $0["state"] as? String == "ESTABLISHED" }.count == 2)
  }

  @Test func unknownPidIsTheNegativeAnswerAndBadValuesAreUsageErrors() throws {
    let missing = try portctl("list", "--pid", "2147483647")
    #expect(missing.status == 1)
    for arguments in [
      ["--pid", "0"], ["--pid", "abc"], ["--pid", "-5"], ["--process", ""], ["--user", ""], ["--bogus"],
    ] {
      let result = try portctl(["list"] + arguments)
      #expect(result.status == 64, "\(arguments): \(result.stderr)")
      let json = try portctl(["list"] + arguments + ["--json"])
      #expect(json.status == 64)
      #expect(try (json.json()["error"] as? [String: Any])?["code"] as? String == "usage")
    }
  }
}

@Suite(.serialized) struct TerminalTests {
  /// Runs portctl on a pseudo-terminal through util-linux `script`.
  private func onTerminal(_ arguments: String, environment: [String: String] = [:]) throws -> RunResult {
    try run(
      URL(fileURLWithPath: "/usr/bin/script"),
      ["-qec", "\(Products.portctl.path) \(arguments)", "/dev/null"], environment: environment)
  }

  @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
  func colourOnlyOnATerminalAndNeverWithNoColor() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let coloured = try onTerminal("who \(holder.port)", environment: ["TERM": "xterm"])
    #expect(coloured.status == 0)
    #expect(coloured.stdout.contains("\u{1B}[1mPROTO"))
    let plain = try onTerminal("who \(holder.port)", environment: ["TERM": "xterm", "NO_COLOR": "1"])
    #expect(plain.status == 0)
    #expect(plain.stdout.contains("PROTO"))
    #expect(!plain.stdout.contains("\u{1B}["))
    // An empty NO_COLOR does not count; TERM=dumb does; a pipe is not a terminal.
    let emptyNoColor = try onTerminal("who \(holder.port)", environment: ["TERM": "xterm", "NO_COLOR": ""])
    #expect(emptyNoColor.stdout.contains("\u{1B}[1mPROTO"))
    let dumb = try onTerminal("who \(holder.port)", environment: ["TERM": "dumb"])
    #expect(dumb.status == 0)
    #expect(dumb.stdout.contains("PROTO"))
    #expect(!dumb.stdout.contains("\u{1B}["))
    let piped = try portctl("who", "\(holder.port)", environment: ["TERM": "xterm"])
    #expect(piped.stdout.contains("PROTO"))
    #expect(!piped.stdout.contains("\u{1B}["))
  }
}
#endif
