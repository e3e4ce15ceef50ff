import PortKit

/// The JSON document of `kill` and `free` (docs/json.md).
package struct TerminationDocument: JSONDocument {
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

  package func write(to writer: inout JSONWriter) {
    writer.beginObject()
    writer.key("clients")
    writer.beginArray()
    for socket in plan?.clients ?? [] { SocketJSON(socket, takenAt: 0).write(to: &writer) }
    writer.endArray()
    writer.field("command", command)
    writer.field("consent", consent)
    writer.field("dryRun", dryRun)
    writer.key("error")
    if let failure {
      writer.beginObject()
      writer.field("code", failure.code)
      writer.field("message", failure.message)
      writer.endObject()
    } else {
      writer.null()
    }
    writer.field("exitCode", exitCode)
    // A dry run (and an MCP plan) frees nothing: null, as for kill.
    writer.field("freed", command == "free" && !dryRun ? exitCode == 0 : nil)
    writer.key("hidden")
    writer.beginArray()
    for socket in (plan?.hidden ?? []) + (plan?.partlyHidden ?? []) {
      SocketJSON(socket, takenAt: 0).write(to: &writer)
    }
    writer.endArray()
    writer.field("host", host)
    writer.key("managerStops")
    writer.beginArray()
    for stop in managerStops { ManagerStopJSON(stop).write(to: &writer) }
    writer.endArray()
    if let planId { writer.field("planId", planId) }
    writer.key("ports")
    writer.beginArray()
    for result in ports ?? [] { PortResultJSON(result).write(to: &writer) }
    writer.endArray()
    writer.key("protected")
    writer.beginArray()
    for entry in plan?.protected ?? [] { ProtectedJSON(entry).write(to: &writer) }
    writer.endArray()
    writer.field("respawnRisks", respawnRisks)
    writer.key("respawnWatch")
    if let respawnWatch { RespawnWatchJSON(watch: respawnWatch).write(to: &writer) } else { writer.null() }
    writer.field("schemaVersion", JSONOutput.schemaVersion)
    writer.key("targets")
    writer.beginArray()
    let outcomes = Dictionary((results ?? []).map { ($0.process.pid, $0) }, uniquingKeysWith: { first, _ in first })
    for target in plan?.targets ?? [] {
      TargetJSON(
        target: target, result: outcomes[target.process.pid], dryRun: dryRun,
        group: plan?.group(of: target.process.pid)
      ).write(to: &writer)
    }
    writer.endArray()
    writer.endObject()
  }
}

/// How the watch for a respawn went.
package struct RespawnWatchJSON {
  package var watch: FreeVerifier.Watch

  /// Writes the watch as one object.
  package func write(to writer: inout JSONWriter) {
    writer.beginObject()
    writer.field("ended", watch.ending.rawValue)
    writer.field("watchedSeconds", watch.watched.seconds)
    writer.field("windowSeconds", watch.window.seconds)
    writer.endObject()
  }
}

package struct TargetJSON {
  package var target: TerminationPlan.Target
  package var result: TerminationResult?
  package var dryRun: Bool
  package var group: TerminationPlan.Group?

  /// Writes the target as one object.
  package func write(to writer: inout JSONWriter) {
    let process = target.process
    writer.beginObject()
    writer.commandField("command", process)
    writer.field("graceSeconds", group?.grace.seconds)
    writer.key("manager")
    if let group, let manager = group.manager {
      writer.beginObject()
      writer.field("evidence", manager.evidence.rawValue)
      writer.field("kind", manager.kind.rawValue)
      writer.field("name", manager.name)
      writer.field("runnable", group.managerCommand != nil)
      writer.field("stop", manager.stop)
      writer.endObject()
    } else {
      writer.null()
    }
    writer.field("master", group?.master.pid)
    writer.field("name", process.name)
    writer.field("outcome", result?.outcome.code ?? (dryRun ? "would-signal" : "not-signalled"))
    writer.field("pid", process.pid)
    writer.field("ports", Set(target.sockets.map { "\($0.local.port)/\($0.proto.rawValue)" }).sorted())
    writer.field("ppid", process.ppid)
    writer.field("seconds", result?.outcome.seconds)
    writer.key("server")
    if let server = group?.server { ServerJSON(server: server).write(to: &writer) } else { writer.null() }
    writer.field("sharesWith", target.sharesWith)
    let signalled = group?.signalled.contains { $0.pid == process.pid } == true
    writer.field("signal", signalled ? group?.signal.name : nil)
    writer.field("signals", (result?.signalsSent ?? []).map(\.name))
    writer.dateField("startTime", process.startTime)
    writer.field("uid", process.uid)
    writer.field("user", process.user)
    writer.endObject()
  }
}

package struct ProtectedJSON {
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

  /// Writes the protected process as one object.
  package func write(to writer: inout JSONWriter) {
    writer.beginObject()
    writer.field("command", command)
    writer.field("name", name)
    writer.field("pid", pid)
    writer.field("reason", reason)
    writer.endObject()
  }
}

package struct PortResultJSON {
  package var result: FreeVerifier.PortResult

  package init(_ result: FreeVerifier.PortResult) {
    self.result = result
  }

  /// Writes the port's verdict as one object.
  package func write(to writer: inout JSONWriter) {
    writer.beginObject()
    var binds: [String: String] = [:]
    for (address, outcome) in result.probe?.outcomes ?? [:] { binds[address.description] = Self.code(outcome) }
    writer.field("binds", binds)
    var closing: [String: Int] = [:]
    for socket in result.lingering { closing[socket.state.rawValue, default: 0] += 1 }
    writer.field("closing", closing)
    writer.field("closingSeconds", result.lingering.compactMap(\.timer?.remainingSeconds).max())
    var holders: [PID] = []
    for pid in result.connections.flatMap(\.owner.holders).map(\.process.pid) where !holders.contains(pid) {
      holders.append(pid)
    }
    writer.field("connectionsHeldBy", holders)
    writer.field("free", result.isFree)
    writer.field("plainBindable", result.probe?.plainBindable)
    writer.field("port", result.item.port)
    writer.field("protocol", result.item.proto.rawValue)
    writer.key("respawn")
    if let respawn = result.respawn {
      writer.beginObject()
      writer.field("alreadyRunning", respawn.alreadyRunning)
      writer.field("command", respawn.holders.first?.process.displayCommand)
      writer.key("hiddenOwner")
      if let hidden = respawn.hiddenOwner {
        writer.beginObject()
        writer.field("uid", hidden.uid)
        writer.field("user", hidden.user)
        writer.endObject()
      } else {
        writer.null()
      }
      writer.field("pids", respawn.holders.map(\.process.pid))
      writer.key("supervisor")
      if let supervisor = respawn.supervisor {
        writer.beginObject()
        writer.commandField("command", supervisor)
        writer.field("name", supervisor.name)
        writer.field("pid", supervisor.pid)
        writer.endObject()
      } else {
        writer.null()
      }
      writer.endObject()
    } else {
      writer.null()
    }
    writer.field("stillHeldBy", result.stillHeld.flatMap(\.owner.holders).map(\.process.pid))
    let lingering = result.lingering.filter { $0.state == .timeWait }
    writer.field("timeWait", lingering.count)
    writer.field("timeWaitSeconds", lingering.compactMap(\.timer?.remainingSeconds).max())
    writer.field("verdict", result.verdict.rawValue)
    writer.endObject()
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

package struct ManagerStopJSON {
  package var command: String
  package var exitCode: Int32?
  package var message: String

  package init(_ stop: PortFreeing.ManagerStop) {
    command = stop.command
    exitCode = stop.exitCode
    message = stop.message
  }

  /// Writes the manager's stop as one object.
  package func write(to writer: inout JSONWriter) {
    writer.beginObject()
    writer.field("command", command)
    writer.field("exitCode", exitCode)
    writer.field("message", message)
    writer.endObject()
  }
}
