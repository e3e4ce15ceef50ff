import CPortSys
import Dispatch

/// Ends Windows processes through handles, Windows' counterpart of a pidfd: `acquire` opens
/// the target (while the handle is open its pid cannot name another process) and compares
/// its creation time with the one recorded when it was found. The graceful step is
/// `taskkill /PID n /T` (a window's WM_CLOSE, a console's close event), the forced step
/// TerminateProcess on the handle; exits are watched with WaitForMultipleObjects.
struct WindowsProcessControl: ProcessControl {
  var calls: any WindowsCalls
  var runner: any CommandRunner
  var host: HostFacts
  /// How long one wait blocks before cancellation and the deadline are looked at again.
  var slice: Duration

  /// The exit code a forced end gives the process.
  static let forcedExitCode: UInt32 = 1

  init(calls: any WindowsCalls, runner: any CommandRunner, host: HostFacts, slice: Duration = .milliseconds(10)) {
    self.calls = calls
    self.runner = runner
    self.host = host
    self.slice = slice
  }

  /// Opens the process. A pid that names no process (ERROR_INVALID_PARAMETER) or a process
  /// that has already exited is `gone`; another creation time than the record's is
  /// `replaced`. A process this account may not open (ERROR_ACCESS_DENIED) is acquired
  /// without a handle: every signal to it is then not permitted, and nothing is sent.
  func acquire(_ record: ProcessRecord) async -> AcquireResult {
    guard record.pid > 0 else { return .gone }
    let opened: WindowsOpenedProcess
    do {
      opened = try calls.openProcess(UInt32(record.pid))
    } catch {
      return error.code == WindowsError.accessDenied ? .acquired(ProcessHandle(pid: record.pid)) : .gone
    }
    if hasExited(opened.handle) {
      calls.close(opened.handle)
      return .gone
    }
    if let ticks = record.startTicks, opened.created != ticks {
      calls.close(opened.handle)
      return .replaced
    }
    return .acquired(ProcessHandle(pid: record.pid, descriptor: opened.handle))
  }

  /// The handle pins the process: it is the same one while it has not exited. Without a
  /// handle, while its pid is still listed.
  func isSameProcess(_ handle: ProcessHandle, as record: ProcessRecord) async -> Bool {
    guard handle.descriptor > 0 else { return isListed(handle.pid) }
    return calls.waitAny([handle.descriptor], milliseconds: 0) == .timedOut
  }

  /// SIGKILL is TerminateProcess on the handle; any other signal is the graceful
  /// `taskkill /PID n /T`, which the pinned handle keeps aimed at the same process.
  func signal(_ handle: ProcessHandle, _ signal: Signal) async -> SignalResult {
    guard handle.descriptor > 0 else { return .notPermitted }
    if hasExited(handle.descriptor) { return .gone }
    if signal == .kill {
      do {
        try calls.terminate(handle.descriptor, exitCode: Self.forcedExitCode)
        return .sent
      } catch {
        // TerminateProcess also answers ERROR_ACCESS_DENIED for a process already ending.
        return hasExited(handle.descriptor) ? .gone : .notPermitted
      }
    }
    guard let output = try? await runner.run("taskkill", ["/PID", "\(handle.pid)", "/T"]) else {
      return .gracefulUnsupported
    }
    return TaskkillProcessControl.interpret(output, forced: false)
  }

  /// Waits on the handles on a thread of its own, at most 64 to one WaitForMultipleObjects
  /// and each wait at most ``slice`` long, so that every exit is timed as it happens and a
  /// cancelled task stops the watch at once with the exits seen so far. Handle-less
  /// processes are looked for in Toolhelp32's list every tenth of a second.
  func waitForExit(_ handles: [ProcessHandle], timeout: Duration) async -> [PID: Double] {
    let stop = StopSignal()
    return await withTaskCancellationHandler {
      await BlockingWork.run { self.watchExits(handles, timeout: timeout, stop: stop) }
    } onCancel: {
      stop.stop()
    }
  }

  /// `waitForExit` on the calling thread, until `stop` is given.
  func watchExits(_ handles: [ProcessHandle], timeout: Duration, stop: StopSignal) -> [PID: Double] {
    let clock = ContinuousClock()
    let start = clock.now
    let deadline = start + timeout
    var exited: [PID: Double] = [:]
    var pinned = handles.filter { $0.descriptor > 0 }
    var unpinned = handles.filter { $0.descriptor <= 0 }
    var lastListing = start - .seconds(1)
    /// One wait on each group of handles; `milliseconds` 0 only looks.
    func waitOnce(milliseconds: Int) {
      let groups = stride(from: 0, to: pinned.count, by: 64).map { Array(pinned[$0..<min($0 + 64, pinned.count)]) }
      let each = UInt32(clamping: groups.count > 1 ? milliseconds / groups.count : milliseconds)
      var finished: Set<PID> = []
      for group in groups {
        switch calls.waitAny(group.map(\.descriptor), milliseconds: each) {
        case .exited(let index) where group.indices.contains(index):
          exited[group[index].pid] = (clock.now - start).seconds
          finished.insert(group[index].pid)
        case .timedOut, .exited:
          break
        case .failed:
          // A handle of the group cannot be waited on: stop watching the ones that fail
          // alone, and take the exits found on the way.
          for handle in group {
            switch calls.waitAny([handle.descriptor], milliseconds: 0) {
            case .exited:
              exited[handle.pid] = (clock.now - start).seconds
              finished.insert(handle.pid)
            case .failed: finished.insert(handle.pid)
            case .timedOut: break
            }
          }
        }
      }
      pinned.removeAll { finished.contains($0.pid) }
    }
    while !pinned.isEmpty || !unpinned.isEmpty, !stop.isStopped {
      let now = clock.now
      if now >= deadline {
        // What exited by the deadline counts: one last look without waiting.
        var before = -1
        while !pinned.isEmpty, pinned.count != before {
          before = pinned.count
          waitOnce(milliseconds: 0)
        }
        break
      }
      let left = max(1, Self.milliseconds(min(slice, deadline - now)))
      if pinned.isEmpty {
        stop.sleep(milliseconds: left)
      } else {
        waitOnce(milliseconds: left)
      }
      if !unpinned.isEmpty, clock.now - lastListing >= .milliseconds(100) {
        lastListing = clock.now
        if let listed = listedPIDs() {
          for handle in unpinned where !listed.contains(UInt32(truncatingIfNeeded: handle.pid)) {
            exited[handle.pid] = (clock.now - start).seconds
          }
          unpinned.removeAll { exited[$0.pid] != nil }
        }
      }
    }
    return exited
  }

  func release(_ handle: ProcessHandle) async {
    if handle.descriptor > 0 { calls.close(handle.descriptor) }
  }

  /// This process and its ancestors from Toolhelp32: a parent is passed over only when it
  /// is proven younger than its child (a reused pid); one whose age cannot be read still
  /// counts, since protecting a stranger is the safe mistake.
  func selfAndAncestors() async -> [PID] {
    let selfPID = host.selfPID
    guard selfPID > 0, let plain = try? calls.processes(detailed: []) else { return [selfPID] }
    let raw = WindowsProcessTree(WindowsTables(processes: plain.records, processText: plain.text))
      .rawAncestorPIDs(of: selfPID)
    guard let opened = try? calls.processes(detailed: [UInt32(selfPID)] + raw) else { return [selfPID] }
    let tree = WindowsProcessTree(WindowsTables(processes: opened.records, processText: opened.text))
    var chain = [selfPID]
    var current = UInt32(selfPID)
    while chain.count < 256, let parent = tree.possibleParent(of: current),
      !chain.contains(PID(truncatingIfNeeded: parent))
    {
      chain.append(PID(truncatingIfNeeded: parent))
      current = parent
    }
    return chain
  }

  /// Now as a FILETIME, the clock of ``ProcessRecord/startTicks`` here.
  func clockTicks() async -> UInt64? {
    let now = WindowsRecords.fileTime(unixTime: host.now())
    return now == 0 ? nil : now
  }

  /// Whole milliseconds of `duration`, rounded down.
  static func milliseconds(_ duration: Duration) -> Int {
    let (whole, fraction) = duration.components
    return Int(clamping: whole).multipliedReportingOverflow(by: 1000).partialValue
      + Int(fraction / 1_000_000_000_000_000)
  }

  private func hasExited(_ handle: Int32) -> Bool {
    if case .exited = calls.waitAny([handle], milliseconds: 0) { return true }
    return false
  }

  private func isListed(_ pid: PID) -> Bool {
    listedPIDs()?.contains(UInt32(truncatingIfNeeded: pid)) ?? false
  }

  private func listedPIDs() -> Set<UInt32>? {
    guard let plain = try? calls.processes(detailed: []) else { return nil }
    return Set(plain.records.map(\.pid))
  }
}

/// A flag one thread sets to end another's wait, and a sleep it cuts short.
final class StopSignal: @unchecked Sendable {
  private let semaphore = DispatchSemaphore(value: 0)
  private let queue = DispatchQueue(label: "portctl.stop-signal")
  private var stopped = false

  /// Ends the wait.
  func stop() {
    queue.sync {
      guard !stopped else { return }
      stopped = true
      semaphore.signal()
    }
  }

  /// True once ``stop()`` was called.
  var isStopped: Bool { queue.sync { stopped } }

  /// Sleeps `milliseconds`, or less when ``stop()`` is called.
  func sleep(milliseconds: Int) {
    if semaphore.wait(timeout: .now() + .milliseconds(milliseconds)) == .success { semaphore.signal() }
  }
}

/// Bind probes through Winsock: `SO_EXCLUSIVEADDRUSE` on every socket, as Windows servers
/// that guard their port set it, and never `SO_REUSEADDR` (on Windows it lets a bind take a
/// port another socket is using), so the `reuseAddress` argument is ignored. Windows binds
/// `[::]` IPv6-only by default.
struct WindowsSocketBinder: PortBinder {
  var calls: any WindowsCalls
  let ipv6: IPv6Support

  /// A binder through `calls`; IPv6 counts as available unless a probe bind of `[::1]`
  /// port 0 answers WSAEAFNOSUPPORT (10047).
  init(calls: any WindowsCalls) {
    self.calls = calls
    let probe = calls.tryBind(family: 6, protocol: 6, address: IPAddress.loopbackV6.bytes, port: 0, v6Only: true)
    ipv6 = IPv6Support(available: probe != 10047, v6OnlyByDefault: true)
  }

  /// An IPv6-only bind where the address is IPv6; `reuseAddress` is ignored.
  func tryBind(_ endpoint: Endpoint, proto: TransportProtocol, reuseAddress: Bool) -> BindOutcome {
    tryBind(endpoint, proto: proto, reuseAddress: reuseAddress, v6Only: true)
  }

  /// A bind with SO_EXCLUSIVEADDRUSE and IPV6_V6ONLY as `v6Only` says; `reuseAddress` is
  /// ignored.
  func tryBind(_ endpoint: Endpoint, proto: TransportProtocol, reuseAddress: Bool, v6Only: Bool) -> BindOutcome {
    var address = endpoint.address.bytes
    address += [UInt8](repeating: 0, count: max(0, 16 - address.count))
    let code = calls.tryBind(
      family: endpoint.address.family == .ipv4 ? 4 : 6, protocol: proto == .tcp ? 6 : 17, address: address,
      port: endpoint.port, v6Only: v6Only)
    return BindOutcome(winsockError: code)
  }
}
