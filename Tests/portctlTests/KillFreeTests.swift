#if os(Linux)
import Foundation
import Testing

@Suite(.serialized) struct KillFreeTests {
  private func targets(_ document: [String: Any]) -> [[String: Any]] {
    document["targets"] as? [[String: Any]] ?? []
  }

  @Test func holderIgnoringSigtermIsKilledAfterTheTimeout() throws {
    let holder = try Holder("tcp:127.0.0.1:0", "--ignore-term")
    let (result, ran) = try timed {
      try portctl("kill", "127.0.0.1:\(holder.port)", "--yes", "--timeout", "300ms", "--json")
    }
    #expect(result.status == 0, "\(result.stderr)")
    let target = try #require(targets(try result.json()).first)
    #expect(target["pid"] as? Int == Int(holder.pid))
    #expect(target["outcome"] as? String == "killed")
    #expect(target["signals"] as? [String] == ["TERM", "KILL"])
    // SIGKILL came only once the 300 ms had passed, and the time reported lies within the run.
    let seconds = try #require(target["seconds"] as? Double)
    #expect(seconds >= 0.3 && seconds <= ran, "killed after \(seconds) s of a \(ran) s run")
    holder.process.waitUntilExit()
    #expect(holder.process.terminationReason == .uncaughtSignal)
    #expect(holder.process.terminationStatus == SIGKILL)
    let text = try portctl("who", "\(holder.port)")
    #expect(text.status == 1)
  }

  @Test func parentAndForkedChildrenAllGoAndThePortBinds() throws {
    let holder = try Holder("tcp:127.0.0.1:0", "--fork", "2")
    try #require(holder.children.count == 2)
    let result = try portctl("free", "127.0.0.1:\(holder.port)", "--yes", "--respawn-window", "0", "--json")
    #expect(result.status == 0, "\(result.stderr)")
    let document = try result.json()
    #expect(document["freed"] as? Bool == true)
    let pids = targets(document).compactMap { $0["pid"] as? Int }
    #expect(pids == [Int(holder.pid)] + holder.children.sorted().map(Int.init))
    #expect(targets(document).allSatisfy { $0["outcome"] as? String == "exited" })
    #expect(targets(document).dropFirst().allSatisfy { $0["sharesWith"] as? Int == Int(holder.pid) })
    let port = try #require((document["ports"] as? [[String: Any]])?.first)
    #expect(port["port"] as? Int == Int(holder.port))
    #expect(port["protocol"] as? String == "tcp")
    #expect(port["verdict"] as? String == "free")
    #expect((port["binds"] as? [String: String])?["0.0.0.0"] == "bindable")
    for pid in [holder.pid] + holder.children { #expect(!isAlive(pid)) }
    #expect(canBind(holder.port))
  }

  @Test func humanOutputReportsEachProcessAndTheBind() throws {
    let holder = try Holder("tcp:127.0.0.1:0", "udp:127.0.0.1:0")
    let result = try portctl(
      "free", "127.0.0.1:\(holder.ports[0])", "udp:127.0.0.1:\(holder.ports[1])", "--yes", "--respawn-window", "0")
    #expect(result.status == 0, "\(result.stderr)")
    let lines = result.stdout.split(separator: "\n").map(String.init)
    // One row, the holder's; each column as wide as its header or its cell, whichever is
    // wider, two spaces apart.
    let pid = "\(holder.pid)"
    let (pidWidth, nameWidth, userWidth) = (max(3, pid.count), "port-holder".count, max(4, userName.count))
    #expect(
      lines.first
        == padded("PID", to: pidWidth) + "  " + padded("NAME", to: nameWidth) + "  " + padded("USER", to: userWidth)
        + "  RESULT")
    let row = padded(pid, to: pidWidth) + "  port-holder  " + padded(userName, to: userWidth) + "  "
    #expect(lines.dropFirst().first?.hasPrefix(row + "exited after SIGTERM (") == true, "\(lines)")
    #expect(lines.contains("\(holder.ports[0])/tcp is free: a bind on 0.0.0.0, 127.0.0.1 and [::] works"))
    #expect(lines.contains("\(holder.ports[1])/udp is free: a bind on 0.0.0.0, 127.0.0.1 and [::] works"))
  }

  @Test func dryRunSignalsNothing() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let result = try portctl("kill", "\(holder.port)", "--dry-run", "--json")
    #expect(result.status == 0)
    #expect(try result.json()["dryRun"] as? Bool == true)
    #expect(targets(try result.json()).first?["outcome"] as? String == "would-signal")
    // Nothing was freed: `freed` is null in a dry run, not true.
    let free = try portctl("free", "\(holder.port)", "--dry-run", "--json")
    #expect(free.status == 0)
    #expect(try free.json()["freed"] is NSNull)
    let text = try portctl("free", "\(holder.port)", "-n")
    #expect(text.status == 0)
    #expect(text.stdout.hasPrefix("would send SIGTERM to:\n"))
    #expect(text.stdout.contains("\(holder.pid)"))
    #expect(isAlive(holder.pid))
  }

  @Test func noTerminalAndNoYesRefusesWithExit4() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let result = try portctl("kill", "\(holder.port)")
    #expect(result.status == 4)
    #expect(result.stdout.isEmpty)
    #expect(result.stderr.contains("refusing to signal without consent"))
    #expect(result.stderr.contains("--yes"))
    #expect(result.stderr.contains("\(holder.pid)"))
    let json = try portctl("free", "\(holder.port)", "--json")
    #expect(json.status == 4)
    #expect(try json.json()["consent"] as? String == "refused")
    #expect(isAlive(holder.pid))
  }

  @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
  func terminalPromptDefaultsToNo() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let command = "\(Products.portctl.path) kill \(holder.port)"
    let declined = try run(URL(fileURLWithPath: "/usr/bin/script"), ["-qec", command, "/dev/null"], input: "\n")
    #expect(declined.status == 4)
    #expect(declined.stdout.contains("Send SIGTERM, then SIGKILL after 5 s? [y/N]"))
    #expect(declined.stdout.contains("\(holder.pid)"))
    #expect(isAlive(holder.pid))
    let accepted = try run(URL(fileURLWithPath: "/usr/bin/script"), ["-qec", command, "/dev/null"], input: "y\n")
    #expect(accepted.status == 0, "\(accepted.stdout)")
    #expect(accepted.stdout.contains("exited after SIGTERM"))
    holder.process.waitUntilExit()
    #expect(!isAlive(holder.pid))
  }

  @Test func ancestorHoldingThePortIsRefusedEvenWithYes() throws {
    // port-holder holds the port and runs portctl as its child.
    let result = try run(
      Products.holder, ["tcp:127.0.0.1:0", "--run", Products.portctl.path, "kill", "{port}", "--yes", "--json"])
    #expect(result.status == 4, "\(result.stderr)")
    let lines = result.stdout.split(separator: "\n", maxSplits: 1).map(String.init)
    let holderPID = try #require(lines.first?.split(separator: " ").first { $0.hasPrefix("pid=") }?.dropFirst(4))
    #expect(result.stderr.contains("refusing to signal port-holder (pid \(holderPID)): it is an ancestor of portctl"))
    let document = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
    #expect((document["protected"] as? [[String: Any]])?.first?["pid"] as? Int == Int(holderPID))
    #expect((document["targets"] as? [Any])?.isEmpty == true)
  }

  @Test func nothingToKillIsTheNegativeAnswer() throws {
    let port = try unusedPort()
    let kill = try portctl("kill", "\(port)", "--yes")
    #expect(kill.status == 1)
    #expect(kill.stdout == "nothing to kill: no process holds \(port)\n")
    let free = try portctl("free", "tcp:\(port)", "--yes", "--json")
    #expect(free.status == 0)
    let verdict = (try free.json()["ports"] as? [[String: Any]])?.first?["verdict"] as? String
    #expect(verdict == "free")
  }

  @Test func timeWaitFromAReuseAddressServerIsFreeForServersThatSetIt() throws {
    let holder = try Holder("tcp:127.0.0.1:0", "--time-wait", "--reuseaddr")
    let result = try portctl("free", "tcp:127.0.0.1:\(holder.port)", "--yes", "--json")
    #expect(result.status == 0, "\(result.stdout)")
    let port = try #require((try result.json()["ports"] as? [[String: Any]])?.first)
    #expect(port["verdict"] as? String == "free-except-time-wait")
    #expect(port["plainBindable"] as? Bool == false)
    #expect(port["timeWait"] as? Int == 1)
    let text = try portctl("free", "tcp:127.0.0.1:\(holder.port)", "--yes")
    #expect(text.status == 0)
    #expect(text.stdout.contains("free for servers that set SO_REUSEADDR"))
    #expect(text.stdout.contains("1 TIME_WAIT socket, owned by no process, blocks a plain bind"))
    #expect(text.stdout.contains("(--wait waits for it)"))
    let waited = try portctl(
      "free", "tcp:127.0.0.1:\(holder.port)", "--yes", "--wait", "--wait-timeout", "200ms", "--json")
    #expect(waited.status == 1)
    #expect((try waited.json()["ports"] as? [[String: Any]])?.first?["verdict"] as? String == "time-wait")
  }

  @Test func timeWaitFromAPlainServerBlocksEveryBind() throws {
    let holder = try Holder("tcp:127.0.0.1:0", "--time-wait")
    let result = try portctl("free", "tcp:127.0.0.1:\(holder.port)", "--yes", "--json")
    #expect(result.status == 1)
    let port = try #require((try result.json()["ports"] as? [[String: Any]])?.first)
    #expect(port["verdict"] as? String == "time-wait")
    #expect((port["binds"] as? [String: String])?["0.0.0.0"] == "in-use")
    #expect((port["stillHeldBy"] as? [Int])?.isEmpty == true)
    let text = try portctl("free", "tcp:127.0.0.1:\(holder.port)", "--yes")
    #expect(
      text.stdout.contains(
        "is NOT free: 1 TIME_WAIT socket, owned by no process, blocks any bind (the old server did not set SO_REUSEADDR)"
      ))
  }

  @Test func signalAndForceOptions() throws {
    let holder = try Holder("tcp:127.0.0.1:0", "--ignore-term")
    let interrupted = try portctl("kill", "127.0.0.1:\(holder.port)", "--yes", "--signal", "INT", "--json")
    #expect(interrupted.status == 0)
    #expect(targets(try interrupted.json()).first?["signals"] as? [String] == ["INT"])
    let forced = try Holder("tcp:127.0.0.1:0", "--ignore-term")
    let killed = try portctl("kill", "127.0.0.1:\(forced.port)", "-y", "--force", "--json")
    #expect(killed.status == 0)
    #expect(targets(try killed.json()).first?["signals"] as? [String] == ["KILL"])
    #expect(targets(try killed.json()).first?["outcome"] as? String == "killed")
  }

  @Test(arguments: [
    (["--signal", "BOGUS"], "--signal"), (["--timeout", "soon"], "--timeout"), (["--timeout", "-1s"], "--timeout"),
    (["--force", "--signal", "INT"], "--force"),
  ])
  func badOptionsAreUsageErrors(arguments: [String], mention: String) throws {
    let result = try portctl(["kill", "3000", "--yes", "--dry-run"] + arguments)
    #expect(result.status == 64, "\(result.stderr)")
    #expect(result.stderr.contains(mention))
  }
}
#endif
