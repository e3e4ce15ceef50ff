#if canImport(Glibc) || canImport(Darwin)
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Signals with kill(2) where there is no pidfd (macOS): the start time (`ps -o lstart=`) is
/// compared with the one recorded when the process was found, right before every signal.
/// Exits are seen by checking every 10 ms.
struct PosixProcessControl: ProcessControl {
  var runner: any CommandRunner
  var host: HostFacts

  init(runner: any CommandRunner, host: HostFacts) {
    self.runner = runner
    self.host = host
  }

  func acquire(_ record: ProcessRecord) async -> AcquireResult {
    guard exists(record.pid) else { return .gone }
    guard await startMatches(record) else { return exists(record.pid) ? .replaced : .gone }
    return .acquired(ProcessHandle(pid: record.pid))
  }

  func isSameProcess(_ handle: ProcessHandle, as record: ProcessRecord) async -> Bool {
    exists(handle.pid) ? await startMatches(record) : false
  }

  func signal(_ handle: ProcessHandle, _ signal: Signal) async -> SignalResult {
    if kill(handle.pid, signal.number) == 0 { return .sent }
    return errno == EPERM ? .notPermitted : .gone
  }

  func waitForExit(_ handles: [ProcessHandle], timeout: Duration) async -> [PID: Double] {
    let clock = ContinuousClock()
    let start = clock.now
    var exited: [PID: Double] = [:]
    var round = 0
    while exited.count < handles.count, clock.now - start < timeout {
      // kill(pid, 0) succeeds on a zombie; every tenth round ask ps whether it is one.
      let zombies = round % 10 == 9 ? await zombiePIDs(handles.map(\.pid)) : []
      for handle in handles where exited[handle.pid] == nil {
        if !exists(handle.pid) || zombies.contains(handle.pid) { exited[handle.pid] = (clock.now - start).seconds }
      }
      if exited.count == handles.count { break }
      // Cancelled: stop watching now, with the exits seen so far.
      do { try await Task.sleep(for: .milliseconds(10)) } catch { break }
      round += 1
    }
    return exited
  }

  func release(_ handle: ProcessHandle) async {}

  func selfAndAncestors() async -> [PID] {
    var parents: [PID: PID] = [:]
    if let output = try? await runner.run("ps", ["-A", "-o", "pid=,ppid="]) {
      for line in String(decoding: output.standardOutput, as: UTF8.self).split(separator: "\n") {
        let fields = line.split(separator: " ").compactMap { PID($0) }
        if fields.count == 2 { parents[fields[0]] = fields[1] }
      }
    }
    var chain: [PID] = [getpid()]
    var current = getppid()
    while current > 0, chain.count < 256, !chain.contains(current) {
      chain.append(current)
      guard let parent = parents[current] else { break }
      current = parent
    }
    return chain
  }

  private func exists(_ pid: PID) -> Bool {
    kill(pid, 0) == 0 || errno == EPERM
  }

  private func startMatches(_ record: ProcessRecord) async -> Bool {
    guard let expected = record.startTicks else { return true }
    guard let output = try? await runner.run("ps", ["-o", "pid=,ppid=,uid=,lstart=,command=", "-p", "\(record.pid)"]),
      let row = PsParser.parse(output.standardOutput).first(where: { $0.pid == record.pid })
    else { return false }
    let guess = row.start.epochSeconds(utcOffset: 0)
    let start = row.start.epochSeconds(utcOffset: host.utcOffset(guess))
    return UInt64(max(0, start)) == expected
  }

  private func zombiePIDs(_ pids: [PID]) async -> Set<PID> {
    guard
      let output = try? await runner.run("ps", ["-o", "pid=,stat=", "-p", pids.map { "\($0)" }.joined(separator: ",")])
    else { return [] }
    var zombies = Set<PID>()
    for line in String(decoding: output.standardOutput, as: UTF8.self).split(separator: "\n") {
      let fields = line.split(separator: " ")
      if fields.count >= 2, let pid = PID(fields[0]), fields[1].hasPrefix("Z") { zombies.insert(pid) }
    }
    return zombies
  }
}

extension HostFacts {
  /// This machine, through libc.
  static var current: HostFacts {
    var facts = HostFacts(
      effectiveUID: geteuid(), selfPID: getpid(),
      now: {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
      },
      utcOffset: { epoch in
        var seconds = time_t(epoch)
        var parts = tm()
        guard localtime_r(&seconds, &parts) != nil else { return 0 }
        return Int(parts.tm_gmtoff)
      },
      userName: { uid in
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return nil }
        return String(cString: name)
      })
    facts.homeDirectory = getenv("HOME").map { String(cString: $0) }
    return facts
  }
}
#endif
