#if os(Linux)
import Foundation
import Testing

/// Tight limits and odd standard streams end in one clear sentence and a documented exit
/// status, never a hang, a crash or a wrong answer.
@Suite(.serialized) struct StreamsAndLimitsTests {
  /// Runs `portctl ARGUMENTS` from a shell that first runs `prologue` (a `ulimit`, a
  /// redirection), with a deadline: a hang fails the test instead of stalling the suite.
  func shell(_ prologue: String, _ arguments: String, deadline: Int = 20) throws -> RunResult {
    try run(
      URL(fileURLWithPath: "/usr/bin/timeout"),
      ["-s", "KILL", "\(deadline)", "/bin/sh", "-c", "\(prologue); exec '\(Products.portctl.path)' \(arguments)"])
  }

  @Test(arguments: ["who", "list", "why", "check", "find", "wait", "free", "explain"])
  func tooFewDescriptorsIsAClearSystemError(command: String) throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let arguments =
      switch command {
      case "list", "find": command
      case "wait": "wait \(holder.port) --free --timeout 1s"
      case "free": "free \(holder.port) --dry-run"
      case "explain": "explain 'listen EADDRINUSE: address already in use :::\(holder.port)'"
      default: "\(command) \(holder.port)"
      }
    for limit in [5, 8, 16] {
      let result = try shell("ulimit -n \(limit)", arguments)
      #expect(result.status == 2, "ulimit -n \(limit) \(arguments): \(result.status) \(result.stderr)")
      #expect(result.stderr.contains("Too few file descriptors"), "\(result.stderr)")
      #expect(result.stderr.contains("(ulimit -n) is \(limit)"), "\(result.stderr)")
      #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Signal"))
    }
    // With enough descriptors the same command answers: 1 where the held port is the
    // negative answer (check, a wait for it to be free, explain's diagnosis).
    let enough = try shell("ulimit -n 64", arguments)
    #expect(enough.status == (["check", "wait", "explain"].contains(command) ? 1 : 0), "\(enough.stderr)")
  }

  @Test func tooFewDescriptorsWithJSONIsOneErrorDocument() throws {
    let result = try shell("ulimit -n 8", "who 80 --json")
    #expect(result.status == 2)
    let document = try result.json()
    let error = try #require(document["error"] as? [String: Any])
    #expect(error["code"] as? String == "resources-exhausted")
    #expect(document["exitCode"] as? Int == 2)
  }

  @Test(arguments: ["who 80", "list", "check 80", "find"])
  func tooLittleAddressSpaceFailsFastInsteadOfHanging(arguments: String) throws {
    let result = try shell("ulimit -v 50000", arguments, deadline: 10)
    #expect(result.status == 2, "\(arguments): \(result.status) \(result.stderr)")
    #expect(result.stderr.contains("Too little address space"), "\(result.stderr)")
    #expect(result.stderr.contains("(ulimit -v) is 48 MiB"), "\(result.stderr)")
  }

  /// The smallest address-space limit, in KiB to within 1 MiB, under which `portctl ARGUMENTS`
  /// answers (status 0).
  private func smallestAddressLimit(_ arguments: String) throws -> Int {
    var (fails, works) = (16 << 10, 4 << 20)
    try #require(try shell("ulimit -v \(works)", arguments).status == 0, "portctl \(arguments) fails under 4 GiB")
    while works - fails > 1 << 10 {
      let middle = (fails + works) / 2
      if try shell("ulimit -v \(middle)", arguments).status == 0 { works = middle } else { fails = middle }
    }
    return works
  }

  /// A tool's output is collected as it arrives: reserving the whole output limit up front
  /// (64 MiB) made the lsof backend abort under a limit that leaves room for everything else.
  @Test func toolOutputFitsATightAddressLimit() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    // What portctl needs here without running a tool (its threads' stacks grow with the
    // number of processors), then 32 MiB more: room for lsof's output, not for 64 MiB.
    let baseline = try smallestAddressLimit("who \(holder.port) --backend procfs --json")
    let limit = baseline + (32 << 10)
    let result = try shell("ulimit -v \(limit)", "who \(holder.port) --backend lsof --json")
    #expect(result.status == 0, "ulimit -v \(limit): \(result.status) \(result.stderr)")
    #expect(try result.json().sockets.pids == [Int(holder.pid)])
  }

  @Test func closedStandardOutputIsReportedNotSilent() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let closed = try shell("exec >&-", "who \(holder.port)")
    #expect(closed.status == 2)
    #expect(closed.stderr.contains("could not write the output: standard output is closed"), "\(closed.stderr)")
    let json = try shell("exec >&-", "who \(holder.port) --json")
    #expect(json.status == 2)
    // `-q` writes nothing, so a closed standard output changes nothing.
    #expect(try shell("exec >&-", "who \(holder.port) -q").status == 0)
    #expect(try shell("exec >&-", "who \(try unusedPort()) -q").status == 1)
  }

  @Test func fullDiskIsReported() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let result = try shell("exec >/dev/full", "who \(holder.port)")
    #expect(result.status == 2)
    #expect(result.stderr.contains("could not write the output: No space left on device"), "\(result.stderr)")
  }

  /// Piped output of any size: the whole of it is read (the writer never blocks), and an
  /// error printed early survives megabytes of output after it.
  @Test func explainFindsAnEarlyErrorInMegabytesOfOutput() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    let noise = String(repeating: "compiled module in 12 ms, watching src/app/page.tsx\n", count: 100_000)
    let input = "Error: listen EADDRINUSE: address already in use 127.0.0.1:\(holder.port)\n" + noise
    let result = try run(Products.portctl, ["explain", "--json"], input: input)
    #expect(result.status == 1, "\(result.stderr)")
    let document = try result.json()
    let failure = try #require(document["failure"] as? [String: Any], "\(document)")
    #expect(failure["port"] as? Int == Int(holder.port))
    #expect(failure["kind"] as? String == "address-in-use")
  }

  /// A short, seeded run of the fuzz harness (fuzz/portctl_fuzz.py): adversarial specs and
  /// options, binary explain input, tight limits, odd streams and process churn; any crash,
  /// hang, undocumented status, malformed JSON or raw control character fails it.
  @Test func fuzzHarnessFindsNothing() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    let script = root.appendingPathComponent("fuzz/portctl_fuzz.py").path
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("portctl-fuzz-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: out) }
    let result = try run(
      URL(fileURLWithPath: "/usr/bin/env"),
      ["python3", script, "--portctl", Products.portctl.path, "--cases", "150", "--seed", "11", "--out", out])
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    #expect(result.stdout.contains("fuzz: 150 passed, 0 failed"), "\(result.stdout)")
  }

  /// A reader that has gone away (`| head -1`) ends the output quietly, with status 2 and no
  /// signal, instead of SIGPIPE killing the process.
  @Test func readerGoneEndsQuietlyWithoutASignal() throws {
    let holder = try Holder("tcp:127.0.0.1:0")
    // The pipe's only reader is closed before portctl starts; SIGPIPE has its default action
    // in the child, as under a shell.
    let script = """
      import os, subprocess, sys
      r, w = os.pipe()
      os.close(r)
      p = subprocess.run(sys.argv[1:], stdout=w, stderr=subprocess.PIPE)
      print(p.returncode)
      sys.stdout.write(p.stderr.decode())
      """
    let result = try run(
      URL(fileURLWithPath: "/usr/bin/env"),
      ["python3", "-c", script, Products.portctl.path, "who", "\(holder.port)"])
    let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
    #expect(lines.first == "2", "status (negative: killed by that signal): \(result.stdout)")
    #expect(lines.dropFirst().joined().isEmpty, "nothing on standard error: \(result.stdout)")
  }
}
#endif
