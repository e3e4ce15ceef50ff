#if os(Linux)
import Foundation
import Testing

/// What happens between the consent prompt and the signal.
@Suite(.serialized) struct ConsentTests {
  static let canRun = FileManager.default.isExecutableFile(atPath: "/usr/bin/script")

  /// The holder closes its socket while the prompt waits: after "y" it is not signalled,
  /// and the result says why.
  @Test(.enabled(if: canRun, "needs script(1)"))
  func holderThatLetGoOfThePortWhileThePromptWaitedIsNotSignalled() throws {
    let holder = try Holder("--close-on-usr1", "tcp:127.0.0.1:0")
    defer { holder.stop() }
    let port = holder.port
    let result = try onPseudoTerminal("\(Products.portctl.path) kill \(port)", answering: "y") {
      #expect(kill(holder.pid, SIGUSR1) == 0)
      var waited = 0
      while !canBindLoopback(port), waited < 200 {
        usleep(10_000)
        waited += 1
      }
      try #require(canBindLoopback(port), "the holder did not let go of the port")
    }
    #expect(result.stdout.contains("Send SIGTERM, then SIGKILL after 5 s? [y/N]"), "\(result.stdout)")
    #expect(result.stdout.contains("not signalled: it no longer held the port"), "\(result.stdout)")
    #expect(!result.stdout.contains("exited after SIGTERM"))
    #expect(result.status == 0)
    #expect(isAlive(holder.pid), "the holder was signalled after it let go of the port")
  }

  /// The same holder, still holding the port when "y" comes, is signalled as before.
  @Test(.enabled(if: canRun, "needs script(1)"))
  func holderStillHoldingThePortIsSignalled() throws {
    let holder = try Holder("--close-on-usr1", "tcp:127.0.0.1:0")
    defer { holder.stop() }
    let result = try onPseudoTerminal("\(Products.portctl.path) kill \(holder.port)", answering: "y")
    #expect(result.status == 0, "\(result.stdout)")
    #expect(result.stdout.contains("exited after SIGTERM"))
    holder.process.waitUntilExit()
    #expect(!isAlive(holder.pid))
  }

  /// While the prompt waits, the holder lets go of the port and another process, already
  /// running, takes it. After "y": the first is not signalled, and the port is reported
  /// taken by a process that was already running — whose parent (this test runner) is not
  /// named as a supervisor that restarted it.
  @Test(.enabled(if: canRun, "needs script(1)"))
  func portTakenOverByARunningProcessNamesNoSupervisor() throws {
    let holder = try Holder("--close-on-usr1", "tcp:127.0.0.1:0")
    defer { holder.stop() }
    let port = holder.port
    let taker = try Holder("--open-on-usr1", "tcp:127.0.0.1:\(port)")
    defer { taker.stop() }
    let result = try onPseudoTerminal(
      "\(Products.portctl.path) free 127.0.0.1:\(port) --respawn-window 1s", answering: "y"
    ) {
      #expect(kill(holder.pid, SIGUSR1) == 0)
      var waited = 0
      while !canBindLoopback(port), waited < 200 {
        usleep(10_000)
        waited += 1
      }
      try #require(canBindLoopback(port), "the holder did not let go of the port")
      #expect(kill(taker.pid, SIGUSR1) == 0)
      waited = 0
      while canBindLoopback(port), waited < 200 {
        usleep(10_000)
        waited += 1
      }
      try #require(!canBindLoopback(port), "the second process did not take the port")
    }
    #expect(result.stdout.contains("not signalled: it no longer held the port"), "\(result.stdout)")
    #expect(
      result.stdout.contains(
        "\(port)/tcp is NOT free: taken again by port-holder (pid \(taker.pid): \(Products.holder.path) --open-on-usr1"),
      "\(result.stdout)")
    #expect(result.stdout.contains("which was already running before portctl signalled"), "\(result.stdout)")
    #expect(!result.stdout.contains("likely supervisor"), "\(result.stdout)")
    #expect(result.status == 1)
    #expect(isAlive(holder.pid))
    #expect(isAlive(taker.pid))
  }
}
#endif
