#if os(Linux)
import CPortSys
import Glibc

/// Signals through pidfds: a pidfd is opened for each target when it is pinned, the
/// target's start time is checked against the one recorded when it was found, and every
/// signal goes through the pidfd, which can never reach a process that reused the pid.
/// Exits are watched by polling the pidfds. Without pidfd support (kernels before 5.3)
/// it falls back to kill(2) with a start-time check right before each signal.
struct LinuxProcessControl: ProcessControl {
  var reader: ProcfsReader

  init(reader: ProcfsReader = ProcfsReader()) {
    self.reader = reader
  }

  func acquire(_ record: ProcessRecord) async -> AcquireResult {
    let fd = cportsys_pidfd_open(record.pid, 0)
    if fd < 0, errno == ESRCH { return .gone }
    // The pidfd (when there is one) was opened after the record was read: if the pid
    // still has the recorded start time now, the pidfd names the process that was found.
    guard let ticks = startTicks(record.pid) else {
      if fd >= 0 { close(fd) }
      return .gone
    }
    guard record.startTicks == nil || record.startTicks == ticks else {
      if fd >= 0 { close(fd) }
      return .replaced
    }
    return .acquired(ProcessHandle(pid: record.pid, descriptor: fd >= 0 ? fd : -1))
  }

  func isSameProcess(_ handle: ProcessHandle, as record: ProcessRecord) async -> Bool {
    if handle.descriptor >= 0, hasExited(handle.descriptor) { return false }
    guard let ticks = startTicks(handle.pid) else { return false }
    return record.startTicks == nil || record.startTicks == ticks
  }

  func signal(_ handle: ProcessHandle, _ signal: Signal) async -> SignalResult {
    let result =
      handle.descriptor >= 0
      ? cportsys_pidfd_send_signal(handle.descriptor, signal.number)
      : Glibc.kill(handle.pid, signal.number)
    if result == 0 { return .sent }
    switch errno {
    case EPERM: return .notPermitted
    default: return .gone
    }
  }

  /// Watches the exits on a thread of its own (`poll` blocks). A cancelled task ends the
  /// watch at once, with the exits seen so far: a pipe polled with the pidfds wakes it.
  func waitForExit(_ handles: [ProcessHandle], timeout: Duration) async -> [PID: Double] {
    var ends: [Int32] = [-1, -1]
    if pipe(&ends) == 0 {
      for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
    } else {
      ends = [-1, -1]
    }
    let (wake, waker) = (ends[0], ends[1])
    defer {
      for end in ends where end >= 0 { close(end) }
    }
    return await withTaskCancellationHandler {
      await BlockingWork.run { self.watchExits(handles, timeout: timeout, wake: wake) }
    } onCancel: {
      if waker >= 0 {
        var byte: UInt8 = 1
        _ = write(waker, &byte, 1)
      }
    }
  }

  /// `waitForExit` on the calling thread; ends early when `wake` (if not -1) turns readable.
  func watchExits(_ handles: [ProcessHandle], timeout: Duration, wake: Int32) -> [PID: Double] {
    let clock = ContinuousClock()
    let start = clock.now
    let deadline = start + timeout
    var exited: [PID: Double] = [:]
    var waiting = handles
    while !waiting.isEmpty {
      let now = clock.now
      if now >= deadline { break }
      let withDescriptor = waiting.filter { $0.descriptor >= 0 }
      // pidfds wake the poll the moment a process exits; pid-only handles are re-checked
      // every 10 ms.
      let remaining = (deadline - now).milliseconds
      let wait = withDescriptor.count == waiting.count ? remaining : min(remaining, 10)
      var fds = withDescriptor.map { pollfd(fd: $0.descriptor, events: Int16(POLLIN), revents: 0) }
      fds.append(pollfd(fd: wake, events: Int16(POLLIN), revents: 0))
      let ready = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), Int32(max(wait, 1))) }
      if ready < 0, errno != EINTR { break }
      let elapsed = (clock.now - start).seconds
      for handle in waiting where handle.descriptor >= 0 ? hasExited(handle.descriptor) : !isAlive(handle.pid) {
        exited[handle.pid] = elapsed
      }
      waiting.removeAll { exited[$0.pid] != nil }
      if let woken = fds.last, woken.revents != 0 { break }
    }
    return exited
  }

  /// Clock ticks since boot (CLOCK_BOOTTIME, the clock of `stat`'s start time).
  func clockTicks() async -> UInt64? {
    var now = timespec()
    guard clock_gettime(CLOCK_BOOTTIME, &now) == 0 else { return nil }
    let seconds = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    return UInt64(seconds * Syscalls.clockTicksPerSecond)
  }

  func release(_ handle: ProcessHandle) async {
    if handle.descriptor >= 0 { close(handle.descriptor) }
  }

  func selfAndAncestors() async -> [PID] {
    var chain: [PID] = [getpid()]
    var current = getppid()
    while current > 0, chain.count < 256, !chain.contains(current) {
      chain.append(current)
      guard let stat = Syscalls.readFile("\(reader.root)/\(current)/stat").flatMap(ProcfsParsers.stat) else { break }
      current = stat.ppid
    }
    return chain
  }

  /// The start time of a live process. A zombie main thread is a live process while
  /// another of its threads runs (the main thread called pthread_exit).
  private func startTicks(_ pid: PID) -> UInt64? {
    guard let stat = Syscalls.readFile("\(reader.root)/\(pid)/stat").flatMap(ProcfsParsers.stat),
      stat.state != "Z" || hasOtherThreads(pid)
    else { return nil }
    return stat.startTicks
  }

  private func hasOtherThreads(_ pid: PID) -> Bool {
    guard case .success(let taskFD) = Syscalls.open("\(reader.root)/\(pid)/task", directoryOnly: true) else {
      return false
    }
    defer { Syscalls.close(taskFD) }
    var other = false
    Syscalls.forEachDirectoryEntry(taskFD) { name in
      if let tid = ProcfsReader.number(name), tid != pid { other = true }
    }
    return other
  }

  private func hasExited(_ pidfd: Int32) -> Bool {
    var descriptor = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
    return poll(&descriptor, 1, 0) > 0
  }

  private func isAlive(_ pid: PID) -> Bool {
    startTicks(pid) != nil
  }
}

extension Duration {
  var milliseconds: Int {
    let (whole, fraction) = components
    return Int(clamping: whole) * 1000 + Int(fraction / 1_000_000_000_000_000)
  }
}
#endif
