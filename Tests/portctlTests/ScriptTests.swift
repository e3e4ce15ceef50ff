#if os(Linux)
import Foundation
import Testing

@Suite(.serialized) struct FindTests {
  /// Holders on three consecutive ports: a v6-only [::] listener on a port the kernel chose,
  /// 127.0.0.1 on the next one and UDP on the one after, with room for a range of 20 above.
  /// When another program has one of the two next ports, another start is tried.
  private func consecutiveHolders() throws -> (v6: Holder, v4: Holder, udp: Holder) {
    for _ in 0..<20 {
      let v6 = try Holder("tcp:[::]:0", "--v6only")
      guard v6.port <= 65535 - 20, let v4 = try? Holder("tcp:127.0.0.1:\(v6.port + 1)"),
        let udp = try? Holder("udp:0.0.0.0:\(v6.port + 2)")
      else {
        v6.stop()
        continue
      }
      return (v6, v4, udp)
    }
    throw HolderError(message: "found no three consecutive ports to hold in 20 tries")
  }

  @Test func skipsHoldersOnEitherFamilyAndPrintsAPortThatBindsOnBoth() throws {
    let (v6, v4, udp) = try consecutiveHolders()
    defer { [v6, v4, udp].forEach { $0.stop() } }
    let start = v6.port
    let result = try portctl("find", "--range", "\(start)-\(start + 20)", "--count", "3", "--json")
    #expect(result.status == 0, "\(result.stderr)")
    let ports = try #require(try result.json()["ports"] as? [Int])
    #expect(ports.count == 3)
    #expect(!ports.contains(Int(start)))
    #expect(!ports.contains(Int(start) + 1))
    for port in ports { #expect(canBind(UInt16(port))) }
    // UDP: the port the UDP holder has is skipped, TCP-held ones are fine for UDP.
    let udpResult = try portctl("find", "--udp", "--range", "\(start + 2)-\(start + 2)")
    #expect(udpResult.status == 1)
    #expect(try portctl("find", "--udp", "--range", "\(start)-\(start + 1)", "--count", "2").status == 0)
  }

  @Test func plainOutputAndHostAndFailure() throws {
    let result = try portctl("find", "--count", "2")
    #expect(result.status == 0)
    let lines = result.stdout.split(separator: "\n")
    #expect(lines.count == 2)
    #expect(lines.allSatisfy { UInt16($0).map { $0 >= 3000 } == true })
    let host = try portctl("find", "--host", "127.0.0.1", "--json")
    #expect(host.status == 0)
    #expect(try host.json()["host"] as? String == "127.0.0.1")
    let holder = try Holder("tcp:127.0.0.1:0")
    let none = try portctl("find", "--range", "\(holder.port)-\(holder.port)", "--host", "127.0.0.1")
    #expect(none.status == 1)
    #expect(none.stdout.isEmpty)
    #expect(none.stderr.contains("found 0 of 1 free tcp port in \(holder.port)-\(holder.port)"))
    for arguments in [["--count", "0"], ["--range", "9-3"], ["--host", "nohost"], ["--from", "70000"]] {
      #expect(try portctl(["find"] + arguments).status == 64, "\(arguments)")
    }
  }
}

@Suite(.serialized) struct WaitTests {
  @Test func freeReturnsPromptlyWhenTheHolderExits() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let port = holder.port
    // Set just before the holder is told to exit: the wait may end only after that.
    let stopping = Flag()
    DispatchQueue.global().asyncAfter(deadline: .now() + 0.4) {
      stopping.set()
      holder.stop()
    }
    let result = try portctl("wait", "\(port)", "--free", "--timeout", "10s", "--json")
    #expect(stopping.isSet, "the wait ended while the holder still held the port")
    #expect(result.status == 0, "\(result.stdout)")
    let document = try result.json()
    #expect(document["met"] as? Bool == true)
    // The holder's exit ended it, not the 10 s timeout.
    let seconds = try #require(document["seconds"] as? Double)
    #expect(seconds < 10, "waited \(seconds) s")
  }

  @Test func listeningTimesOutThenSucceedsWhenAListenerAppears() throws {
    let port = try unusedPort()
    let timedOut = try portctl("wait", "\(port)", "--listening", "--timeout", "300ms")
    #expect(timedOut.status == 1)
    #expect(timedOut.stdout == "timed out after 300ms: nothing listens on \(port)\n")
    let late = try #require(
      spawnQuietly("/bin/sh", ["-c", "sleep 0.3; exec \(Products.holder.path) tcp:127.0.0.1:\(port)"]))
    defer {
      kill(late, SIGKILL)
      var status: Int32 = 0
      waitpid(late, &status, 0)
    }
    let result = try portctl("wait", "\(port)", "--listening", "--timeout", "10s")
    #expect(result.status == 0, "\(result.stdout)")
    #expect(result.stdout.hasPrefix("\(port) listening after "))
  }

  @Test func freeTimesOutNamingTheHolder() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let result = try portctl("wait", "\(holder.port)", "--free", "--timeout", "200ms")
    #expect(result.status == 1)
    #expect(result.stdout.hasPrefix("timed out after 200ms: still held\n"))
    #expect(result.stdout.contains("\(holder.pid)"))
    #expect(try portctl("wait", "\(holder.port)").status == 64)
    #expect(try portctl("wait", "\(holder.port)", "--free", "--listening").status == 64)
  }
}

@Suite(.serialized) struct ExplainTests {
  @Test func nodeMessageForAHeldPortNamesTheHolder() throws {
    let holder = try Holder("tcp:[::]:0")
    let message = "Error: listen EADDRINUSE: address already in use :::\(holder.port)"
    let result = try portctl("explain", message)
    #expect(result.status == 1)
    #expect(
      result.stdout.hasPrefix(
        "Node.js could not bind on [::]:\(holder.port) (tcp): the address is already in use (EADDRINUSE).\n"))
    #expect(result.stdout.contains("held: tcp [::]:\(holder.port) is held by port-holder (pid \(holder.pid))"))
    let json = try run(Products.portctl, ["explain", "--json"], input: "some log line\n\(message)\n")
    #expect(json.status == 1)
    let document = try json.json()
    #expect(document["recognized"] as? Bool == true)
    let failure = try #require(document["failure"] as? [String: Any])
    #expect(failure["runtime"] as? String == "Node.js")
    #expect(failure["port"] as? Int == Int(holder.port))
    #expect(failure["kind"] as? String == "address-in-use")
    let check = try #require(document["check"] as? [String: Any])
    #expect(check["bindable"] as? Bool == false)
    #expect((check["reasons"] as? [[String: Any]])?.first?["pids"] as? [Int] == [Int(holder.pid)])
  }

  @Test func understoodButFreeNowExitsZero() throws {
    let port = try unusedPort()
    let result = try run(
      Products.portctl, ["explain", "-"], input: "listen tcp 127.0.0.1:\(port): bind: address already in use\n")
    #expect(result.status == 0)
    #expect(result.stdout.contains("Go could not bind on 127.0.0.1:\(port) (tcp)"))
    #expect(result.stdout.contains("The port can be bound now"))
  }

  @Test func noPortOrNoErrorExitsFive() throws {
    let java = try portctl("explain", "java.net.BindException: Address already in use")
    #expect(java.status == 5)
    #expect(java.stderr.contains("Java reported EADDRINUSE but did not say which port; run again with --port N"))
    let port = try unusedPort()
    let withPort = try portctl(
      "explain", "java.net.BindException: Address already in use", "--port", "\(port)", "--json")
    #expect(withPort.status == 0)
    #expect((try withPort.json()["failure"] as? [String: Any])?["port"] as? Int == Int(port))
    let nothing = try portctl("explain", "the build passed", "--json")
    #expect(nothing.status == 5)
    #expect(try nothing.json()["recognized"] as? Bool == false)
    #expect((try nothing.json()["problem"] as? String)?.contains("no bind error recognised") == true)
  }

  /// The port the failing bind named, not the fallback a dev server announces after it, nor a
  /// timestamp on the error line.
  @Test func thePortOfTheFailingBindNotTheFallbackAfterIt() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let fallback = try unusedPort()
    let vite = """
      Port \(holder.port) is in use, trying another one...

        VITE v5.4.8  ready in 312 ms

        ➜  Local:   http://localhost:\(fallback)/
      """
    let result = try run(Products.portctl, ["explain", "--json"], input: vite)
    #expect(result.status == 1, "\(result.stdout)")
    let failure = try #require(try result.json()["failure"] as? [String: Any])
    #expect(failure["port"] as? Int == Int(holder.port))
    #expect(failure["runtime"] as? String == "Vite")
    let check = try #require(try result.json()["check"] as? [String: Any])
    #expect((check["reasons"] as? [[String: Any]])?.first?["pids"] as? [Int] == [Int(holder.pid)])
    let cups =
      "E [29/Nov/2026:03:48:38 +0000] Unable to open listen socket for address 127.0.0.1:\(holder.port) - Address already in use."
    let read = try #require(try portctl("explain", cups, "--json").json()["failure"] as? [String: Any])
    #expect(read["port"] as? Int == Int(holder.port))
    #expect(read["address"] as? String == "127.0.0.1")
  }

  /// A bind that failed without a reason is checked, and the check says why: here a holder.
  @Test func anUnspecifiedFailureIsDecidedByTheCheck() throws {
    let holder = try Holder("tcp:0.0.0.0:0")
    let thin = """
      /usr/lib/ruby/vendor_ruby/eventmachine.rb:532:in `start_tcp_server': no acceptor (port is in use or requires root privileges) (RuntimeError)
      2026-11-29 03:16:29 +0000 Thin web server (v1.8.1 codename Infinite Smoothie)
      2026-11-29 03:16:29 +0000 Listening on 0.0.0.0:\(holder.port), CTRL+C to stop
      """
    let result = try run(Products.portctl, ["explain", "--json"], input: thin)
    #expect(result.status == 1)
    let failure = try #require(try result.json()["failure"] as? [String: Any])
    #expect(failure["kind"] as? String == "unspecified")
    #expect(failure["errorName"] as? String == "no error code")
    #expect(failure["runtime"] as? String == "Thin")
    #expect(failure["port"] as? Int == Int(holder.port))
    let check = try #require(try result.json()["check"] as? [String: Any])
    #expect((check["reasons"] as? [[String: Any]])?.first?["pids"] as? [Int] == [Int(holder.pid)])
    let text = try run(Products.portctl, ["explain"], input: thin)
    #expect(text.stdout.hasPrefix("Thin could not bind on 0.0.0.0:\(holder.port) (tcp): the message does not say why"))
  }

  /// Not a local bind: an ssh remote forward, and Windows running out of ephemeral ports.
  @Test func remoteForwardsAndWindowsEphemeralExhaustionGetAdvice() throws {
    let ssh = try portctl("explain", "Warning: remote port forwarding failed for listen port 8080", "--json")
    #expect(ssh.status == 1)
    let forward = try #require(try ssh.json()["failure"] as? [String: Any])
    #expect(forward["operation"] as? String == "remote-bind")
    #expect(forward["runtime"] as? String == "OpenSSH")
    #expect(forward["port"] as? Int == 8080)
    #expect((try ssh.json()["advice"] as? String)?.contains("on the ssh server, not here") == true)
    #expect(try ssh.json()["checks"] as? [Any] == nil || (try ssh.json()["checks"] as? [Any])?.isEmpty == true)

    let windows = """
      error: [Errno 10055] An operation on a socket could not be performed because the system lacked sufficient buffer space or because a queue was full
      """
    let nobufs = try portctl("explain", windows, "--json")
    #expect(nobufs.status == 1)
    let failure = try #require(try nobufs.json()["failure"] as? [String: Any])
    #expect(failure["operation"] as? String == "connect")
    #expect(failure["errorName"] as? String == "WSAENOBUFS 10055")
    let advice = try #require(try nobufs.json()["advice"] as? String)
    #expect(advice.contains("netsh int ipv4 show dynamicport tcp"))
    #expect(!advice.contains("ip_local_port_range"))
  }
}
#endif
