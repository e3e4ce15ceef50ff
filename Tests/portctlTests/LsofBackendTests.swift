#if os(Linux)
import Foundation
import Testing

/// The macOS backend (lsof + ps + kill with a start-time check), run here against real
/// holders: the same parsing and control paths that macOS uses.
@Suite(.serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/lsof"), "needs lsof"))
struct LsofBackendTests {
  @Test func inheritedListenerWithEveryHolder() throws {
    let holder = try Holder("tcp:127.0.0.1:0", "--fork", "2")
    let result = try portctl("who", "\(holder.port)", "--backend", "lsof", "--json")
    #expect(result.status == 0, "\(result.stderr)")
    let processes = try #require(try result.json().sockets.first?["processes"] as? [[String: Any]])
    #expect(try result.json().sockets.count == 1)
    #expect(processes.map { $0["pid"] as? Int } == [Int(holder.pid)] + holder.children.sorted().map(Int.init))
    #expect(processes.map { $0["role"] as? String } == ["parent", "child", "child"])
    #expect(processes.first?["name"] as? String == "port-holder")
    #expect((processes.first?["command"] as? String)?.contains("tcp:127.0.0.1:0 --fork 2") == true)
    #expect(processes.first?["startTime"] is String)
  }

  @Test func udpOnIPv6AndFreePorts() throws {
    let holder = try Holder("udp:[::1]:0")
    let result = try portctl("who", "udp:\(holder.port)", "--backend", "lsof", "--json")
    #expect(result.status == 0)
    let socket = try #require(try result.json().sockets.first)
    #expect(socket["localAddress"] as? String == "::1")
    #expect(socket["state"] as? String == "UNCONN")
    #expect(try result.json().sockets.pids == [Int(holder.pid)])
    let free = try portctl("who", "\(try unusedPort())", "--backend", "lsof")
    #expect(free.status == 1)
  }

  @Test func killEscalatesWithTheStartTimeChecked() throws {
    let holder = try Holder("tcp:127.0.0.1:0", "--ignore-term")
    let result = try portctl(
      "kill", "127.0.0.1:\(holder.port)", "--backend", "lsof", "--yes", "--timeout", "300ms", "--json")
    #expect(result.status == 0, "\(result.stderr)")
    let target = try #require((try result.json()["targets"] as? [[String: Any]])?.first)
    #expect(target["pid"] as? Int == Int(holder.pid))
    #expect(target["signals"] as? [String] == ["TERM", "KILL"])
    #expect(target["outcome"] as? String == "killed")
    holder.process.waitUntilExit()
    #expect(holder.process.terminationStatus == SIGKILL)
  }

  @Test func freeProvesTheBind() throws {
    let holder = try Holder("tcp:127.0.0.1:0", "--fork", "1")
    let result = try portctl(
      "free", "127.0.0.1:\(holder.port)", "--backend", "lsof", "--yes", "--respawn-window", "0", "--json")
    #expect(result.status == 0, "\(result.stderr)")
    #expect(try result.json()["freed"] as? Bool == true)
    #expect(canBind(holder.port))
  }
}
#endif
