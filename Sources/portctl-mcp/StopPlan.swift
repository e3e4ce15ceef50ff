import PortKit

/// The id of a `free` or `kill` plan: a digest of exactly what it would do.
enum StopPlan {
  /// A digest of `command`, each target (pid, start time, the sockets that make it one) and
  /// each group's signal, grace and signalled pids. Two plans have the same id only when
  /// they would signal the same processes, started at the same moments, the same way. The
  /// digest (64-bit FNV-1a) detects change; it is no secret: whoever knows a plan can
  /// compute its id, and knowing it is what the id stands for.
  static func id(command: String, plan: TerminationPlan) -> String {
    var lines = [command]
    for target in plan.targets.sorted(by: { $0.process.pid < $1.process.pid }) {
      let process = target.process
      let start = process.startTicks.map(String.init) ?? process.startTime.map { "\($0)" } ?? "?"
      let sockets = target.sockets.map { "\($0.proto.rawValue) \($0.local)" }.sorted().joined(separator: ",")
      lines.append("target \(process.pid) start \(start) sockets \(sockets)")
    }
    for group in plan.groups.sorted(by: { $0.master.pid < $1.master.pid }) {
      let signalled = group.signalled.map { "\($0.pid)" }.sorted().joined(separator: ",")
      lines.append(
        "group \(group.master.pid) signal \(group.signal.name) grace \(group.grace.seconds) signalled \(signalled)")
    }
    for protected in plan.protected { lines.append("protected \(protected.process.pid)") }
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in lines.joined(separator: "\n").utf8 {
      hash ^= UInt64(byte)
      hash = hash &* 0x0000_0100_0000_01b3
    }
    let hex = String(hash, radix: 16)
    return "plan-" + String(repeating: "0", count: 16 - hex.count) + hex
  }
}
