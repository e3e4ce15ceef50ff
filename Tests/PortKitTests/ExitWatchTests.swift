#if os(Linux)
import Foundation
import Testing

@testable import PortKit

@Suite struct ExitWatchTests {
  /// A `sleep 1000` this test starts (and ends with SIGKILL: the test runner may have
  /// SIGTERM ignored, which its children inherit).
  func sleeper() throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sleep")
    process.arguments = ["1000"]
    try process.run()
    return process
  }

  @Test func cancelledExitWatchEndsAtOnce() async throws {
    let child = try sleeper()
    defer {
      kill(child.processIdentifier, SIGKILL)
      child.waitUntilExit()
    }
    let control = LinuxProcessControl()
    let record = ProcessRecord(pid: child.processIdentifier, ppid: getpid(), name: "sleep")
    guard case .acquired(let handle) = await control.acquire(record) else {
      Issue.record("the sleep child could not be pinned")
      return
    }
    let clock = ContinuousClock()
    let start = clock.now
    let watch = Task { await control.waitForExit([handle], timeout: .seconds(900)) }
    try await Task.sleep(for: .milliseconds(50))
    watch.cancel()
    let exited = await watch.value
    await control.release(handle)
    // The child still runs: only the cancellation can end this watch before 900 s (a wide
    // bound: blocking end-to-end tests in the same process can hold the cooperative threads).
    #expect(exited.isEmpty)
    #expect(clock.now - start < .seconds(300))
  }

  @Test func exitIsSeenWhileOtherTasksRun() async throws {
    let child = try sleeper()
    defer { child.waitUntilExit() }
    let control = LinuxProcessControl()
    let record = ProcessRecord(pid: child.processIdentifier, ppid: getpid(), name: "sleep")
    guard case .acquired(let handle) = await control.acquire(record) else {
      Issue.record("the sleep child could not be pinned")
      return
    }
    let watch = Task { await control.waitForExit([handle], timeout: .seconds(900)) }
    try await Task.sleep(for: .milliseconds(50))
    kill(child.processIdentifier, SIGKILL)
    let exited = await watch.value
    await control.release(handle)
    #expect(exited.keys.sorted() == [child.processIdentifier])
  }
}
#endif
