/// What may start the targets of a `free` again, read before they are signalled (a one-shot
/// shell above a target exits with it, and its script and parent are gone after), with the
/// respawning processes pinned so that the watch can end as soon as they have all exited.
struct RespawnWatch: Sendable {
  /// The respawner of each target that has one, by the target's pid.
  var respawners: [PID: Respawner] = [:]
  /// The pinned respawning processes, by pid.
  var handles: [PID: ProcessHandle] = [:]

  /// Largest script file read to look for a loop.
  static let scriptLimit = 64 << 10

  /// Reads the facts ``RespawnRisk`` decides from for every target: the ancestry (once per
  /// parent), the scripts shells in it run, the systemd `Restart=` setting where a target
  /// runs in a service (through `systemctl show`, only then). Then pins each respawning
  /// process; one that is already gone cannot start anything.
  static func prepare(
    targets: [ProcessRecord], parents: [PID: ProcessRecord], system: System, control: any ProcessControl
  ) async -> RespawnWatch {
    var watch = RespawnWatch()
    var chains: [PID: [ProcessRecord]] = [:]
    var scripts: [PID: String] = [:]
    var restarts: [String: String?] = [:]
    for target in targets {
      let chain: [ProcessRecord]
      if let known = chains[target.ppid] {
        chain = known
      } else {
        let read = await system.source.ancestry(of: target.pid)
        chain =
          read.first?.pid == target.ppid ? read : (parents[target.ppid].map { [$0] } ?? [])
        chains[target.ppid] = chain
      }
      for shell in chain.prefix(RespawnRisk.shellDepth + 1)
      where RespawnRisk.isShell(shell) && scripts[shell.pid] == nil {
        guard case .script(let path) = RespawnRisk.shellInput(shell.commandLine) else { continue }
        if let bytes = await system.source.smallFile(path, of: shell.pid, limit: scriptLimit) {
          scripts[shell.pid] = String(decoding: bytes, as: UTF8.self)
        }
      }
      var restart: String?
      if let unit = RespawnRisk.systemdService(target.controlGroup) {
        if let known = restarts[unit] {
          restart = known
        } else {
          restart = await restartSetting(
            unit, user: RespawnRisk.isUserService(target.controlGroup) ? (target.uid ?? .max) : nil, system: system)
          restarts[unit] = restart
        }
      }
      let facts = RespawnRisk.Facts(ancestors: chain, scripts: scripts, restart: restart)
      guard let respawner = RespawnRisk.respawner(for: target, facts: facts) else { continue }
      if let process = respawner.process, watch.handles[process.pid] == nil {
        guard case .acquired(let handle) = await control.acquire(process) else { continue }
        watch.handles[process.pid] = handle
      }
      watch.respawners[target.pid] = respawner
    }
    return watch
  }

  /// `systemctl show -p Restart --value UNIT` (`--user` for the user service of `user`,
  /// asked only when portctl runs as that user); `nil` when it cannot be asked or gives no
  /// answer (no running systemd).
  static func restartSetting(_ unit: String, user: UInt32?, system: System) async -> String? {
    guard !unit.hasPrefix("-") else { return nil }
    if let user, user != system.host.effectiveUID { return nil }
    let arguments = (user != nil ? ["--user"] : []) + ["show", "-p", "Restart", "--value", "--", unit]
    guard let output = try? await system.runner.run("systemctl", arguments), output.exitCode == 0 else { return nil }
    let value = String(decoding: output.standardOutput, as: UTF8.self).filter { !$0.isWhitespace }
    return value.isEmpty || value.count > 32 ? nil : value
  }

  /// The respawners of `targets`, in their order, leaving out those that were ended with
  /// the targets (a parent that held the port too): nothing is left to start them again.
  func risks(for targets: [ProcessRecord], ended: Set<PID>) -> [Respawner] {
    targets.compactMap { target in
      if ended.contains(target.ppid) { return nil }
      guard let respawner = respawners[target.pid] else { return nil }
      if let process = respawner.process, ended.contains(process.pid) { return nil }
      return respawner
    }
  }

  /// True when every one of `risks` is a process that has exited: nothing is left that
  /// could start a holder again.
  func allExited(_ risks: [Respawner], control: any ProcessControl) async -> Bool {
    for risk in risks {
      guard let process = risk.process, let handle = handles[process.pid] else { return false }
      if await control.isSameProcess(handle, as: process) { return false }
    }
    return true
  }

  /// Gives the pinned processes back.
  func release(_ control: any ProcessControl) async {
    for handle in handles.values { await control.release(handle) }
  }
}
