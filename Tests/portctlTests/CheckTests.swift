#if os(Linux)
import Foundation
import Testing

@Suite(.serialized) struct CheckTests {
  private func checks(_ result: RunResult) throws -> [[String: Any]] {
    try result.json()["checks"] as? [[String: Any]] ?? []
  }
  private func codes(_ check: [String: Any], _ key: String = "reasons") -> [String] {
    (check[key] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
  }

  @Test func timeWaitFromAServerClosingFirstNamesSoReuseaddr() throws {
    let plain = try Holder("tcp:127.0.0.1:0", "--time-wait")
    let blocked = try portctl("check", "\(plain.port)", "--json")
    #expect(blocked.status == 1)
    let check = try #require(try checks(blocked).first)
    #expect(check["bindable"] as? Bool == false)
    #expect(codes(check) == ["time-wait"])
    let message = (check["reasons"] as? [[String: Any]])?.first?["message"] as? String ?? ""
    #expect(message.contains("TIME_WAIT"))
    #expect(message.contains("SO_REUSEADDR"))

    let reusing = try Holder("tcp:127.0.0.1:0", "--time-wait", "--reuseaddr")
    let fine = try portctl("check", "\(reusing.port)", "--json")
    #expect(fine.status == 0)
    let note = try #require(try checks(fine).first)
    #expect(note["bindable"] as? Bool == true)
    #expect(note["plainBindable"] as? Bool == false)
    #expect(codes(note, "notes").contains("time-wait"))
    let text = try portctl("check", "\(reusing.port)")
    #expect(text.stdout.hasPrefix("tcp \(reusing.port): can bind (0.0.0.0 and [::])\n"))
    #expect(text.stdout.contains("note time-wait: only 1 TIME_WAIT socket remains on the port"))
  }

  @Test func dualStackHolderBlocksIPv4AndNamesTheOverlap() throws {
    let holder = try Holder("tcp:[::]:0")
    let result = try portctl("check", "127.0.0.1:\(holder.port)", "--json")
    #expect(result.status == 1)
    let check = try #require(try checks(result).first)
    #expect(check["address"] as? String == "127.0.0.1")
    #expect((check["binds"] as? [String: String]) == ["127.0.0.1": "in-use"])
    #expect(codes(check) == ["address-overlap"])
    let reason = try #require((check["reasons"] as? [[String: Any]])?.first)
    #expect(reason["pids"] as? [Int] == [Int(holder.pid)])
    #expect((reason["message"] as? String)?.contains("[::]:\(holder.port) is a dual-stack listener") == true)
    let text = try portctl("check", "127.0.0.1:\(holder.port)")
    #expect(text.stdout.hasPrefix("tcp 127.0.0.1:\(holder.port): cannot bind (127.0.0.1)\n  address-overlap: "))
    #expect(text.stdout.contains("port-holder (pid \(holder.pid))"))
  }

  @Test func freePortsPassAndSeveralSpecsAreAllAnswered() throws {
    let holder = try Holder("udp:127.0.0.1:0")
    let free = try unusedPort()
    let result = try portctl("check", "\(free)", "udp:\(holder.port)", "--json")
    #expect(result.status == 1)
    let list = try checks(result)
    #expect(list.map { $0["protocol"] as? String } == ["tcp", "udp"])
    #expect(list.map { $0["bindable"] as? Bool } == [true, false])
    #expect(codes(list[1]) == ["held"])
    #expect(try portctl("check", "\(free)", "-q").status == 0)
    #expect(try portctl("check", "\(free)", "-q").stdout.isEmpty)
  }

  @Test func badInputIsAUsageError() throws {
    #expect(try portctl("check", "abc").status == 64)
    #expect(try portctl("check", "1-65535").status == 64)
    #expect(try portctl("check").status == 64)
  }
}
#endif
