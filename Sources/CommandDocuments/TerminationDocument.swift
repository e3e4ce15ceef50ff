import PortKit

/// The JSON document of `kill` and `free` (docs/json.md).
package struct TerminationDocument: Encodable {
  package var command: String
  package var dryRun: Bool
  package var exitCode: Int32 = 0
  package var consent: String?
  package var plan: TerminationPlan?
  package var parents: [PID: ProcessRecord] = [:]
  package var results: [TerminationResult]?
  package var respawnRisks: [String] = []
  package var ports: [FreeVerifier.PortResult]?
  package var respawnWatch: FreeVerifier.Watch?
  package var managerStops: [PortFreeing.ManagerStop] = []
  /// `--host`'s machine; `nil` (null) for this one.
  package var host: String? = nil
  /// The MCP server's plan id (docs/json.md, "MCP results"); left out when `nil`, as the
  /// command line always leaves it.
  package var planId: String? = nil
  /// Why the MCP server acted on nothing (`code`, `message`); `error` is `null` without it.
  package var failure: (code: String, message: String)? = nil

  /// The document of `kill` or `free` (`command`); the rest is filled in as the call goes.
  package init(command: String, dryRun: Bool) {
    self.command = command
    self.dryRun = dryRun
  }

  /// The document of `outcome`, with `consent` as it is named there (`yes-flag`, `prompt`,
  /// `refused`) and the exit status ``exitStatus(for:)`` gives.
  package init(command: String, dryRun: Bool, outcome: PortFreeing.Outcome, consent: String?) {
    self.init(command: command, dryRun: dryRun)
    plan = outcome.plan
    parents = outcome.parents
    self.consent = consent
    results = outcome.results
    respawnRisks = outcome.respawnRisks
    respawnWatch = outcome.respawnWatch
    ports = outcome.ports
    managerStops = outcome.managerStops
    exitCode = Self.exitStatus(for: outcome)
  }

  /// The exit status of `kill` and `free` for `outcome` (README: "Exit codes").
  package static func exitStatus(for outcome: PortFreeing.Outcome) -> Int32 {
    switch outcome.ending {
    case .refused(.protected), .refused(.noConsent), .refused(.noManager): ExitStatus.refused
    case .refused(.unseenHolders), .notPermitted: ExitStatus.notPermitted
    case .managerStopFailed, .nothingToSignal: ExitStatus.negative
    case .dryRun, .nothingHolds: ExitStatus.success
    case .terminated, .verified: outcome.freed ? ExitStatus.success : ExitStatus.negative
    }
  }

  package enum CodingKeys: String, CodingKey {
    case schemaVersion, command, host, exitCode, error, dryRun, consent, targets, protected, hidden, clients,
      respawnRisks
    case ports, managerStops
    case freed
    case respawnWatch
    case planId
  }
  package enum FailureKeys: String, CodingKey { case code, message }

  package func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(JSONOutput.schemaVersion, forKey: .schemaVersion)
    try container.encode(command, forKey: .command)
    try container.encode(host, forKey: .host)
    try container.encode(exitCode, forKey: .exitCode)
    if let failure {
      var error = container.nestedContainer(keyedBy: FailureKeys.self, forKey: .error)
      try error.encode(failure.code, forKey: .code)
      try error.encode(failure.message, forKey: .message)
    } else {
      try container.encodeNil(forKey: .error)
    }
    try container.encodeIfPresent(planId, forKey: .planId)
    try container.encode(dryRun, forKey: .dryRun)
    try container.encode(consent, forKey: .consent)
    let outcomes = Dictionary((results ?? []).map { ($0.process.pid, $0) }, uniquingKeysWith: { first, _ in first })
    let targets = (plan?.targets ?? []).map {
      TargetJSON(
        target: $0, result: outcomes[$0.process.pid], dryRun: dryRun, group: plan?.group(of: $0.process.pid))
    }
    try container.encode(targets, forKey: .targets)
    try container.encode((plan?.protected ?? []).map(ProtectedJSON.init), forKey: .protected)
    let hidden = (plan?.hidden ?? []) + (plan?.partlyHidden ?? [])
    try container.encode(hidden.map { SocketJSON($0, takenAt: 0) }, forKey: .hidden)
    try container.encode((plan?.clients ?? []).map { SocketJSON($0, takenAt: 0) }, forKey: .clients)
    try container.encode(respawnRisks, forKey: .respawnRisks)
    try container.encode((ports ?? []).map(PortResultJSON.init), forKey: .ports)
    try container.encode(managerStops.map(ManagerStopJSON.init), forKey: .managerStops)
    // A dry run (and an MCP plan) frees nothing: null, as for kill.
    if command == "free", !dryRun {
      try container.encode(exitCode == 0, forKey: .freed)
    } else {
      try container.encodeNil(forKey: .freed)
    }
    try container.encode(respawnWatch.map(RespawnWatchJSON.init), forKey: .respawnWatch)
  }
}

/// How the watch for a respawn went.
package struct RespawnWatchJSON: Encodable {
  package var watch: FreeVerifier.Watch

  package enum CodingKeys: String, CodingKey {
    case windowSeconds, watchedSeconds, ended
  }

  package func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(watch.window.seconds, forKey: .windowSeconds)
    try container.encode(watch.watched.seconds, forKey: .watchedSeconds)
    try container.encode(watch.ending.rawValue, forKey: .ended)
  }
}

package struct TargetJSON: Encodable {
  package var target: TerminationPlan.Target
  package var result: TerminationResult?
  package var dryRun: Bool
  package var group: TerminationPlan.Group?

  package enum CodingKeys: String, CodingKey {
    case pid, ppid, uid, user, name, command, startTime, ports, sharesWith, outcome, signals, seconds
    case server, manager, master, signal, graceSeconds
  }
  package enum ManagerKeys: String, CodingKey { case kind, name, stop, evidence, runnable }

  package func encode(to encoder: any Encoder) throws {
    let process = target.process
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(process.pid, forKey: .pid)
    try container.encode(process.ppid, forKey: .ppid)
    try container.encode(process.uid, forKey: .uid)
    try container.encode(process.user, forKey: .user)
    try container.encode(process.name, forKey: .name)
    try container.encode(process.displayCommand, forKey: .command)
    try container.encode(process.startTime.map(JSONOutput.iso8601), forKey: .startTime)
    let ports = Set(target.sockets.map { "\($0.local.port)/\($0.proto.rawValue)" }).sorted()
    try container.encode(ports, forKey: .ports)
    try container.encode(target.sharesWith, forKey: .sharesWith)
    let outcome = result?.outcome.code ?? (dryRun ? "would-signal" : "not-signalled")
    try container.encode(outcome, forKey: .outcome)
    try container.encode((result?.signalsSent ?? []).map(\.name), forKey: .signals)
    try container.encode(result?.outcome.seconds, forKey: .seconds)
    try container.encode(group?.server.map(ServerJSON.init), forKey: .server)
    if let group, let manager = group.manager {
      var item = container.nestedContainer(keyedBy: ManagerKeys.self, forKey: .manager)
      try item.encode(manager.kind.rawValue, forKey: .kind)
      try item.encode(manager.name, forKey: .name)
      try item.encode(manager.stop, forKey: .stop)
      try item.encode(manager.evidence.rawValue, forKey: .evidence)
      try item.encode(group.managerCommand != nil, forKey: .runnable)
    } else {
      try container.encodeNil(forKey: .manager)
    }
    try container.encode(group?.master.pid, forKey: .master)
    let signalled = group?.signalled.contains { $0.pid == process.pid } == true
    try container.encode(signalled ? group?.signal.name : nil, forKey: .signal)
    try container.encode(group?.grace.seconds, forKey: .graceSeconds)
  }
}

package struct ProtectedJSON: Encodable {
  package var pid: PID
  package var name: String
  package var command: String
  package var reason: String

  package init(_ entry: TerminationPlan.Protected) {
    pid = entry.process.pid
    name = entry.process.name
    command = entry.process.displayCommand
    reason = entry.reason
  }
}

package struct PortResultJSON: Encodable {
  package var result: FreeVerifier.PortResult

  package init(_ result: FreeVerifier.PortResult) {
    self.result = result
  }

  package enum CodingKeys: String, CodingKey {
    case proto = "protocol", port, verdict, free, binds, plainBindable, timeWait, timeWaitSeconds, stillHeldBy
    case closing, closingSeconds, connectionsHeldBy, respawn
  }
  package enum RespawnKeys: String, CodingKey { case pids, command, supervisor, alreadyRunning, hiddenOwner }
  package enum ProcessKeys: String, CodingKey { case pid, name, command }
  package enum HiddenKeys: String, CodingKey { case uid, user }

  package func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(result.item.proto.rawValue, forKey: .proto)
    try container.encode(result.item.port, forKey: .port)
    try container.encode(result.verdict.rawValue, forKey: .verdict)
    try container.encode(result.isFree, forKey: .free)
    var binds: [String: String] = [:]
    for (address, outcome) in result.probe?.outcomes ?? [:] { binds[address.description] = Self.code(outcome) }
    try container.encode(binds, forKey: .binds)
    try container.encode(result.probe?.plainBindable, forKey: .plainBindable)
    let lingering = result.lingering.filter { $0.state == .timeWait }
    try container.encode(lingering.count, forKey: .timeWait)
    try container.encode(lingering.compactMap(\.timer?.remainingSeconds).max(), forKey: .timeWaitSeconds)
    try container.encode(result.stillHeld.flatMap(\.owner.holders).map(\.process.pid), forKey: .stillHeldBy)
    var closing: [String: Int] = [:]
    for socket in result.lingering { closing[socket.state.rawValue, default: 0] += 1 }
    try container.encode(closing, forKey: .closing)
    try container.encode(result.lingering.compactMap(\.timer?.remainingSeconds).max(), forKey: .closingSeconds)
    var holders: [PID] = []
    for pid in result.connections.flatMap(\.owner.holders).map(\.process.pid) where !holders.contains(pid) {
      holders.append(pid)
    }
    try container.encode(holders, forKey: .connectionsHeldBy)
    if let respawn = result.respawn {
      var nested = container.nestedContainer(keyedBy: RespawnKeys.self, forKey: .respawn)
      try nested.encode(respawn.holders.map(\.process.pid), forKey: .pids)
      try nested.encode(respawn.holders.first?.process.displayCommand, forKey: .command)
      if let supervisor = respawn.supervisor {
        var process = nested.nestedContainer(keyedBy: ProcessKeys.self, forKey: .supervisor)
        try process.encode(supervisor.pid, forKey: .pid)
        try process.encode(supervisor.name, forKey: .name)
        try process.encode(supervisor.displayCommand, forKey: .command)
      } else {
        try nested.encodeNil(forKey: .supervisor)
      }
      try nested.encode(respawn.alreadyRunning, forKey: .alreadyRunning)
      if let hidden = respawn.hiddenOwner {
        var owner = nested.nestedContainer(keyedBy: HiddenKeys.self, forKey: .hiddenOwner)
        try owner.encode(hidden.uid, forKey: .uid)
        try owner.encode(hidden.user, forKey: .user)
      } else {
        try nested.encodeNil(forKey: .hiddenOwner)
      }
    } else {
      try container.encodeNil(forKey: .respawn)
    }
  }

  package static func code(_ outcome: BindOutcome) -> String {
    switch outcome {
    case .bindable: "bindable"
    case .inUse: "in-use"
    case .permissionDenied: "permission-denied"
    case .addressUnavailable: "address-unavailable"
    case .familyUnsupported: "family-unsupported"
    case .failed(let errno): "errno-\(errno)"
    }
  }
}

package struct ManagerStopJSON: Encodable {
  package var command: String
  package var exitCode: Int32?
  package var message: String

  package init(_ stop: PortFreeing.ManagerStop) {
    command = stop.command
    exitCode = stop.exitCode
    message = stop.message
  }

  package enum CodingKeys: String, CodingKey { case command, exitCode, message }

  package func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(command, forKey: .command)
    try container.encode(exitCode, forKey: .exitCode)
    try container.encode(message, forKey: .message)
  }
}
