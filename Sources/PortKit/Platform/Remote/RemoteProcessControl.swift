#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Signals on another machine, over ssh. Each signal is one `ssh` run whose script checks,
/// right before `kill -s SIGNAL PID`, that PID is still the process that was found: its start
/// (`/proc/PID/stat` field 22, or `ps -o lstart=` where the remote was read through lsof)
/// must be the one recorded, so a reused pid is never hit. Exits are watched by a script
/// that checks every 0.1 s on the remote.
struct RemoteProcessControl: ProcessControl {
  var host: RemoteHost
  var runner: any CommandRunner
  var state: RemoteState
  /// The start each pinned process must still have.
  let pinned = PinnedStarts()

  /// The start of `record` as the remote check prints it; `nil` when it is not known.
  func expected(_ record: ProcessRecord) async -> (String, RemoteKind)? {
    guard let kind = await state.kind, let ticks = record.startTicks else { return nil }
    switch kind {
    case .procfs: return ("\(ticks)", kind)
    case .lsof: return (Self.lstart(Int64(clamping: ticks) + Int64(await state.utcOffset)), kind)
    }
  }

  func acquire(_ record: ProcessRecord) async -> AcquireResult {
    guard let (expected, kind) = await expected(record) else { return .replaced }
    guard
      let output = try? await host.run(
        RemoteScript.check(pid: record.pid, expected: expected, kind: kind), runner: runner)
    else { return .replaced }
    switch Self.word(output) {
    case "same":
      await pinned.set(record.pid, (expected, kind))
      return .acquired(ProcessHandle(pid: record.pid))
    case "gone": return .gone
    default: return .replaced
    }
  }

  func isSameProcess(_ handle: ProcessHandle, as record: ProcessRecord) async -> Bool {
    guard let (expected, kind) = await expected(record),
      let output = try? await host.run(
        RemoteScript.check(pid: handle.pid, expected: expected, kind: kind), runner: runner)
    else { return false }
    return Self.word(output) == "same"
  }

  func signal(_ handle: ProcessHandle, _ signal: Signal) async -> SignalResult {
    guard let (expected, kind) = await pinned.get(handle.pid) else { return .gone }
    guard
      let output = try? await host.run(
        RemoteScript.signal(signal, pid: handle.pid, expected: expected, kind: kind), runner: runner)
    else { return .gone }
    switch Self.word(output) {
    case "sent": return .sent
    case "denied": return .notPermitted
    default: return .gone
    }
  }

  func waitForExit(_ handles: [ProcessHandle], timeout: Duration) async -> [PID: Double] {
    var targets: [(pid: PID, expected: String)] = []
    var kind = RemoteKind.procfs
    var exited: [PID: Double] = [:]
    for handle in handles {
      if let (expected, pinnedKind) = await pinned.get(handle.pid) {
        targets.append((handle.pid, expected))
        kind = pinnedKind
      } else {
        exited[handle.pid] = 0
      }
    }
    guard !targets.isEmpty else { return exited }
    let rounds = max(0, Int((timeout.seconds * 10).rounded(.down)))
    let clock = ContinuousClock()
    let start = clock.now
    guard
      let output = try? await host.run(RemoteScript.wait(targets, rounds: rounds, kind: kind), runner: runner)
    else { return exited }
    let elapsed = (clock.now - start).seconds
    for line in String(decoding: output.standardOutput.prefix(1 << 20), as: UTF8.self).split(separator: "\n") {
      let fields = line.split(separator: " ")
      guard fields.count == 3, fields[0] == "@exit", let pid = PID(fields[1]), let round = Int(fields[2]),
        targets.contains(where: { $0.pid == pid })
      else { continue }
      exited[pid] = min(Double(round) / 10, elapsed)
    }
    return exited
  }

  func release(_ handle: ProcessHandle) async {
    await pinned.remove(handle.pid)
  }

  /// The remote script's shell and its ancestors (the sshd serving portctl): never signalled.
  func selfAndAncestors() async -> [PID] {
    await state.selfChain
  }

  /// The first word `output` printed.
  static func word(_ output: CommandOutput) -> String {
    String(decoding: output.standardOutput.prefix(64), as: UTF8.self).split(whereSeparator: \.isWhitespace).first
      .map(String.init) ?? ""
  }

  /// `ps -o lstart=` as the remote prints it, with single spaces (`Sun Nov 29 09:12:44 2026`),
  /// for a wall-clock time given as seconds since the epoch in the remote's zone.
  static func lstart(_ local: Int64) -> String {
    let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
    let seconds = local - days * 86_400
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let mp = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    let weekday = weekdays[Int(((days % 7) + 7) % 7)]
    let monthName = PsParser.months[Int(month - 1)]
    func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return
      "\(weekday) \(monthName) \(day) \(two(seconds / 3600)):\(two(seconds % 3600 / 60)):\(two(seconds % 60)) \(year)"
  }
}

/// The starts recorded when processes were pinned.
actor PinnedStarts {
  private var starts: [PID: (String, RemoteKind)] = [:]

  func set(_ pid: PID, _ start: (String, RemoteKind)) { starts[pid] = start }
  func get(_ pid: PID) -> (String, RemoteKind)? { starts[pid] }
  func remove(_ pid: PID) { starts[pid] = nil }
}
