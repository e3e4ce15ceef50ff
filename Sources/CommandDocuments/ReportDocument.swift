import PortKit

/// The result of `who` and `list`.
package struct ReportDocument: Encodable {
  package var command: String
  package var exitCode: Int32
  package var query: [PortSpec]?
  package var report: PortReport
  package var excluded: [ExcludedPortHit] = []
  /// Ancestry and managers per holder (`who` and `why`).
  package var provenance: [PID: Provenance]? = nil
  /// Whether something holds a port, when `report` does not carry the sockets.
  package var held: Bool? = nil
  /// Each holder's project; `nil` leaves the `project` field out (a listing that did not
  /// read them).
  package var projects: [PID: Project]? = nil
  /// `--host`'s machine; `nil` (null) for this one.
  package var host: String? = nil

  /// The document of `who`, `why` or `list` (`command`).
  package init(
    command: String, exitCode: Int32, query: [PortSpec]?, report: PortReport, excluded: [ExcludedPortHit] = [],
    provenance: [PID: Provenance]? = nil, held: Bool? = nil, projects: [PID: Project]? = nil, host: String? = nil
  ) {
    self.command = command
    self.exitCode = exitCode
    self.query = query
    self.report = report
    self.excluded = excluded
    self.provenance = provenance
    self.held = held
    self.projects = projects
    self.host = host
  }

  package enum CodingKeys: String, CodingKey {
    case schemaVersion, command, host, exitCode, error, held, query, sockets, uninspectableProcesses, excludedRanges
  }
  package enum ExcludedKeys: String, CodingKey {
    case proto = "protocol", spec, firstPort, lastPort, administered, advice
  }

  package func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(JSONOutput.schemaVersion, forKey: .schemaVersion)
    try container.encode(command, forKey: .command)
    try container.encode(host, forKey: .host)
    try container.encode(exitCode, forKey: .exitCode)
    try container.encodeNil(forKey: .error)
    try container.encode(held ?? report.isHeld, forKey: .held)
    try container.encode(query.map { $0.map(SpecJSON.init) }, forKey: .query)
    try container.encode(
      report.sockets.map { SocketJSON($0, takenAt: report.takenAt, provenance: provenance, projects: projects) },
      forKey: .sockets)
    try container.encode(report.uninspectableCount, forKey: .uninspectableProcesses)
    var ranges = container.nestedUnkeyedContainer(forKey: .excludedRanges)
    for hit in excluded {
      var entry = ranges.nestedContainer(keyedBy: ExcludedKeys.self)
      try entry.encode(hit.proto.rawValue, forKey: .proto)
      try entry.encode(hit.spec.text, forKey: .spec)
      try entry.encode(hit.range.ports.lowerBound, forKey: .firstPort)
      try entry.encode(hit.range.ports.upperBound, forKey: .lastPort)
      try entry.encode(hit.range.administered, forKey: .administered)
      try entry.encode(hit.advice, forKey: .advice)
    }
  }
}

package struct SpecJSON: Encodable {
  package var text: String
  package var firstPort: UInt16
  package var lastPort: UInt16
  package var proto: String?
  package var address: String?

  package init(_ spec: PortSpec) {
    text = spec.text
    firstPort = spec.ports.lowerBound
    lastPort = spec.ports.upperBound
    proto = spec.proto?.rawValue
    address = spec.address?.description
  }

  package enum CodingKeys: String, CodingKey { case text, firstPort, lastPort, proto = "protocol", address }

  package func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(text, forKey: .text)
    try container.encode(firstPort, forKey: .firstPort)
    try container.encode(lastPort, forKey: .lastPort)
    try container.encode(proto, forKey: .proto)
    try container.encode(address, forKey: .address)
  }
}

package struct SocketJSON: Encodable {
  package var entry: SocketReport
  package var takenAt: Double
  package var provenance: [PID: Provenance]?
  package var projects: [PID: Project]?

  package init(
    _ entry: SocketReport, takenAt: Double, provenance: [PID: Provenance]? = nil, projects: [PID: Project]? = nil
  ) {
    self.entry = entry
    self.takenAt = takenAt
    self.provenance = provenance
    self.projects = projects
  }

  package enum CodingKeys: String, CodingKey {
    case proto = "protocol", family, localAddress, localPort, addressScope, remoteAddress, remotePort
    case state, listening, uid, id, v6Only, timer, owner, hiddenOwner, unseenHolders, processes
  }
  package enum TimerKeys: String, CodingKey { case kind, remainingSeconds }
  package enum HiddenKeys: String, CodingKey { case uid, user, reason, advice, candidates }
  package enum CandidateKeys: String, CodingKey { case pid, name, command }

  package func encode(to encoder: any Encoder) throws {
    let socket = entry.socket
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(socket.proto.rawValue, forKey: .proto)
    try container.encode(socket.family.rawValue, forKey: .family)
    try container.encode(socket.local.address.description, forKey: .localAddress)
    try container.encode(socket.local.port, forKey: .localPort)
    try container.encode(socket.local.address.scope.rawValue, forKey: .addressScope)
    try container.encode(socket.remote?.address.description, forKey: .remoteAddress)
    try container.encode(socket.remote?.port, forKey: .remotePort)
    try container.encode(socket.state.rawValue, forKey: .state)
    try container.encode(socket.isListener, forKey: .listening)
    try container.encode(socket.uid, forKey: .uid)
    try container.encode(socket.id, forKey: .id)
    try container.encode(socket.v6Only, forKey: .v6Only)
    if let timer = socket.timer {
      var nested = container.nestedContainer(keyedBy: TimerKeys.self, forKey: .timer)
      try nested.encode(timer.kind.rawValue, forKey: .kind)
      try nested.encode(timer.remainingSeconds, forKey: .remainingSeconds)
    } else {
      try container.encodeNil(forKey: .timer)
    }
    let ownerKind: String
    switch entry.owner {
    case .processes: ownerKind = "processes"
    case .hidden: ownerKind = "hidden"
    case .kernel: ownerKind = "kernel"
    case .none: ownerKind = "none"
    }
    try container.encode(ownerKind, forKey: .owner)
    func encode(_ hidden: HiddenOwner?, advice: (HiddenOwner) -> String, forKey key: CodingKeys) throws {
      guard let hidden else { return try container.encodeNil(forKey: key) }
      var nested = container.nestedContainer(keyedBy: HiddenKeys.self, forKey: key)
      try nested.encode(hidden.uid, forKey: .uid)
      try nested.encode(hidden.user, forKey: .user)
      try nested.encode(hidden.reason.rawValue, forKey: .reason)
      try nested.encode(advice(hidden), forKey: .advice)
      var candidates = nested.nestedUnkeyedContainer(forKey: .candidates)
      for candidate in hidden.candidates {
        var entry = candidates.nestedContainer(keyedBy: CandidateKeys.self)
        try entry.encode(candidate.pid, forKey: .pid)
        try entry.encode(candidate.name, forKey: .name)
        try entry.encode(candidate.displayCommand, forKey: .command)
      }
    }
    if case .hidden(let hidden) = entry.owner {
      try encode(hidden, advice: \.advice, forKey: .hiddenOwner)
    } else {
      try container.encodeNil(forKey: .hiddenOwner)
    }
    try encode(entry.unseenHolders, advice: \.alsoHeldAdvice, forKey: .unseenHolders)
    try container.encode(
      entry.owner.holders.map { holder in
        let project: Project?? = projects.map { known in known[holder.process.pid] }
        return ProcessJSON(
          holder, takenAt: takenAt, socket: socket, provenance: provenance?[holder.process.pid],
          withProvenance: provenance != nil, project: project)
      }, forKey: .processes)
  }
}

package struct ProcessJSON: Encodable {
  package var holder: HolderProcess
  package var takenAt: Double
  package var socket: SocketEntry
  package var provenance: Provenance?
  package var withProvenance: Bool
  /// The holder's project: `.some(nil)` writes `"project": null`, `nil` leaves the field out.
  package var project: Project??

  package init(
    _ holder: HolderProcess, takenAt: Double, socket: SocketEntry, provenance: Provenance? = nil,
    withProvenance: Bool = false, project: Project?? = nil
  ) {
    self.holder = holder
    self.takenAt = takenAt
    self.socket = socket
    self.provenance = provenance
    self.withProvenance = withProvenance
    self.project = project
  }

  package enum CodingKeys: String, CodingKey {
    case pid, ppid, uid, user, name, command, commandLine, executable, cwd, startTime, uptimeSeconds
    case fds, role, sharesWith, services, hint, ancestry, managers, server, project
  }
  package enum ProjectKeys: String, CodingKey { case root, name, markers, branch, detachedCommit, framework }
  package enum AncestorKeys: String, CodingKey { case pid, ppid, name, command, startTime }
  package enum ManagerKeys: String, CodingKey { case kind, name, detail, stop, evidence, selfReported }

  package func encode(to encoder: any Encoder) throws {
    let process = holder.process
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(process.pid, forKey: .pid)
    try container.encode(process.ppid, forKey: .ppid)
    try container.encode(process.uid, forKey: .uid)
    try container.encode(process.user, forKey: .user)
    try container.encode(process.name, forKey: .name)
    try container.encode(process.displayCommand, forKey: .command)
    try container.encode(process.commandLine, forKey: .commandLine)
    try container.encode(process.executable, forKey: .executable)
    try container.encode(process.workingDirectory, forKey: .cwd)
    try container.encode(process.startTime.map(JSONOutput.iso8601), forKey: .startTime)
    try container.encode(process.startTime.map { max(0, takenAt - $0) }, forKey: .uptimeSeconds)
    try container.encode(holder.fds, forKey: .fds)
    try container.encode(holder.role.rawValue, forKey: .role)
    try container.encode(holder.sharesWith, forKey: .sharesWith)
    try container.encode(process.services, forKey: .services)
    try container.encode(HolderHints.hint(for: process, socket: socket), forKey: .hint)
    if let project {
      if let project {
        var item = container.nestedContainer(keyedBy: ProjectKeys.self, forKey: .project)
        try item.encode(project.root, forKey: .root)
        try item.encode(project.name, forKey: .name)
        try item.encode(project.markers, forKey: .markers)
        try item.encode(project.branch, forKey: .branch)
        try item.encode(project.detachedCommit, forKey: .detachedCommit)
        try item.encode(project.framework, forKey: .framework)
      } else {
        try container.encodeNil(forKey: .project)
      }
    }
    guard withProvenance else { return }
    var ancestry = container.nestedUnkeyedContainer(forKey: .ancestry)
    for ancestor in provenance?.ancestry ?? [] {
      var item = ancestry.nestedContainer(keyedBy: AncestorKeys.self)
      try item.encode(ancestor.pid, forKey: .pid)
      try item.encode(ancestor.ppid, forKey: .ppid)
      try item.encode(ancestor.name, forKey: .name)
      try item.encode(ancestor.displayCommand, forKey: .command)
      try item.encode(ancestor.startTime.map(JSONOutput.iso8601), forKey: .startTime)
    }
    var managers = container.nestedUnkeyedContainer(forKey: .managers)
    for manager in provenance?.managers ?? [] {
      var item = managers.nestedContainer(keyedBy: ManagerKeys.self)
      try item.encode(manager.kind.rawValue, forKey: .kind)
      try item.encode(manager.name, forKey: .name)
      try item.encode(manager.detail, forKey: .detail)
      try item.encode(manager.stop, forKey: .stop)
      try item.encode(manager.evidence.rawValue, forKey: .evidence)
      try item.encode(manager.evidence.isSelfReported, forKey: .selfReported)
    }
    try container.encode(provenance?.server.map(ServerJSON.init), forKey: .server)
  }
}
